//! Store conformance tests: the same assertions on SQLite and on PostgreSQL (when
//! `KASSA_TEST_POSTGRES_URL` names a server; each test makes its own database).

use kassa_core::events::{Event, EventType};
use kassa_core::intent::{CaptureMethod, IntentStatus, Metadata, PaymentIntent};
use kassa_core::money::Currency;
use kassa_core::payment_method::{PaymentMethod, SetupFutureUsage};

use super::*;

mod accounts;
mod customers;
mod payments;
mod paymentwall;
mod paymob;
mod paymob_billing;
mod webhooks;

async fn stores() -> Vec<(Store, Option<(String, String)>, Option<tempfile::TempDir>)> {
    stores_at(true).await
}

/// A fresh SQLite store and, when a PostgreSQL server is named, a fresh PostgreSQL one;
/// migrated to the newest schema when `migrate`, else empty.
async fn stores_at(
    migrate: bool,
) -> Vec<(Store, Option<(String, String)>, Option<tempfile::TempDir>)> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let s = Store::connect(&format!("sqlite://{}/t.db", dir.path().display()), 4)
        .await
        .unwrap();
    if migrate {
        s.migrate().await.unwrap();
    }
    out.push((s, None, Some(dir)));
    if let Ok(admin) = std::env::var("KASSA_TEST_POSTGRES_URL") {
        sqlx::any::install_default_drivers();
        let name = format!(
            "kassa_s_{}",
            kassa_core::ids::random_token(12).to_lowercase()
        );
        let admin_pool = sqlx::AnyPool::connect(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin_pool)
            .await
            .unwrap();
        admin_pool.close().await;
        let base = admin.rsplit_once('/').unwrap().0;
        let s = Store::connect(&format!("{base}/{name}"), 4).await.unwrap();
        if migrate {
            s.migrate().await.unwrap();
        }
        out.push((s, Some((admin, name)), None));
    }
    out
}

async fn cleanup(s: Store, pg: Option<(String, String)>) {
    s.close().await;
    if let Some((admin, name)) = pg {
        let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&pool)
            .await;
        pool.close().await;
    }
}

async fn merchant_and_paid_intent(s: &Store, amount: i64) -> PaymentIntent {
    let m = Merchant {
        id: kassa_core::ids::new_id("acct"),
        name: "m".into(),
        created_at: 1,
    };
    let pi = PaymentIntent {
        id: kassa_core::ids::new_id("pi"),
        merchant_id: m.id.clone(),
        amount,
        currency: Currency::parse("usd").unwrap(),
        status: IntentStatus::Succeeded,
        capture_method: CaptureMethod::Automatic,
        amount_capturable: 0,
        amount_received: amount,
        amount_refunded: 0,
        description: None,
        metadata: Metadata::new(),
        return_url: None,
        receipt_email: None,
        client_secret: "s".into(),
        checkout_token: kassa_core::ids::new_id("cs"),
        last_payment_error: None,
        payment_method: None,
        next_action: None,
        processor_ref: Some("sbx_x".into()),
        canceled_at: None,
        cancellation_reason: None,
        capture_window_ms: kassa_core::intent::DEFAULT_CAPTURE_WINDOW_MS,
        capture_before: None,
        review_delay_ms: kassa_core::intent::DEFAULT_REVIEW_DELAY_MS,
        review_at: None,
        voucher_window_ms: kassa_core::intent::DEFAULT_VOUCHER_WINDOW_MS,
        order_key: None,
        pay_before: None,
        customer: Some("cus_a".into()),
        setup_future_usage: Some(SetupFutureUsage::OffSession),
        created: 1,
        updated: 1,
        version: 0,
    };
    let mut tx = s.begin().await.unwrap();
    tx.insert_merchant(&m).await.unwrap();
    tx.insert_intent(&pi).await.unwrap();
    tx.commit().await.unwrap();
    pi
}

/// A new merchant named `name`; its id.
async fn new_merchant(s: &Store, name: &str) -> String {
    let m = Merchant {
        id: kassa_core::ids::new_id("acct"),
        name: name.into(),
        created_at: 1,
    };
    let mut tx = s.begin().await.unwrap();
    tx.insert_merchant(&m).await.unwrap();
    tx.commit().await.unwrap();
    m.id
}

/// An intent of `merchant_id` waiting for a payment method, created at `created`; every
/// optional field empty.
fn new_intent(merchant_id: &str, id: &str, created: i64) -> PaymentIntent {
    PaymentIntent {
        id: id.into(),
        merchant_id: merchant_id.into(),
        amount: 1_000,
        currency: Currency::parse("usd").unwrap(),
        status: IntentStatus::RequiresPaymentMethod,
        capture_method: CaptureMethod::Automatic,
        amount_capturable: 0,
        amount_received: 0,
        amount_refunded: 0,
        description: None,
        metadata: Metadata::new(),
        return_url: None,
        receipt_email: None,
        client_secret: format!("{id}_secret"),
        checkout_token: kassa_core::ids::new_id("cs"),
        last_payment_error: None,
        payment_method: None,
        next_action: None,
        processor_ref: None,
        canceled_at: None,
        cancellation_reason: None,
        capture_window_ms: kassa_core::intent::DEFAULT_CAPTURE_WINDOW_MS,
        capture_before: None,
        review_delay_ms: kassa_core::intent::DEFAULT_REVIEW_DELAY_MS,
        review_at: None,
        voucher_window_ms: kassa_core::intent::DEFAULT_VOUCHER_WINDOW_MS,
        order_key: None,
        pay_before: None,
        customer: None,
        setup_future_usage: None,
        created,
        updated: created,
        version: 0,
    }
}

/// Writes `intents` in one transaction.
async fn insert_intents(s: &Store, intents: &[&PaymentIntent]) {
    let mut tx = s.begin().await.unwrap();
    for pi in intents {
        tx.insert_intent(pi).await.unwrap();
    }
    tx.commit().await.unwrap();
}

/// An event of `merchant_id` about `object_id`.
fn new_event(merchant_id: &str, event_type: EventType, created: i64) -> Event {
    Event {
        id: kassa_core::ids::new_id("evt"),
        merchant_id: merchant_id.into(),
        event_type,
        object: serde_json::json!({"id": "obj", "n": created}),
        created,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intent_written_from_a_stale_version_is_a_conflict() {
    for (s, pg, _dir) in stores().await {
        let pi = merchant_and_paid_intent(&s, 100).await;
        let mut a = s.intent(&pi.merchant_id, &pi.id).await.unwrap().unwrap();
        let mut b = a.clone();
        let mut tx = s.begin().await.unwrap();
        a.description = Some("first".into());
        tx.update_intent(&mut a).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = s.begin().await.unwrap();
        b.description = Some("second".into());
        assert!(matches!(
            tx.update_intent(&mut b).await,
            Err(StoreError::Conflict)
        ));
        drop(tx);
        let now = s.intent(&pi.merchant_id, &pi.id).await.unwrap().unwrap();
        assert_eq!(now.description.as_deref(), Some("first"));
        assert_eq!(now.version, 1);
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_holds_one_payment_at_a_time() {
    for (s, pg, _dir) in stores().await {
        // A paid payment of order A; a second one is written, but cannot start.
        let base = merchant_and_paid_intent(&s, 100).await;
        let m = base.merchant_id.clone();
        let fresh = |order: &str| {
            let mut p = base.clone();
            p.id = kassa_core::ids::new_id("pi");
            p.checkout_token = kassa_core::ids::new_id("cs");
            p.status = IntentStatus::RequiresPaymentMethod;
            p.order_key = Some(order.into());
            p.version = 0;
            p
        };
        let mut paid = fresh("paymob:1");
        paid.status = IntentStatus::Succeeded;
        let mut second = fresh("paymob:1");
        let mut tx = s.begin().await.unwrap();
        tx.insert_intent(&paid).await.unwrap();
        tx.insert_intent(&second).await.unwrap();
        tx.commit().await.unwrap();
        for status in [
            IntentStatus::Processing,
            IntentStatus::RequiresAction,
            IntentStatus::Succeeded,
        ] {
            let mut tx = s.begin().await.unwrap();
            let mut p = second.clone();
            p.status = status;
            assert!(
                matches!(tx.update_intent(&mut p).await, Err(StoreError::Conflict)),
                "{status:?}"
            );
        }
        // Other orders are free; once the paid one is voided, the order takes a payment again.
        let mut other = fresh("paymob:2");
        other.status = IntentStatus::Processing;
        let mut tx = s.begin().await.unwrap();
        tx.insert_intent(&other).await.unwrap();
        paid.status = IntentStatus::Canceled;
        tx.update_intent(&mut paid).await.unwrap();
        second.status = IntentStatus::Processing;
        tx.update_intent(&mut second).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = s.begin().await.unwrap();
        let statuses: Vec<IntentStatus> = tx
            .intents_of_order(&m, "paymob:1")
            .await
            .unwrap()
            .iter()
            .map(|p| p.status)
            .collect();
        assert_eq!(statuses.len(), 2);
        assert!(
            statuses.contains(&IntentStatus::Canceled)
                && statuses.contains(&IntentStatus::Processing)
        );
        drop(tx);
        assert_eq!(s.intents_of_order(&m, "paymob:2").await.unwrap().len(), 1);
        assert!(s
            .intents_of_order("acct_other", "paymob:1")
            .await
            .unwrap()
            .is_empty());
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_methods_round_trip_page_by_customer_and_detach_once() {
    for (s, pg, _dir) in stores().await {
        let pi = merchant_and_paid_intent(&s, 100).await;
        let m = &pi.merchant_id;
        let read = s.intent(m, &pi.id).await.unwrap().unwrap();
        assert_eq!(read.customer.as_deref(), Some("cus_a"));
        assert_eq!(read.setup_future_usage, Some(SetupFutureUsage::OffSession));
        let pm = |id: &str, customer: &str, created: i64| PaymentMethod {
            id: id.into(),
            merchant_id: m.clone(),
            customer: Some(customer.into()),
            kind: "card".into(),
            details: serde_json::json!({"kind": "card", "last4": "4242"}),
            processor_ref: "sbx_x".into(),
            source_payment: Some(pi.id.clone()),
            usage: SetupFutureUsage::OnSession,
            created,
            detached_at: None,
        };
        let mut tx = s.begin().await.unwrap();
        for (id, c, t) in [
            ("pm_1", "cus_a", 10),
            ("pm_2", "cus_a", 20),
            ("pm_3", "cus_b", 30),
        ] {
            tx.insert_payment_method(&pm(id, c, t)).await.unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(
            s.payment_method(m, "pm_1").await.unwrap(),
            Some(pm("pm_1", "cus_a", 10))
        );
        assert_eq!(s.payment_method("acct_other", "pm_1").await.unwrap(), None);
        let ids = |v: Option<Vec<PaymentMethod>>| -> Vec<String> {
            v.unwrap().into_iter().map(|p| p.id).collect()
        };
        let page = s
            .customer_payment_methods(m, "cus_a", 1, None)
            .await
            .unwrap();
        assert_eq!(ids(page), ["pm_2"]);
        let page = s
            .customer_payment_methods(m, "cus_a", 5, Some("pm_2"))
            .await
            .unwrap();
        assert_eq!(ids(page), ["pm_1"]);
        assert_eq!(
            s.customer_payment_methods(m, "cus_a", 5, Some("pm_3"))
                .await
                .unwrap(),
            None,
            "another customer's method is no cursor"
        );
        let mut tx = s.begin().await.unwrap();
        assert!(tx.detach_payment_method(m, "pm_1", 99).await.unwrap());
        assert!(
            !tx.detach_payment_method(m, "pm_1", 100).await.unwrap(),
            "once"
        );
        assert!(!tx
            .detach_payment_method("acct_other", "pm_2", 100)
            .await
            .unwrap());
        let attached: Vec<String> = tx
            .attached_payment_methods(m, "cus_a")
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(attached, ["pm_2"]);
        tx.commit().await.unwrap();
        let gone = s.payment_method(m, "pm_1").await.unwrap().unwrap();
        assert_eq!((gone.customer, gone.detached_at), (None, Some(99)));
        let page = s
            .customer_payment_methods(m, "cus_a", 5, None)
            .await
            .unwrap();
        assert_eq!(ids(page), ["pm_2"]);
        cleanup(s, pg).await;
    }
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refunded_total_cannot_pass_the_received_amount() {
    for (s, pg, _dir) in stores().await {
        let pi = merchant_and_paid_intent(&s, 100).await;
        let mut tx = s.begin().await.unwrap();
        assert!(tx.add_refunded(&pi.id, 60, 2).await.unwrap());
        assert!(!tx.add_refunded(&pi.id, 41, 2).await.unwrap());
        assert!(tx.add_refunded(&pi.id, 40, 2).await.unwrap());
        tx.commit().await.unwrap();
        let now = s.intent(&pi.merchant_id, &pi.id).await.unwrap().unwrap();
        assert_eq!(now.amount_refunded, 100);
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_is_leased_to_one_worker_until_its_lease_runs_out() {
    for (s, pg, _dir) in stores().await {
        let pi = merchant_and_paid_intent(&s, 100).await;
        let ev = Event {
            id: kassa_core::ids::new_id("evt"),
            merchant_id: pi.merchant_id.clone(),
            event_type: EventType::PaymentIntentSucceeded,
            object: serde_json::json!({}),
            created: 10,
        };
        let mut tx = s.begin().await.unwrap();
        tx.insert_event(&ev, &pi.id).await.unwrap();
        let d = tx
            .insert_delivery(&pi.merchant_id, Channel::Webhook, "we_x", &ev.id, 10)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let a = s.claim_deliveries("a", 100, 1_000, 10).await.unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].id, d);
        assert!(s
            .claim_deliveries("b", 200, 1_200, 10)
            .await
            .unwrap()
            .is_empty());
        // a dies; after its lease b takes over, and a can no longer record its attempt.
        let b = s.claim_deliveries("b", 1_001, 2_000, 10).await.unwrap();
        assert_eq!(b.len(), 1);
        let attempt = DeliveryAttempt {
            id: kassa_core::ids::new_id("atmpt"),
            delivery_id: d.clone(),
            attempt_number: 1,
            trigger: "automatic".into(),
            started_at: 1_100,
            status_code: Some(200),
            latency_ms: 3,
            response_excerpt: Some("ok".into()),
            error: None,
        };
        assert!(!s
            .record_attempt("a", &attempt, DeliveryOutcome::Succeeded)
            .await
            .unwrap());
        assert!(s
            .record_attempt("b", &attempt, DeliveryOutcome::Succeeded)
            .await
            .unwrap());
        assert!(s
            .claim_deliveries("c", 5_000, 6_000, 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(s.delivery_attempts(&d).await.unwrap().len(), 1);
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_proceed_once_then_replay_or_refuse() {
    for (s, pg, _dir) in stores().await {
        let pi = merchant_and_paid_intent(&s, 1).await;
        let m = &pi.merchant_id;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paymentwall_order_and_its_prerendered_pingback_round_trip() {
    for (s, pg, _dir) in stores().await {
        let pi = merchant_and_paid_intent(&s, 999).await;
        let project = PwProject {
            id: kassa_core::ids::new_id("pwp"),
            merchant_id: pi.merchant_id.clone(),
            name: "shop".into(),
            project_key: "c22f895840bf2391f67a40da64bfed26".into(),
            secret_enc: "v1:sealed".into(),
            api_type: "digital_goods".into(),
            pingback_url: Some("http://127.0.0.1:1/pb".into()),
            pingback_sign_version: 3,
            widgets: "[\"p1_1\"]".into(),
            payment_systems: "{\"*\":[\"cc\"]}".into(),
            test_method: true,
            custom_pingback: "[]".into(),
            frame_ancestors: None,
            created_at: 5,
            settings: "{}".into(),
            secret_hash: None,
        };
        let order = PwOrder {
            id: kassa_core::ids::new_id("pwo"),
            project_id: project.id.clone(),
            merchant_id: pi.merchant_id.clone(),
            payment_intent_id: pi.id.clone(),
            uid: "user40012".into(),
            widget: "p1_1".into(),
            params: "[]".into(),
            product: "{}".into(),
            r#ref: None,
            is_test: false,
            created_at: 6,
            link_hash: Some("h".into()),
            country: Some("DE".into()),
            method: None,
            subscription_id: None,
        };
        let ev = Event {
            id: kassa_core::ids::new_id("evt"),
            merchant_id: pi.merchant_id.clone(),
            event_type: EventType::PaymentIntentSucceeded,
            object: serde_json::json!({}),
            created: 7,
        };
        let url = "http://127.0.0.1:1/pb?uid=user40012&goodsid=product301&slength=&speriod=&type=0&ref=b1&sign_version=3&sig=x";
        let mut tx = s.begin().await.unwrap();
        tx.insert_pw_project(&project).await.unwrap();
        tx.insert_pw_order(&order).await.unwrap();
        assert!(tx.set_pw_order_ref(&order.id, "b1").await.unwrap());
        assert!(
            !tx.set_pw_order_ref(&order.id, "b2").await.unwrap(),
            "a ref is set once"
        );
        tx.insert_event(&ev, &pi.id).await.unwrap();
        tx.insert_request_delivery(
            &pi.merchant_id,
            Channel::Pingback,
            &project.id,
            &ev.id,
            url,
            7,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let found = s
            .pw_project_by_key(&project.project_key)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found, project);
        assert!(s
            .pw_project("acct_other", &project.id)
            .await
            .unwrap()
            .is_none());
        let o = s.pw_order_by_intent(&pi.id).await.unwrap().unwrap();
        assert_eq!(o.r#ref.as_deref(), Some("b1"));
        assert_eq!(
            s.pw_order_by_ref(&project.id, "b1")
                .await
                .unwrap()
                .unwrap()
                .id,
            order.id
        );
        let claimed = s.claim_deliveries("w", 100, 1_000, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].channel, Channel::Pingback);
        assert_eq!(
            claimed[0].request_url.as_deref(),
            Some(url),
            "the query is stored byte for byte"
        );
        cleanup(s, pg).await;
    }
}

/// The migrations that turn markers and timers into core columns keep what was there: a store
/// (SQLite, and PostgreSQL when named) migrated up to 0006 holds a refund marked as a Paymob void, a Paymentwall chargeback, a plain
/// refund and an authorization waiting for its capture; after 0007 and 0009 they read back with
/// their kinds and the authorization with its 7-day deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_migrations_keep_refund_kinds_and_payment_deadlines() {
    for (s, pg, _dir) in stores_at(false).await {
        let dir = tempfile::tempdir().unwrap();
        // Every migration before 0007 and 0009, from a copy of the directory.
        let early = dir.path().join("early");
        std::fs::create_dir(&early).unwrap();
        let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        for entry in std::fs::read_dir(&all).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.as_str() < "0007" {
                std::fs::copy(&path, early.join(&name)).unwrap();
            }
        }
        sqlx::migrate::Migrator::new(early.as_path())
            .await
            .unwrap()
            .run(&s.writer)
            .await
            .unwrap();
        // Rows as the schema before 0007 had them (the current code writes newer columns).
        let m = "acct_migrated".to_string();
        let day = 86_400_000_i64;
        sqlx::query("INSERT INTO merchants (id, name, created_at) VALUES ($1, 'm', 1)")
            .bind(&m)
            .execute(&s.writer)
            .await
            .unwrap();
        for (id, status, updated) in [
            ("pi_paid", "succeeded", 1),
            ("pi_held", "requires_capture", 10 * day),
            ("pi_voucher", "requires_action", 5 * day),
        ] {
            sqlx::query(
                "INSERT INTO payment_intents (id, merchant_id, amount, currency, status, \
                 capture_method, amount_capturable, amount_received, amount_refunded, metadata, \
                 client_secret, checkout_token, processor_ref, created_at, updated_at, version) \
                 VALUES ($1, $2, 5000, 'usd', $3, 'manual', 0, 5000, 0, '{}', $4, $5, 'sbx_x', 1, $6, 0)",
            )
            .bind(id)
            .bind(&m)
            .bind(status)
            .bind(format!("{id}_secret"))
            .bind(format!("cs_{id}"))
            .bind(updated)
            .execute(&s.writer)
            .await
            .unwrap();
        }
        for (id, reason, metadata) in [
            ("re_void", "requested_by_customer", r#"{"paymob_void":"1"}"#),
            ("re_cb", "fraudulent", r#"{"paymentwall_reason":"1"}"#),
            ("re_plain", "requested_by_customer", r#"{"order":"7"}"#),
        ] {
            sqlx::query(
                "INSERT INTO refunds (id, merchant_id, payment_intent_id, amount, currency, status, \
                 reason, metadata, processor_ref, created_at) \
                 VALUES ($1, $2, $3, 100, 'usd', 'succeeded', $4, $5, NULL, 1)",
            )
            .bind(id)
            .bind(&m)
            .bind("pi_paid")
            .bind(reason)
            .bind(metadata)
            .execute(&s.writer)
            .await
            .unwrap();
        }
        // A voucher waiting for its cash since day 5 (0013 gives it its payment deadline).
        sqlx::query(
            "INSERT INTO payment_attempts (id, payment_intent_id, status, payment_method, \
             processor_ref, challenge_state, error, created_at, updated_at) VALUES \
             ('pa_v', 'pi_voucher', 'requires_action', NULL, 'sbx_x', 'voucher:123456789012', \
             NULL, $1, $1)",
        )
        .bind(5 * day)
        .execute(&s.writer)
        .await
        .unwrap();
        s.migrate().await.unwrap();
        let voucher = s.intent(&m, "pi_voucher").await.unwrap().unwrap();
        assert_eq!(voucher.voucher_window_ms, 3 * day);
        assert_eq!(voucher.pay_before, Some(8 * day));
        assert_eq!(
            s.intent(&m, "pi_held").await.unwrap().unwrap().pay_before,
            None
        );
        use kassa_core::intent::RefundKind;
        let kind = |id: &'static str| {
            let s = &s;
            let m = &m;
            async move { s.refund(m, id).await.unwrap().unwrap().kind }
        };
        assert_eq!(kind("re_void").await, RefundKind::Void);
        assert_eq!(kind("re_cb").await, RefundKind::Chargeback { reason: 1 });
        assert_eq!(kind("re_plain").await, RefundKind::Refund);
        let held = s.intent(&m, "pi_held").await.unwrap().unwrap();
        assert_eq!(held.capture_window_ms, 7 * day);
        assert_eq!(held.capture_before, Some(17 * day));
        let paid = s.intent(&m, "pi_paid").await.unwrap().unwrap();
        assert_eq!(paid.capture_before, None);
        s.close().await;
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_0016_gives_paid_intention_orders_their_key_once() {
    for (s, pg, _dir) in stores_at(false).await {
        let dir = tempfile::tempdir().unwrap();
        let early = dir.path().join("early");
        std::fs::create_dir(&early).unwrap();
        let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        for entry in std::fs::read_dir(&all).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.as_str() < "0016" {
                std::fs::copy(&path, early.join(&name)).unwrap();
            }
        }
        sqlx::migrate::Migrator::new(early.as_path())
            .await
            .unwrap()
            .run(&s.writer)
            .await
            .unwrap();
        let exec = |sql: &'static str| {
            let w = s.writer.clone();
            async move { sqlx::query(sql).execute(&w).await.unwrap() }
        };
        exec("INSERT INTO merchants (id, name, created_at) VALUES ('acct_m', 'm', 1)").await;
        exec(
            "INSERT INTO pm_profiles (id, merchant_id, country, live, secret_key_hash, public_key, \
             api_key_hash, hmac_enc, iframe_id, doc, created_at) \
             VALUES (1, 'acct_m', 'EGY', 0, 'sk', 'pk', 'ak', 'h', 1, '{}', 1)",
        )
        .await;
        // Order 10 (an intention's): an abandoned attempt and a paid one. Order 20 (legacy, no
        // intention, may be paid more than once): two paid payments.
        exec(
            "INSERT INTO pm_orders (id, profile_id, intention_id, doc, created_at, updated_at) \
             VALUES (10, 1, 'pi_x', '{}', 1, 1), (20, 1, NULL, '{}', 1, 1)",
        )
        .await;
        for (id, status, order, txn) in [
            ("pi_a", "canceled", 10, 1),
            ("pi_b", "succeeded", 10, 2),
            ("pi_c", "succeeded", 20, 3),
            ("pi_d", "succeeded", 20, 4),
        ] {
            sqlx::query(
                "INSERT INTO payment_intents (id, merchant_id, amount, currency, status, \
                 capture_method, amount_capturable, amount_received, amount_refunded, metadata, \
                 client_secret, checkout_token, processor_ref, created_at, updated_at, version) \
                 VALUES ($1, 'acct_m', 5000, 'egp', $2, 'automatic', 0, 5000, 0, '{}', $1, $1, \
                 'sbx_x', 1, 1, 0)",
            )
            .bind(id)
            .bind(status)
            .execute(&s.writer)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO pm_transactions (id, profile_id, order_id, intent_id, kind, obj, \
                 extra, created_at, updated_at) VALUES ($1, 1, $2, $3, 'payment', '{}', '{}', 1, 1)",
            )
            .bind(txn as i64)
            .bind(order as i64)
            .bind(id)
            .execute(&s.writer)
            .await
            .unwrap();
        }
        s.migrate().await.unwrap();
        let m = "acct_m";
        let keyed: Vec<String> = s
            .intents_of_order(m, "paymob:10")
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(keyed, ["pi_b"], "the paid payment of the intention's order");
        assert!(s.intents_of_order(m, "paymob:20").await.unwrap().is_empty());
        cleanup(s, pg).await;
    }
}
