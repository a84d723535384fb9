//! Connections, settings, merchants and their keys, branding and idempotency keys.

use std::time::Duration;

use sqlx::Row;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_with_names_the_backend_and_an_unreachable_server_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::connect_with(
        &format!("sqlite://{}/sub/c.db", dir.path().display()),
        2,
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    assert_eq!(s.backend(), Backend::Sqlite);
    s.ping().await.unwrap();
    assert_eq!(s.begin().await.unwrap().backend(), Backend::Sqlite);
    s.close().await;
    if let Ok(url) = std::env::var("KASSA_TEST_POSTGRES_URL") {
        let s = Store::connect_with(&url, 2, Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(s.backend(), Backend::Postgres);
        s.ping().await.unwrap();
        assert_eq!(s.begin().await.unwrap().backend(), Backend::Postgres);
        s.close().await;
        // Nothing listens on port 1.
        let err = Store::connect_with(
            "postgres://postgres@127.0.0.1:1/test",
            2,
            Duration::from_millis(500),
        )
        .await
        .unwrap_err();
        assert!(err.is_unavailable(), "{err}");
    }
    assert!(matches!(
        Store::connect_with("mysql://x/y", 1, Duration::from_secs(1)).await,
        Err(StoreError::UnsupportedUrl)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_merchants_and_api_keys() {
    for (s, pg, _dir) in stores().await {
        s.ping().await.unwrap();
        // Settings: absent, written, overwritten.
        assert_eq!(s.setting("x").await.unwrap(), None);
        let mut tx = s.begin().await.unwrap();
        tx.put_setting("x", "1").await.unwrap();
        tx.put_setting("y", "2").await.unwrap();
        tx.put_setting("x", "3").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(s.setting("x").await.unwrap().as_deref(), Some("3"));
        assert_eq!(s.setting("y").await.unwrap().as_deref(), Some("2"));
        // A setting written in a transaction rolled back is not there.
        let mut tx = s.begin().await.unwrap();
        tx.put_setting("z", "1").await.unwrap();
        drop(tx);
        assert_eq!(s.setting("z").await.unwrap(), None);

        let a = Merchant {
            id: "acct_a".into(),
            name: "Shop A".into(),
            created_at: 11,
        };
        let b = Merchant {
            id: "acct_b".into(),
            name: "Shop B".into(),
            created_at: 12,
        };
        let (a_test, b_test) = (Scope::test(&a.id), Scope::test(&b.id));
        let mut tx = s.begin().await.unwrap();
        tx.insert_merchant(&a).await.unwrap();
        tx.insert_merchant(&b).await.unwrap();
        tx.insert_api_key(&a_test, "h_secret", "secret", "sk_…abcd", 20)
            .await
            .unwrap();
        tx.insert_api_key(&a_test, "h_pk_new", "publishable", "pk_new", 30)
            .await
            .unwrap();
        tx.insert_api_key(&a_test, "h_pk_old", "publishable", "pk_old", 25)
            .await
            .unwrap();
        tx.insert_api_key(&b_test, "h_b", "secret", "sk_b", 20)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(s.merchant("acct_a").await.unwrap(), Some(a.clone()));
        assert_eq!(s.merchant("acct_none").await.unwrap(), None);
        assert_eq!(
            s.merchant_by_key_hash("h_secret").await.unwrap(),
            Some((a.clone(), "secret".to_string(), Mode::Test))
        );
        assert_eq!(
            s.merchant_by_key_hash("h_pk_new").await.unwrap(),
            Some((a.clone(), "publishable".to_string(), Mode::Test))
        );
        assert_eq!(
            s.merchant_by_key_hash("h_b").await.unwrap(),
            Some((b.clone(), "secret".to_string(), Mode::Test))
        );
        assert_eq!(s.merchant_by_key_hash("h_none").await.unwrap(), None);
        // The oldest publishable key still in force; none for a merchant without one.
        assert_eq!(
            s.publishable_key(&a_test).await.unwrap().as_deref(),
            Some("pk_old")
        );
        assert_eq!(s.publishable_key(&b_test).await.unwrap(), None);
        // A revoked key opens nothing and is not shown.
        sqlx::query("UPDATE api_keys SET revoked_at = 40 WHERE key_hash = $1")
            .bind("h_pk_old")
            .execute(&s.writer)
            .await
            .unwrap();
        assert_eq!(s.merchant_by_key_hash("h_pk_old").await.unwrap(), None);
        assert_eq!(
            s.publishable_key(&a_test).await.unwrap().as_deref(),
            Some("pk_new")
        );
        // A key hash and a merchant id are taken once.
        let mut tx = s.begin().await.unwrap();
        assert!(tx
            .insert_api_key(&b_test, "h_secret", "secret", "x", 50)
            .await
            .is_err());
        drop(tx);
        let mut tx = s.begin().await.unwrap();
        assert!(tx.insert_merchant(&a).await.is_err());
        drop(tx);
        assert_eq!(
            s.merchant_by_key_hash("h_secret").await.unwrap().unwrap().0,
            a
        );
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brandings_per_scope_and_logos_deleted_only_when_unused() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await.merchant_id;
        let b = new_merchant(&s, "b").await.merchant_id;
        let logo = |id: &str, m: &str| Logo {
            id: id.into(),
            merchant_id: m.into(),
            png_base64: "iVBORw0KGgo=".into(),
            width: 64,
            height: 32,
            created_at: 5,
        };
        let mine = BrandingRow {
            merchant_id: a.clone(),
            scope: "merchant".into(),
            display_name: Some("Shop A".into()),
            accent_color: Some("#112233".into()),
            logo_id: Some("logo_1".into()),
            updated_at: 10,
        };
        let project = BrandingRow {
            merchant_id: a.clone(),
            scope: "pw:pwp_1".into(),
            display_name: None,
            accent_color: Some("#445566".into()),
            logo_id: None,
            updated_at: 11,
        };
        let theirs = BrandingRow {
            merchant_id: b.clone(),
            scope: "merchant".into(),
            display_name: Some("Shop B".into()),
            ..BrandingRow::default()
        };
        let mut tx = s.begin().await.unwrap();
        tx.insert_logo(&logo("logo_1", &a)).await.unwrap();
        tx.insert_logo(&logo("logo_2", &a)).await.unwrap();
        tx.insert_logo(&logo("logo_b", &b)).await.unwrap();
        tx.put_branding(&mine).await.unwrap();
        tx.put_branding(&project).await.unwrap();
        tx.put_branding(&theirs).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(s.logo("logo_1").await.unwrap(), Some(logo("logo_1", &a)));
        assert_eq!(s.logo("logo_none").await.unwrap(), None);
        // In the order asked; missing scopes absent; only this merchant's.
        assert_eq!(
            s.brandings(&a, &["pw:pwp_1", "pm:7", "merchant"])
                .await
                .unwrap(),
            [project.clone(), mine.clone()]
        );
        assert_eq!(
            s.brandings(&b, &["merchant", "pw:pwp_1"]).await.unwrap(),
            vec![theirs.clone()]
        );
        assert!(s.brandings(&a, &[]).await.unwrap().is_empty());
        // Writing a scope again replaces every field, clearing what is now None.
        let replaced = BrandingRow {
            display_name: None,
            accent_color: Some("#000000".into()),
            logo_id: Some("logo_2".into()),
            updated_at: 20,
            ..mine.clone()
        };
        let mut tx = s.begin().await.unwrap();
        tx.put_branding(&replaced).await.unwrap();
        // A logo still pointed at stays; an unused one goes; another merchant's stays.
        tx.delete_logo_if_unused(&a, "logo_2").await.unwrap();
        tx.delete_logo_if_unused(&a, "logo_1").await.unwrap();
        tx.delete_logo_if_unused(&a, "logo_b").await.unwrap();
        tx.delete_logo_if_unused(&a, "logo_none").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            s.brandings(&a, &["merchant"]).await.unwrap(),
            vec![replaced.clone()]
        );
        assert!(s.logo("logo_2").await.unwrap().is_some());
        assert_eq!(s.logo("logo_1").await.unwrap(), None);
        assert!(s.logo("logo_b").await.unwrap().is_some());
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_complete_in_the_effects_transaction_sealed_released_and_purged() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let b = new_merchant(&s, "b").await;
        let s = s.seal_idempotent_responses(kassa_core::secret_box::SecretBox::new(&[7u8; 32]));
        let begin = |m: &Scope, key: &str, hash: &str, now: i64| {
            let (s, m, key, hash) = (s.clone(), m.clone(), key.to_string(), hash.to_string());
            async move {
                s.idempotency_begin(&m, &key, &hash, now, 100, 1_000)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(begin(&a, "k", "h", 0).await, IdemBegin::Proceed);
        // Keys are per merchant.
        assert_eq!(begin(&b, "k", "other", 0).await, IdemBegin::Proceed);
        // Completed in a transaction rolled back: still in progress.
        let mut tx = s.begin().await.unwrap();
        tx.complete_idempotency(&a, "k", 201, "{\"secret\":\"whsec_1\"}")
            .await
            .unwrap();
        drop(tx);
        assert_eq!(begin(&a, "k", "h", 10).await, IdemBegin::InProgress);
        let mut tx = s.begin().await.unwrap();
        tx.complete_idempotency(&a, "k", 201, "{\"secret\":\"whsec_1\"}")
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let replay = IdemBegin::Replay {
            status: 201,
            body: "{\"secret\":\"whsec_1\"}".into(),
        };
        assert_eq!(begin(&a, "k", "h", 20).await, replay);
        let stored: String = sqlx::query(
            "SELECT response_body FROM idempotency_keys WHERE merchant_id = $1 AND idem_key = $2",
        )
        .bind(&a.merchant_id)
        .bind("k")
        .fetch_one(&s.reader)
        .await
        .unwrap()
        .get(0);
        assert!(!stored.contains("whsec_1"), "sealed at rest");
        // Completing again changes nothing; neither does releasing a finished key.
        s.idempotency_complete(&a, "k", 500, "{}").await.unwrap();
        s.idempotency_release(&a, "k").await.unwrap();
        assert_eq!(begin(&a, "k", "h", 30).await, replay);
        // Released while in progress: the next request proceeds, with any body.
        s.idempotency_release(&b, "k").await.unwrap();
        assert_eq!(begin(&b, "k", "new", 30).await, IdemBegin::Proceed);
        // Completed outside a transaction, then sealed too.
        s.idempotency_complete(&b, "k", 200, "{\"ok\":true}")
            .await
            .unwrap();
        assert_eq!(
            begin(&b, "k", "new", 40).await,
            IdemBegin::Replay {
                status: 200,
                body: "{\"ok\":true}".into()
            }
        );
        // Purging deletes keys made before the cutoff only.
        assert_eq!(begin(&a, "late", "h", 50).await, IdemBegin::Proceed);
        assert_eq!(
            s.purge_idempotency_keys(30).await.unwrap(),
            1,
            "(a, k) of 0"
        );
        assert_eq!(begin(&a, "k", "other", 60).await, IdemBegin::Proceed);
        assert_eq!(begin(&a, "late", "h", 60).await, IdemBegin::InProgress);
        assert_eq!(s.purge_idempotency_keys(1_000).await.unwrap(), 3);
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_proceed_once_then_replay_or_refuse() {
    for (s, pg, _dir) in stores().await {
        let pi = merchant_and_paid_intent(&s, 1).await;
        let m = &pi.scope();
        assert_eq!(
            s.idempotency_begin(m, "k", "h1", 0, 100, 1_000)
                .await
                .unwrap(),
            IdemBegin::Proceed
        );
        assert_eq!(
            s.idempotency_begin(m, "k", "h1", 10, 100, 1_000)
                .await
                .unwrap(),
            IdemBegin::InProgress
        );
        assert_eq!(
            s.idempotency_begin(m, "k", "h2", 10, 100, 1_000)
                .await
                .unwrap(),
            IdemBegin::Mismatch
        );
        s.idempotency_complete(m, "k", 200, "{\"a\":1}")
            .await
            .unwrap();
        assert_eq!(
            s.idempotency_begin(m, "k", "h1", 20, 100, 1_000)
                .await
                .unwrap(),
            IdemBegin::Replay {
                status: 200,
                body: "{\"a\":1}".into()
            }
        );
        // Past retention the key is new again.
        assert_eq!(
            s.idempotency_begin(m, "k", "h2", 5_000, 100, 1_000)
                .await
                .unwrap(),
            IdemBegin::Proceed
        );
        // An abandoned in-progress key can be taken over after its lock.
        assert_eq!(
            s.idempotency_begin(m, "z", "h", 0, 100, 1_000)
                .await
                .unwrap(),
            IdemBegin::Proceed
        );
        assert_eq!(
            s.idempotency_begin(m, "z", "h", 500, 100, 1_000)
                .await
                .unwrap(),
            IdemBegin::Proceed
        );
        cleanup(s, pg).await;
    }
}
