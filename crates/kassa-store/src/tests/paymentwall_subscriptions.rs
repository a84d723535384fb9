//! Paymentwall subscriptions and delivery confirmations.

use super::paymentwall::{order, project};
use super::*;

fn subscription(
    p: &PwProject,
    id: &str,
    initial: &str,
    core: Option<&str>,
    created: i64,
) -> PwSubscription {
    PwSubscription {
        id: id.into(),
        project_id: p.id.clone(),
        merchant_id: p.merchant_id.clone(),
        initial_order_id: initial.into(),
        uid: "u1".into(),
        status: "active".into(),
        plan: "{\"main\":{\"name\":\"Gold\"}}".into(),
        phase: "trial".into(),
        payments: 1,
        failed_attempts: 0,
        clock_offset_ms: 0,
        is_test: true,
        created_at: created,
        updated_at: created,
        version: 0,
        subscription_id: core.map(Into::into),
        livemode: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_update_from_the_version_read_and_find_their_paid_orders() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let p = project(&a.merchant_id, "pwp_1", "key_1", 1);
        let q = project(&a.merchant_id, "pwp_2", "key_2", 2);
        let intents: Vec<PaymentIntent> = (1..=5)
            .map(|n| new_intent(&a, &format!("pi_{n}"), n))
            .collect();
        insert_intents(&s, &intents.iter().collect::<Vec<_>>()).await;
        let first = order(&p, "pwo_1", "pi_1", "u1", 10);
        let renewal = order(&p, "pwo_2", "pi_2", "u1", 20);
        let unpaid = order(&p, "pwo_3", "pi_3", "u1", 30);
        let q_order = order(&q, "pwo_q", "pi_4", "u1", 40);
        let sub = subscription(&p, "pws_1", "pwo_1", Some("sub_core"), 50);
        let legacy = subscription(&p, "pws_0", "pwo_1", None, 40);
        let other = subscription(&q, "pws_q", "pwo_q", Some("sub_q"), 60);
        let mut tx = s.begin().await.unwrap();
        tx.insert_pw_project(&p).await.unwrap();
        tx.insert_pw_project(&q).await.unwrap();
        for o in [&first, &renewal, &unpaid, &q_order] {
            tx.insert_pw_order(o).await.unwrap();
        }
        for x in [&sub, &legacy, &other] {
            tx.insert_pw_subscription(x).await.unwrap();
        }
        assert_eq!(
            tx.pw_subscription("pws_1").await.unwrap(),
            Some(sub.clone())
        );
        assert_eq!(tx.pw_subscription("pws_none").await.unwrap(), None);
        assert_eq!(
            tx.pw_subscription_of_core("sub_core").await.unwrap(),
            Some(sub.clone())
        );
        assert_eq!(tx.pw_subscription_of_core("sub_none").await.unwrap(), None);
        // Orders paid for the subscription; the unpaid one never counts.
        for (o, r) in [
            ("pwo_1", Some("r1")),
            ("pwo_2", Some("r2")),
            ("pwo_3", None),
        ] {
            tx.set_pw_order_subscription(o, "pws_1").await.unwrap();
            if let Some(r) = r {
                assert!(tx.set_pw_order_ref(o, r).await.unwrap());
            }
        }
        assert_eq!(
            tx.pw_last_paid_order_of_subscription("pws_1")
                .await
                .unwrap()
                .map(|o| o.id),
            Some("pwo_2".to_string())
        );
        tx.commit().await.unwrap();
        assert_eq!(
            s.pw_subscription("pws_0").await.unwrap(),
            Some(legacy.clone())
        );
        assert_eq!(s.pw_subscription("pws_none").await.unwrap(), None);
        let last = s
            .pw_last_paid_order_of_subscription("pws_1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                last.id.as_str(),
                last.subscription_id.as_deref(),
                last.r#ref.as_deref()
            ),
            ("pwo_2", Some("pws_1"), Some("r2"))
        );
        assert_eq!(
            s.pw_last_paid_order_of_subscription("pws_q").await.unwrap(),
            None
        );
        assert_eq!(
            s.pw_order("pwo_3")
                .await
                .unwrap()
                .unwrap()
                .subscription_id
                .as_deref(),
            Some("pws_1")
        );
        let of_p: Vec<String> = s
            .pw_subscriptions_of_project("pwp_1", false)
            .await
            .unwrap()
            .into_iter()
            .map(|x| x.id)
            .collect();
        assert_eq!(of_p, ["pws_0", "pws_1"], "oldest first");
        assert_eq!(
            s.pw_subscriptions_of_project("pwp_2", false).await.unwrap(),
            vec![other.clone()]
        );

        // Written from the version read: the state fields change and the version goes up.
        let mut tx = s.begin().await.unwrap();
        let mut x = tx.pw_subscription("pws_1").await.unwrap().unwrap();
        let stale = x.clone();
        x.status = "cancelled".into();
        x.phase = "main".into();
        x.payments = 3;
        x.failed_attempts = 2;
        x.clock_offset_ms = 86_400_000;
        x.updated_at = 70;
        tx.update_pw_subscription(&mut x).await.unwrap();
        assert_eq!(x.version, 1);
        let mut stale = stale;
        assert!(matches!(
            tx.update_pw_subscription(&mut stale).await,
            Err(StoreError::Conflict)
        ));
        assert_eq!(stale.version, 0);
        tx.commit().await.unwrap();
        assert_eq!(s.pw_subscription("pws_1").await.unwrap(), Some(x.clone()));
        let mut missing = subscription(&p, "pws_none", "pwo_1", None, 1);
        let mut tx = s.begin().await.unwrap();
        assert!(matches!(
            tx.update_pw_subscription(&mut missing).await,
            Err(StoreError::Conflict)
        ));
        drop(tx);
        // One Paymentwall face per core subscription.
        let mut tx = s.begin().await.unwrap();
        assert!(tx
            .insert_pw_subscription(&subscription(&p, "pws_dup", "pwo_1", Some("sub_core"), 80))
            .await
            .is_err());
        drop(tx);
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_confirmations_are_listed_per_project_and_reference_in_order() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let p = project(&a.merchant_id, "pwp_1", "key_1", 1);
        let q = project(&a.merchant_id, "pwp_2", "key_2", 2);
        let dc =
            |id: &str, project: &str, r: &str, status: &str, created: i64| PwDeliveryConfirmation {
                id: id.into(),
                project_id: project.into(),
                payment_ref: r.into(),
                status: status.into(),
                payload: format!("{{\"status\":\"{status}\"}}"),
                created_at: created,
            };
        let delivered = dc("dc_2", "pwp_1", "r1", "delivered", 20);
        let order_placed = dc("dc_1", "pwp_1", "r1", "order_placed", 10);
        let same_time = dc("dc_3", "pwp_1", "r1", "order_shipped", 20);
        let mut tx = s.begin().await.unwrap();
        tx.insert_pw_project(&p).await.unwrap();
        tx.insert_pw_project(&q).await.unwrap();
        for d in [
            &delivered,
            &order_placed,
            &same_time,
            &dc("dc_4", "pwp_1", "r2", "delivered", 5),
            &dc("dc_5", "pwp_2", "r1", "delivered", 5),
        ] {
            tx.insert_pw_delivery_confirmation(d).await.unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(
            s.pw_delivery_confirmations("pwp_1", "r1").await.unwrap(),
            [order_placed, delivered, same_time],
            "oldest first, then id"
        );
        assert_eq!(
            s.pw_delivery_confirmations("pwp_2", "r1")
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(s
            .pw_delivery_confirmations("pwp_1", "r9")
            .await
            .unwrap()
            .is_empty());
        cleanup(s, pg).await;
    }
}
