//! Processor accounts: one active per merchant and mode, removal, and the mode and tenant walls.

use super::*;

fn account(scope: &Scope, id: &str, created: i64) -> ProcessorAccount {
    ProcessorAccount {
        id: id.into(),
        merchant_id: scope.merchant_id.clone(),
        livemode: scope.livemode,
        connector: "stripe".into(),
        credentials_enc: "sealed".into(),
        display: r#"{"secret_key":"sk_live_…abcd"}"#.into(),
        status: "active".into(),
        created_at: created,
        removed_at: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_active_account_per_merchant_and_mode() {
    for (s, pg, _dir) in stores().await {
        let test = new_merchant(&s, "a").await;
        let live = Scope::live(&test.merchant_id);
        let other = Scope::live(new_merchant(&s, "b").await.merchant_id);
        let first = account(&live, "pa_1", 10);
        let mut tx = s.begin().await.unwrap();
        tx.insert_processor_account(&first).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            s.active_processor_account(&live).await.unwrap(),
            Some(first.clone())
        );
        assert_eq!(
            s.processor_account_by_id("pa_1").await.unwrap(),
            Some(first.clone())
        );
        // Neither the test mode of the same merchant nor another merchant sees it.
        assert_eq!(s.active_processor_account(&test).await.unwrap(), None);
        assert_eq!(s.processor_account(&test, "pa_1").await.unwrap(), None);
        assert_eq!(s.processor_account(&other, "pa_1").await.unwrap(), None);
        assert!(s.processor_accounts(&other).await.unwrap().is_empty());
        // A second active one in the same scope conflicts; another merchant may have its own.
        let mut tx = s.begin().await.unwrap();
        assert!(matches!(
            tx.insert_processor_account(&account(&live, "pa_2", 20))
                .await,
            Err(StoreError::Conflict)
        ));
        drop(tx);
        let mut tx = s.begin().await.unwrap();
        tx.insert_processor_account(&account(&other, "pa_3", 20))
            .await
            .unwrap();
        // Only the owner in its mode removes it, and only once.
        assert!(!tx
            .remove_processor_account(&test, "pa_1", 30)
            .await
            .unwrap());
        assert!(!tx
            .remove_processor_account(&other, "pa_1", 30)
            .await
            .unwrap());
        assert!(tx
            .remove_processor_account(&live, "pa_1", 30)
            .await
            .unwrap());
        assert!(!tx
            .remove_processor_account(&live, "pa_1", 31)
            .await
            .unwrap());
        tx.commit().await.unwrap();
        assert_eq!(s.active_processor_account(&live).await.unwrap(), None);
        let removed = s.processor_account(&live, "pa_1").await.unwrap().unwrap();
        assert_eq!(
            (removed.status.as_str(), removed.removed_at),
            ("removed", Some(30))
        );
        // After removal a new one may be added; the list is newest first.
        let mut tx = s.begin().await.unwrap();
        tx.insert_processor_account(&account(&live, "pa_4", 40))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let ids: Vec<String> = s
            .processor_accounts(&live)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(ids, ["pa_4", "pa_1"]);
        cleanup(s, pg).await;
    }
}
