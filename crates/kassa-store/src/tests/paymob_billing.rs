//! Paymob saved cards, plans and subscriptions.

use super::paymob::{pm_order, profile};
use super::*;

fn card(id: i64, profile_id: i64, order_id: i64) -> PmCardToken {
    PmCardToken {
        id,
        profile_id,
        token_hash: format!("th_{id}"),
        token_enc: format!("v1:tok_{id}"),
        order_id,
        processor_ref: format!("sbx_{id}"),
        obj: format!("{{\"id\":{id},\"masked_pan\":\"xxxx-4242\"}}"),
        created_at: id,
        customer_id: None,
        payment_method_id: None,
    }
}

fn plan(id: i64, profile_id: i64) -> PmPlan {
    PmPlan {
        id,
        profile_id,
        doc: format!("{{\"name\":\"plan {id}\",\"amount_cents\":1000}}"),
        created_at: id,
        updated_at: id,
    }
}

fn sub(id: i64, profile_id: i64, plan_id: i64, core: Option<&str>) -> PmSubscription {
    PmSubscription {
        id,
        profile_id,
        plan_id,
        subscription_id: core.map(Into::into),
        version: 0,
        doc: format!("{{\"id\":{id},\"state\":\"active\"}}"),
        created_at: id,
        updated_at: id,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_cards_are_found_by_hash_id_and_order() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await.merchant_id;
        let mut full = card(8_555_002, 1, 100);
        full.customer_id = Some("cus_1".into());
        full.payment_method_id = Some("pm_1".into());
        let mut tx = s.begin().await.unwrap();
        tx.insert_pm_profile(&profile(&a, 1)).await.unwrap();
        for o in [100, 200] {
            assert!(tx.insert_pm_order(&pm_order(1, o, None)).await.unwrap());
        }
        for c in [&full, &card(8_555_001, 1, 100), &card(8_555_003, 1, 200)] {
            tx.insert_pm_card_token(c).await.unwrap();
        }
        assert_eq!(
            tx.pm_card_token(8_555_002).await.unwrap(),
            Some(full.clone())
        );
        assert_eq!(tx.pm_card_token(1).await.unwrap(), None);
        tx.commit().await.unwrap();
        assert_eq!(
            s.pm_card_token(8_555_002).await.unwrap(),
            Some(full.clone())
        );
        assert_eq!(s.pm_card_token(1).await.unwrap(), None);
        assert_eq!(
            s.pm_card_token_by_hash("th_8555002").await.unwrap(),
            Some(full.clone())
        );
        assert_eq!(
            s.pm_card_token_by_hash("v1:tok_8555002").await.unwrap(),
            None
        );
        let of_order: Vec<i64> = s
            .pm_card_tokens_of_order(100)
            .await
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(of_order, [8_555_001, 8_555_002], "by id");
        assert_eq!(
            s.pm_card_tokens_of_order(200).await.unwrap(),
            [card(8_555_003, 1, 200)]
        );
        assert!(s.pm_card_tokens_of_order(300).await.unwrap().is_empty());
        // A token is saved once.
        let mut tx = s.begin().await.unwrap();
        let mut dup = card(8_555_009, 1, 100);
        dup.token_hash = full.token_hash.clone();
        assert!(tx.insert_pm_card_token(&dup).await.is_err());
        drop(tx);
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_and_subscriptions_round_trip_and_update_from_the_version_read() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await.merchant_id;
        let mut tx = s.begin().await.unwrap();
        tx.insert_pm_profile(&profile(&a, 1)).await.unwrap();
        tx.insert_pm_profile(&profile(&a, 2)).await.unwrap();
        for p in [plan(1_002, 1), plan(1_001, 1), plan(1_003, 2)] {
            tx.insert_pm_plan(&p).await.unwrap();
        }
        let full = sub(1_201, 1, 1_001, Some("sub_core"));
        for x in [
            &full,
            &sub(1_202, 1, 1_002, None),
            &sub(1_203, 2, 1_003, Some("sub_2")),
        ] {
            tx.insert_pm_subscription(x).await.unwrap();
        }
        assert_eq!(tx.pm_subscription(1_201).await.unwrap(), Some(full.clone()));
        assert_eq!(tx.pm_subscription(1).await.unwrap(), None);
        assert_eq!(
            tx.pm_subscription_of_core("sub_core").await.unwrap(),
            Some(full.clone())
        );
        assert_eq!(tx.pm_subscription_of_core("sub_none").await.unwrap(), None);
        tx.commit().await.unwrap();

        assert_eq!(s.pm_plan(1_001).await.unwrap(), Some(plan(1_001, 1)));
        assert_eq!(s.pm_plan(1).await.unwrap(), None);
        assert_eq!(
            s.pm_plans_of(1).await.unwrap(),
            [plan(1_001, 1), plan(1_002, 1)]
        );
        assert_eq!(s.pm_plans_of(2).await.unwrap(), [plan(1_003, 2)]);
        assert!(s.pm_plans_of(3).await.unwrap().is_empty());
        assert_eq!(s.pm_subscription(1_201).await.unwrap(), Some(full.clone()));
        assert_eq!(s.pm_subscription(1).await.unwrap(), None);
        let of_1: Vec<i64> = s
            .pm_subscriptions_of(1)
            .await
            .unwrap()
            .iter()
            .map(|x| x.id)
            .collect();
        assert_eq!(of_1, [1_201, 1_202]);
        assert_eq!(s.pm_subscriptions_of(2).await.unwrap().len(), 1);
        assert!(s.pm_subscriptions_of(3).await.unwrap().is_empty());

        // A plan's document and time change; its profile does not.
        let mut p2 = plan(1_001, 1);
        p2.doc = "{\"is_active\":false}".into();
        p2.updated_at = 50;
        p2.profile_id = 2;
        let mut tx = s.begin().await.unwrap();
        tx.update_pm_plan(&p2).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            s.pm_plan(1_001).await.unwrap(),
            Some(PmPlan {
                doc: "{\"is_active\":false}".into(),
                updated_at: 50,
                ..plan(1_001, 1)
            })
        );
        assert_eq!(s.pm_plans_of(2).await.unwrap().len(), 1);

        // A subscription is written once from the version read; the loser learns it.
        let mut tx = s.begin().await.unwrap();
        let mut mine = tx.pm_subscription(1_201).await.unwrap().unwrap();
        let mut stale = mine.clone();
        mine.doc = "{\"state\":\"suspended\"}".into();
        mine.updated_at = 60;
        assert!(tx.update_pm_subscription(&mut mine).await.unwrap());
        assert_eq!(mine.version, 1);
        stale.doc = "{\"state\":\"canceled\"}".into();
        assert!(!tx.update_pm_subscription(&mut stale).await.unwrap());
        assert_eq!(stale.version, 0, "unchanged when not written");
        let mut missing = sub(1, 1, 1_001, None);
        assert!(!tx.update_pm_subscription(&mut missing).await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(s.pm_subscription(1_201).await.unwrap(), Some(mine.clone()));
        // One Paymob face per core subscription; a plan must exist.
        let mut tx = s.begin().await.unwrap();
        assert!(tx
            .insert_pm_subscription(&sub(1_204, 1, 1_001, Some("sub_core")))
            .await
            .is_err());
        drop(tx);
        let mut tx = s.begin().await.unwrap();
        assert!(tx
            .insert_pm_subscription(&sub(1_205, 1, 9, None))
            .await
            .is_err());
        drop(tx);
        cleanup(s, pg).await;
    }
}
