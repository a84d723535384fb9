//! Subscriptions, invoices and test clocks.

use kassa_core::money::Currency;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_at_a_time_bills_a_subscription_and_clocks_keep_their_own() {
    use kassa_core::invoice::Invoice;
    use kassa_core::subscription::{
        Interval, Item, Recurring, RetryPolicy, Subscription, SubscriptionStatus,
    };
    for (s, pg, _dir) in stores().await {
        let pi = merchant_and_paid_intent(&s, 100).await;
        let m = pi.merchant_id.clone();
        let usd = Currency::parse("usd").unwrap();
        let sub = |id: &str, clock: Option<&str>, next: i64, created: i64| Subscription {
            id: id.into(),
            merchant_id: m.clone(),
            customer: "cus_a".into(),
            test_clock: clock.map(Into::into),
            status: SubscriptionStatus::Active,
            default_payment_method: Some("pm_1".into()),
            items: vec![Item {
                id: "si_1".into(),
                product_name: "Pro".into(),
                currency: usd,
                unit_amount: 100,
                recurring: Recurring {
                    interval: Interval::Month,
                    interval_count: 1,
                },
                quantity: 1,
            }],
            currency: usd,
            billing_cycle_anchor: 0,
            cycle: 0,
            current_period_start: 0,
            current_period_end: next,
            trial_start: None,
            trial_end: Some(5),
            trial_will_end_sent: true,
            cancel_at_period_end: false,
            cancel_at: None,
            canceled_at: None,
            ended_at: None,
            latest_invoice: None,
            retry_at: None,
            retry_policy: RetryPolicy::default(),
            metadata: Metadata::new(),
            next_action_at: Some(next),
            created,
            updated: created,
            version: 0,
        };
        let mut tx = s.begin().await.unwrap();
        tx.insert_subscription(&sub("sub_wall", None, 100, 1))
            .await
            .unwrap();
        tx.insert_subscription(&sub("sub_later", None, 900, 2))
            .await
            .unwrap();
        tx.insert_subscription(&sub("sub_clock", Some("clock_1"), 50, 3))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            s.subscription(&m, "sub_wall").await.unwrap(),
            Some(sub("sub_wall", None, 100, 1))
        );
        // Due on the wall clock: only the one whose time came, not the clock's.
        let due = s.due_subscriptions(500, 10).await.unwrap();
        assert_eq!(due, [(m.clone(), "sub_wall".to_string())]);
        assert_eq!(
            s.next_due_on_clock("clock_1", 60).await.unwrap(),
            Some((m.clone(), "sub_clock".to_string(), 50))
        );
        assert_eq!(s.next_due_on_clock("clock_1", 40).await.unwrap(), None);
        // Two processes claim the same version: one wins; the lease hides it until it runs out.
        let mut tx = s.begin().await.unwrap();
        assert!(tx
            .claim_subscription("sub_wall", 0, 500, 10_000)
            .await
            .unwrap());
        tx.commit().await.unwrap();
        let mut tx = s.begin().await.unwrap();
        assert!(
            !tx.claim_subscription("sub_wall", 0, 500, 10_000)
                .await
                .unwrap(),
            "stale version"
        );
        assert!(
            !tx.claim_subscription("sub_wall", 1, 600, 10_000)
                .await
                .unwrap(),
            "leased"
        );
        drop(tx);
        assert!(s.due_subscriptions(600, 10).await.unwrap().is_empty());
        assert_eq!(
            s.due_subscriptions(10_001, 10).await.unwrap().len(),
            2,
            "lease ran out"
        );
        let mut tx = s.begin().await.unwrap();
        assert!(tx
            .claim_subscription("sub_wall", 1, 10_001, 20_000)
            .await
            .unwrap());
        // A write with a stale version is a conflict; releasing the lease frees it.
        let mut stale = sub("sub_wall", None, 100, 1);
        assert!(matches!(
            tx.update_subscription(&mut stale, None).await,
            Err(StoreError::Conflict)
        ));
        let mut fresh = tx.subscription(&m, "sub_wall").await.unwrap().unwrap();
        fresh.status = SubscriptionStatus::PastDue;
        tx.update_subscription(&mut fresh, None).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            s.due_subscriptions(600, 10).await.unwrap(),
            [(m.clone(), "sub_wall".to_string())]
        );
        // Lists page by customer; invoices by subscription or customer.
        let page = s
            .list_subscriptions(&m, Some("cus_a"), 2, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            page.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
            ["sub_clock", "sub_later"]
        );
        let rest = s
            .list_subscriptions(&m, Some("cus_a"), 5, Some("sub_later"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            rest.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
            ["sub_wall"]
        );
        assert_eq!(
            s.list_subscriptions(&m, Some("cus_b"), 5, Some("sub_later"))
                .await
                .unwrap(),
            None
        );
        let base = sub("sub_wall", None, 100, 1);
        let mut inv = Invoice::for_period("in_1".into(), &base, "subscription_cycle", 7);
        let mut tx = s.begin().await.unwrap();
        tx.insert_invoice(&inv).await.unwrap();
        inv.attempt_count = 2;
        inv.paid(8);
        tx.update_invoice(&inv).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(s.invoice(&m, "in_1").await.unwrap(), Some(inv.clone()));
        for f in [("subscription", "sub_wall"), ("customer", "cus_a")] {
            let got = s
                .list_invoices(&m, Some(f), 5, None)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(got, [inv.clone()], "{f:?}");
        }
        assert!(s
            .list_invoices(&m, Some(("subscription", "sub_x")), 5, None)
            .await
            .unwrap()
            .unwrap()
            .is_empty());
        // Clocks.
        let clock = TestClock {
            id: "clock_1".into(),
            merchant_id: m.clone(),
            name: Some("c".into()),
            frozen_time: 1_000,
            status: "ready".into(),
            created: 1,
        };
        let mut tx = s.begin().await.unwrap();
        tx.insert_test_clock(&clock).await.unwrap();
        assert!(tx
            .set_test_clock(&m, "clock_1", "ready", "ready", 2_000)
            .await
            .unwrap());
        assert!(!tx
            .set_test_clock(&m, "clock_1", "advancing", "ready", 3_000)
            .await
            .unwrap());
        tx.commit().await.unwrap();
        assert_eq!(
            s.test_clock(&m, "clock_1")
                .await
                .unwrap()
                .unwrap()
                .frozen_time,
            2_000
        );
        assert_eq!(s.test_clock("acct_other", "clock_1").await.unwrap(), None);
        assert_eq!(
            s.list_test_clocks(&m, 5, None)
                .await
                .unwrap()
                .unwrap()
                .len(),
            1
        );
        let mut tx = s.begin().await.unwrap();
        assert!(tx.delete_test_clock(&m, "clock_1").await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(s.test_clock(&m, "clock_1").await.unwrap(), None);
        cleanup(s, pg).await;
    }
}
