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
        let m = pi.scope();
        let usd = Currency::parse("usd").unwrap();
        let sub = |id: &str, clock: Option<&str>, next: i64, created: i64| Subscription {
            id: id.into(),
            merchant_id: m.merchant_id.clone(),
            livemode: m.livemode,
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
            merchant_id: m.merchant_id.clone(),
            livemode: m.livemode,
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
        assert_eq!(
            s.test_clock(&Scope::test("acct_other"), "clock_1")
                .await
                .unwrap(),
            None
        );
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

pub(super) fn subscription(
    m: &Scope,
    id: &str,
    customer: &str,
    created: i64,
) -> kassa_core::subscription::Subscription {
    use kassa_core::subscription::{
        Interval, Item, Recurring, RetryPolicy, Subscription, SubscriptionStatus,
    };
    let usd = Currency::parse("usd").unwrap();
    Subscription {
        id: id.into(),
        merchant_id: m.merchant_id.clone(),
        livemode: m.livemode,
        customer: customer.into(),
        test_clock: None,
        status: SubscriptionStatus::Active,
        default_payment_method: None,
        items: vec![Item {
            id: "si_1".into(),
            product_name: "Pro".into(),
            currency: usd,
            unit_amount: 250,
            recurring: Recurring {
                interval: Interval::Month,
                interval_count: 1,
            },
            quantity: 2,
        }],
        currency: usd,
        billing_cycle_anchor: 0,
        cycle: 0,
        current_period_start: 0,
        current_period_end: 100,
        trial_start: None,
        trial_end: None,
        trial_will_end_sent: false,
        cancel_at_period_end: false,
        cancel_at: None,
        canceled_at: None,
        ended_at: None,
        latest_invoice: None,
        retry_at: None,
        retry_policy: RetryPolicy::default(),
        metadata: Metadata::new(),
        next_action_at: None,
        created,
        updated: created,
        version: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoices_and_clocks_page_per_merchant_and_updates_stay_in_their_merchant() {
    use kassa_core::invoice::{Invoice, InvoiceStatus};
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let b = new_merchant(&s, "b").await;
        let s1 = subscription(&a, "sub_1", "cus_1", 1);
        let s2 = subscription(&a, "sub_2", "cus_2", 2);
        let sb = subscription(&b, "sub_b", "cus_1", 3);
        let inv = |id: &str, sub: &kassa_core::subscription::Subscription, now: i64| {
            Invoice::for_period(id.into(), sub, "subscription_cycle", now)
        };
        let mut tx = s.begin().await.unwrap();
        for x in [&s1, &s2, &sb] {
            tx.insert_subscription(x).await.unwrap();
        }
        assert_eq!(
            tx.subscription(&a, "sub_1").await.unwrap(),
            Some(s1.clone())
        );
        assert_eq!(tx.subscription(&b, "sub_1").await.unwrap(), None, "tenant");
        for i in [
            inv("in_1", &s1, 10),
            inv("in_2", &s1, 20),
            inv("in_3", &s2, 20),
            inv("in_b", &sb, 30),
        ] {
            tx.insert_invoice(&i).await.unwrap();
        }
        assert_eq!(
            tx.invoice(&a, "in_1").await.unwrap(),
            Some(inv("in_1", &s1, 10))
        );
        assert_eq!(tx.invoice(&b, "in_1").await.unwrap(), None, "tenant");
        tx.commit().await.unwrap();
        let first = inv("in_1", &s1, 10);
        assert_eq!(first.amount_due, 500, "lines read back with their amounts");
        assert_eq!(s.invoice(&a, "in_1").await.unwrap(), Some(first.clone()));
        assert_eq!(s.invoice(&b, "in_1").await.unwrap(), None);
        let ids = |v: Option<Vec<Invoice>>| -> Vec<String> {
            v.unwrap().into_iter().map(|i| i.id).collect()
        };
        assert_eq!(
            ids(s.list_invoices(&a, None, 10, None).await.unwrap()),
            ["in_3", "in_2", "in_1"]
        );
        assert_eq!(
            ids(s.list_invoices(&a, None, 1, Some("in_3")).await.unwrap()),
            ["in_2"]
        );
        assert_eq!(
            ids(s
                .list_invoices(&a, Some(("customer", "cus_1")), 10, None)
                .await
                .unwrap()),
            ["in_2", "in_1"]
        );
        assert_eq!(
            ids(s
                .list_invoices(&a, Some(("subscription", "sub_1")), 1, Some("in_2"))
                .await
                .unwrap()),
            ["in_1"]
        );
        assert_eq!(
            s.list_invoices(&a, Some(("subscription", "sub_1")), 10, Some("in_3"))
                .await
                .unwrap(),
            None,
            "another subscription's invoice is no cursor"
        );
        assert_eq!(
            s.list_invoices(&a, None, 10, Some("in_b")).await.unwrap(),
            None
        );
        assert!(ids(s
            .list_invoices(&a, Some(("status", "open")), 10, None)
            .await
            .unwrap())
        .is_empty());
        assert_eq!(
            ids(s.list_invoices(&b, None, 10, None).await.unwrap()),
            ["in_b"]
        );

        // An invoice update writes its payment fields, and only in its own merchant.
        let mut paid = first.clone();
        paid.attempt_count = 3;
        paid.payment_intent = Some("pi_9".into());
        paid.paid(40);
        let mut foreign = inv("in_b", &sb, 30);
        foreign.merchant_id = a.merchant_id.clone();
        foreign.status = InvoiceStatus::Void;
        let mut tx = s.begin().await.unwrap();
        tx.update_invoice(&paid).await.unwrap();
        tx.update_invoice(&foreign).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(s.invoice(&a, "in_1").await.unwrap(), Some(paid));
        assert_eq!(
            s.invoice(&b, "in_b").await.unwrap().unwrap().status,
            InvoiceStatus::Open
        );

        // Clocks: newest first per merchant; a clock moves and is deleted only in its merchant.
        let clock = |m: &Scope, id: &str, created: i64| TestClock {
            id: id.into(),
            merchant_id: m.merchant_id.clone(),
            livemode: m.livemode,
            name: None,
            frozen_time: 1_000,
            status: "ready".into(),
            created,
        };
        let mut tx = s.begin().await.unwrap();
        for c in [
            clock(&a, "clock_1", 1),
            clock(&a, "clock_2", 2),
            clock(&b, "clock_b", 3),
        ] {
            tx.insert_test_clock(&c).await.unwrap();
        }
        assert!(!tx
            .set_test_clock(&a, "clock_b", "ready", "advancing", 5_000)
            .await
            .unwrap());
        assert!(!tx.delete_test_clock(&a, "clock_b").await.unwrap());
        assert!(!tx.delete_test_clock(&a, "clock_none").await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(
            s.test_clock(&a, "clock_1").await.unwrap(),
            Some(clock(&a, "clock_1", 1))
        );
        let cids = |v: Option<Vec<TestClock>>| -> Vec<String> {
            v.unwrap().into_iter().map(|c| c.id).collect()
        };
        assert_eq!(
            cids(s.list_test_clocks(&a, 10, None).await.unwrap()),
            ["clock_2", "clock_1"]
        );
        assert_eq!(
            cids(s.list_test_clocks(&a, 10, Some("clock_2")).await.unwrap()),
            ["clock_1"]
        );
        assert_eq!(
            s.list_test_clocks(&a, 10, Some("clock_b")).await.unwrap(),
            None
        );
        assert_eq!(
            s.test_clock(&b, "clock_b").await.unwrap(),
            Some(clock(&b, "clock_b", 3))
        );
        cleanup(s, pg).await;
    }
}

/// Held authorizations of customers on a test clock expire in the clock's time: the wall-clock
/// sweep skips them, and the clock finds them (earliest first, only its own, only while held).
#[tokio::test]
async fn a_clock_customers_held_authorizations_are_the_clocks_to_expire() {
    use kassa_core::customer::Customer;
    for (s, pg, _dir) in stores().await {
        let m = new_merchant(&s, "Clocked").await;
        let mut tx = s.begin().await.unwrap();
        tx.insert_test_clock(&TestClock {
            id: "clock_a".into(),
            merchant_id: m.merchant_id.clone(),
            livemode: m.livemode,
            name: None,
            frozen_time: 5_000,
            status: "ready".into(),
            created: 1,
        })
        .await
        .unwrap();
        for (id, clock) in [("cus_clock", Some("clock_a")), ("cus_wall", None)] {
            tx.insert_customer(&Customer {
                id: id.into(),
                merchant_id: m.merchant_id.clone(),
                livemode: m.livemode,
                email: None,
                name: None,
                phone: None,
                description: None,
                metadata: Metadata::new(),
                test_clock: clock.map(Into::into),
                created: 1,
                updated: 1,
            })
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        let held = |id: &str, customer: Option<&str>, before: i64| {
            let mut pi = new_intent(&m, id, 1);
            pi.capture_method = CaptureMethod::Manual;
            pi.status = IntentStatus::RequiresCapture;
            pi.customer = customer.map(Into::into);
            pi.capture_before = Some(before);
            pi
        };
        let (late, early, wall, plain) = (
            held("pi_clock_late", Some("cus_clock"), 300),
            held("pi_clock_early", Some("cus_clock"), 200),
            held("pi_wall_customer", Some("cus_wall"), 100),
            held("pi_no_customer", None, 100),
        );
        insert_intents(&s, &[&late, &early, &wall, &plain]).await;

        let mut swept = s.due_authorization_expiries(1_000, 10).await.unwrap();
        swept.sort_by(|x, y| x.1.cmp(&y.1));
        assert_eq!(
            swept,
            vec![
                (m.clone(), "pi_no_customer".to_string()),
                (m.clone(), "pi_wall_customer".to_string())
            ],
            "the wall sweep leaves the clock's payments alone"
        );
        assert_eq!(
            s.next_authorization_expiry_on_clock("clock_a", 1_000)
                .await
                .unwrap(),
            Some((m.clone(), "pi_clock_early".into(), 200))
        );
        assert_eq!(
            s.next_authorization_expiry_on_clock("clock_a", 199)
                .await
                .unwrap(),
            None,
            "not due before its deadline"
        );
        assert_eq!(
            s.next_authorization_expiry_on_clock("clock_other", 1_000)
                .await
                .unwrap(),
            None
        );
        // Released, it is no longer the clock's to expire.
        let mut tx = s.begin().await.unwrap();
        let mut cur = tx.intent(&m, "pi_clock_early").await.unwrap().unwrap();
        cur.status = IntentStatus::Canceled;
        cur.capture_before = None;
        tx.update_intent(&mut cur).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            s.next_authorization_expiry_on_clock("clock_a", 1_000)
                .await
                .unwrap()
                .map(|(_, id, at)| (id, at)),
            Some(("pi_clock_late".into(), 300))
        );
        assert_eq!(
            s.customer_clock_time(&m, "cus_clock").await.unwrap(),
            Some(5_000)
        );
        assert_eq!(s.customer_clock_time(&m, "cus_wall").await.unwrap(), None);
        assert_eq!(
            s.customer_clock_time(&Scope::test("acct_other"), "cus_clock")
                .await
                .unwrap(),
            None,
            "another merchant's customer"
        );
        cleanup(s, pg).await;
    }
}
