//! Test and live mode: a merchant's test data and its live data never see each other. Every read
//! in the other mode's scope finds nothing (as for another merchant), every write in it changes
//! nothing, and what the background workers list names the scope it belongs to.

use kassa_core::customer::Customer;
use kassa_core::intent::{IntentStatus, Refund};
use kassa_core::invoice::{Invoice, InvoiceStatus};
use kassa_core::payment_method::{PaymentMethod, SetupFutureUsage};
use kassa_core::subscription::Subscription;

use super::billing::subscription;
use super::customers::customer;
use super::refunds::refund;
use super::webhooks::endpoint;
use super::*;

fn clock(m: &Scope, id: &str, created: i64) -> TestClock {
    TestClock {
        id: id.into(),
        merchant_id: m.merchant_id.clone(),
        livemode: m.livemode,
        name: None,
        frozen_time: 7_000,
        status: "ready".into(),
        created,
    }
}

fn method(m: &Scope, id: &str, customer: &str, created: i64) -> PaymentMethod {
    PaymentMethod {
        id: id.into(),
        merchant_id: m.merchant_id.clone(),
        livemode: m.livemode,
        customer: Some(customer.into()),
        kind: "card".into(),
        details: kassa_core::method_details::PaymentMethodDetails {
            kind: "card".into(),
            last4: "4242".into(),
            ..Default::default()
        },
        processor_ref: "sbx_x".into(),
        source_payment: None,
        usage: SetupFutureUsage::OffSession,
        created,
        detached_at: None,
    }
}

/// A paid intent of `order`.
fn paid(m: &Scope, id: &str, order: &str, customer: &str, created: i64) -> PaymentIntent {
    let mut p = new_intent(m, id, created);
    p.status = IntentStatus::Succeeded;
    p.amount_received = p.amount;
    p.order_key = Some(order.into());
    p.customer = Some(customer.into());
    p
}

/// What [`seed`] wrote: one merchant's objects of every kind in live mode (`*_l`), and beside
/// them a test-mode object of each kind that is listed (`*_t`).
struct Seeded {
    test: Scope,
    live: Scope,
    cus_l: Customer,
    cus_t: Customer,
    clock_l: TestClock,
    clock_t: TestClock,
    pi_l: PaymentIntent,
    pi_t: PaymentIntent,
    re_l: Refund,
    re_t: Refund,
    pm_l: PaymentMethod,
    pm_t: PaymentMethod,
    sub_l: Subscription,
    sub_t: Subscription,
    in_l: Invoice,
    in_t: Invoice,
    we_l: WebhookEndpoint,
    we_t: WebhookEndpoint,
    ev_l: Event,
    ev_t: Event,
    /// A manual delivery of `ev_l` to `we_l2`, the live merchant's second endpoint.
    manual_l: String,
}

async fn seed(s: &Store) -> Seeded {
    let test = new_merchant(s, "m").await;
    let live = Scope::live(&test.merchant_id);
    let mut cus_l = customer(&live, "cus_l", Some("x@m.co"), 10);
    cus_l.test_clock = Some("clock_l".into());
    let cus_t = customer(&test, "cus_t", Some("x@m.co"), 11);
    let (clock_l, clock_t) = (clock(&live, "clock_l", 10), clock(&test, "clock_t", 11));
    // The same order is paid once in each mode: an order key is the mode's.
    let pi_l = paid(&live, "pi_l", "paymob:1", "cus_l", 10);
    let pi_t = paid(&test, "pi_t", "paymob:1", "cus_t", 11);
    let (re_l, re_t) = (
        refund(&live, "re_l", "pi_l", 10),
        refund(&test, "re_t", "pi_t", 11),
    );
    let (pm_l, pm_t) = (
        method(&live, "pm_l", "cus_l", 10),
        method(&test, "pm_t", "cus_t", 11),
    );
    let (sub_l, sub_t) = (
        subscription(&live, "sub_l", "cus_l", 10),
        subscription(&test, "sub_t", "cus_t", 11),
    );
    let in_l = Invoice::for_period("in_l".into(), &sub_l, "subscription_cycle", 10);
    let in_t = Invoice::for_period("in_t".into(), &sub_t, "subscription_cycle", 11);
    let we_l = endpoint(&live, "we_l", &["*"], "enabled", 10);
    let we_l2 = endpoint(&live, "we_l2", &["refund.created"], "enabled", 11);
    let we_t = endpoint(&test, "we_t", &["*"], "enabled", 12);
    let ev_l = new_event(&live, EventType::PaymentIntentSucceeded, 10);
    let ev_t = new_event(&test, EventType::PaymentIntentSucceeded, 11);

    let mut tx = s.begin().await.unwrap();
    for c in [&cus_l, &cus_t] {
        tx.insert_customer(c).await.unwrap();
    }
    for c in [&clock_l, &clock_t] {
        tx.insert_test_clock(c).await.unwrap();
    }
    for p in [&pi_l, &pi_t] {
        tx.insert_intent(p).await.unwrap();
    }
    for r in [&re_l, &re_t] {
        tx.insert_refund(r).await.unwrap();
    }
    for m in [&pm_l, &pm_t] {
        tx.insert_payment_method(m).await.unwrap();
    }
    for x in [&sub_l, &sub_t] {
        tx.insert_subscription(x).await.unwrap();
    }
    for i in [&in_l, &in_t] {
        tx.insert_invoice(i).await.unwrap();
    }
    assert_eq!(tx.count_endpoints(&live).await.unwrap(), 0);
    for e in [&we_l, &we_l2, &we_t] {
        tx.insert_endpoint(e).await.unwrap();
    }
    assert_eq!(tx.count_endpoints(&live).await.unwrap(), 2);
    assert_eq!(tx.count_endpoints(&test).await.unwrap(), 1);
    tx.insert_event(&ev_l, "pi_l").await.unwrap();
    tx.insert_event(&ev_t, "pi_t").await.unwrap();
    let manual_l = tx
        .insert_manual_delivery(&live, Channel::Webhook, "we_l2", &ev_l.id, 20)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    Seeded {
        test,
        live,
        cus_l,
        cus_t,
        clock_l,
        clock_t,
        pi_l,
        pi_t,
        re_l,
        re_t,
        pm_l,
        pm_t,
        sub_l,
        sub_t,
        in_l,
        in_t,
        we_l,
        we_t,
        ev_l,
        ev_t,
        manual_l,
    }
}

fn ids_of<T>(v: Option<Vec<T>>, id: impl Fn(&T) -> &str) -> Vec<String> {
    v.expect("the cursor is found")
        .iter()
        .map(|x| id(x).to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchants_live_objects_are_found_only_in_its_live_scope() {
    for (s, pg, _dir) in stores().await {
        let x = seed(&s).await;
        let (test, live) = (&x.test, &x.live);
        assert!(x.pi_l.livemode && !x.pi_t.livemode);

        // Payment intents.
        assert_eq!(s.intent(live, "pi_l").await.unwrap(), Some(x.pi_l.clone()));
        assert_eq!(s.intent(test, "pi_l").await.unwrap(), None, "mode");
        assert_eq!(s.intent(test, "pi_t").await.unwrap(), Some(x.pi_t.clone()));
        assert_eq!(s.intent(live, "pi_t").await.unwrap(), None, "mode");
        let pis = |v| ids_of(v, |p: &PaymentIntent| &p.id);
        assert_eq!(pis(s.list_intents(live, 10, None).await.unwrap()), ["pi_l"]);
        assert_eq!(pis(s.list_intents(test, 10, None).await.unwrap()), ["pi_t"]);
        assert_eq!(
            s.list_intents(test, 10, Some("pi_l")).await.unwrap(),
            None,
            "a live intent is no test cursor"
        );
        assert_eq!(s.list_intents(live, 10, Some("pi_t")).await.unwrap(), None);
        assert_eq!(
            s.intents_of_order(live, "paymob:1").await.unwrap(),
            vec![x.pi_l.clone()]
        );
        assert_eq!(
            s.intents_of_order(test, "paymob:1").await.unwrap(),
            vec![x.pi_t.clone()]
        );
        // By id or token alone (checkout, workers): found, with its mode.
        assert_eq!(
            s.intent_by_id_any_merchant("pi_l").await.unwrap(),
            Some(x.pi_l.clone())
        );
        assert_eq!(
            s.intent_by_checkout_token(&x.pi_l.checkout_token)
                .await
                .unwrap()
                .map(|p| p.scope()),
            Some(live.clone())
        );
        let mut tx = s.begin().await.unwrap();
        assert_eq!(tx.intent(test, "pi_l").await.unwrap(), None);
        assert_eq!(tx.intent(live, "pi_l").await.unwrap(), Some(x.pi_l.clone()));
        assert_eq!(
            tx.intents_of_order(test, "paymob:1").await.unwrap(),
            vec![x.pi_t.clone()]
        );
        // A second paid payment of the order in the same mode is refused.
        let again = paid(live, "pi_l_again", "paymob:1", "cus_l", 12);
        assert!(matches!(
            tx.insert_intent(&again).await,
            Err(StoreError::Conflict)
        ));
        drop(tx);

        // Refunds.
        assert_eq!(s.refund(live, "re_l").await.unwrap(), Some(x.re_l.clone()));
        assert_eq!(s.refund(test, "re_l").await.unwrap(), None, "mode");
        assert_eq!(s.refund(live, "re_t").await.unwrap(), None, "mode");
        assert_eq!(s.refund(test, "re_t").await.unwrap(), Some(x.re_t.clone()));
        let res = |v| ids_of(v, |r: &Refund| &r.id);
        assert_eq!(
            res(s.list_refunds(live, 10, None, None).await.unwrap()),
            ["re_l"]
        );
        assert_eq!(
            res(s.list_refunds(test, 10, None, None).await.unwrap()),
            ["re_t"]
        );
        assert!(res(s.list_refunds(test, 10, None, Some("pi_l")).await.unwrap()).is_empty());
        assert_eq!(
            res(s.list_refunds(live, 10, None, Some("pi_l")).await.unwrap()),
            ["re_l"]
        );
        assert_eq!(
            s.list_refunds(test, 10, Some("re_l"), None).await.unwrap(),
            None
        );

        // Events and the deliveries they queued: a live event only to live endpoints.
        assert_eq!(
            s.event(live, &x.ev_l.id).await.unwrap(),
            Some(x.ev_l.clone())
        );
        assert_eq!(s.event(test, &x.ev_l.id).await.unwrap(), None, "mode");
        assert_eq!(s.event(live, &x.ev_t.id).await.unwrap(), None, "mode");
        let evs = |v| ids_of(v, |e: &Event| &e.id);
        assert_eq!(
            evs(s.list_events(live, 10, None).await.unwrap()),
            vec![x.ev_l.id.clone()]
        );
        assert_eq!(
            evs(s.list_events(test, 10, None).await.unwrap()),
            vec![x.ev_t.id.clone()]
        );
        assert_eq!(
            s.list_events(test, 10, Some(&x.ev_l.id)).await.unwrap(),
            None
        );
        let targets = |ds: &[Delivery]| -> Vec<(String, bool)> {
            let mut v: Vec<_> = ds
                .iter()
                .map(|d| (d.endpoint_id.clone(), d.livemode))
                .collect();
            v.sort();
            v
        };
        let live_ds = s.deliveries_for_event(live, &x.ev_l.id).await.unwrap();
        assert_eq!(
            targets(&live_ds),
            [("we_l".to_string(), true), ("we_l2".to_string(), true)],
            "the queued one (not to the test endpoint) and the manual one"
        );
        assert!(s
            .deliveries_for_event(test, &x.ev_l.id)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            targets(&s.deliveries_for_event(test, &x.ev_t.id).await.unwrap()),
            [("we_t".to_string(), false)]
        );
        for d in &live_ds {
            assert_eq!(d.scope(), *live);
            assert_eq!(s.delivery(live, &d.id).await.unwrap().as_ref(), Some(d));
            assert_eq!(s.delivery(test, &d.id).await.unwrap(), None, "mode");
        }
        assert!(live_ds.iter().any(|d| d.id == x.manual_l));

        // Webhook endpoints.
        assert_eq!(
            s.endpoint(live, "we_l").await.unwrap(),
            Some(x.we_l.clone())
        );
        assert_eq!(s.endpoint(test, "we_l").await.unwrap(), None, "mode");
        assert_eq!(s.endpoint(live, "we_t").await.unwrap(), None, "mode");
        let eps =
            |v: Vec<WebhookEndpoint>| -> Vec<String> { v.into_iter().map(|e| e.id).collect() };
        assert_eq!(
            eps(s.list_endpoints(live).await.unwrap()),
            ["we_l2", "we_l"]
        );
        assert_eq!(s.list_endpoints(test).await.unwrap(), vec![x.we_t.clone()]);
        assert!(s.endpoint_by_id("we_l").await.unwrap().unwrap().livemode);

        // Customers and the clocks they are on.
        assert_eq!(
            s.customer(live, "cus_l").await.unwrap(),
            Some(x.cus_l.clone())
        );
        assert_eq!(s.customer(test, "cus_l").await.unwrap(), None, "mode");
        assert_eq!(s.customer(live, "cus_t").await.unwrap(), None, "mode");
        let cus = |v| ids_of(v, |c: &Customer| &c.id);
        assert_eq!(
            cus(s.list_customers(live, 10, None, None).await.unwrap()),
            ["cus_l"]
        );
        assert_eq!(
            cus(s
                .list_customers(test, 10, None, Some("x@m.co"))
                .await
                .unwrap()),
            ["cus_t"]
        );
        assert_eq!(
            s.list_customers(test, 10, Some("cus_l"), None)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            s.list_customers(test, 10, Some("cus_l"), Some("x@m.co"))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            s.customer_clock(live, "cus_l").await.unwrap().as_deref(),
            Some("clock_l")
        );
        assert_eq!(s.customer_clock(test, "cus_l").await.unwrap(), None);
        assert_eq!(
            s.customer_clock_time(live, "cus_l").await.unwrap(),
            Some(7_000)
        );
        assert_eq!(s.customer_clock_time(test, "cus_l").await.unwrap(), None);
        let mut tx = s.begin().await.unwrap();
        assert_eq!(tx.customer_for_update(test, "cus_l").await.unwrap(), None);
        assert_eq!(
            tx.customer_for_update(live, "cus_l").await.unwrap(),
            Some(x.cus_l.clone())
        );
        drop(tx);

        // Saved payment methods.
        assert_eq!(
            s.payment_method(live, "pm_l").await.unwrap(),
            Some(x.pm_l.clone())
        );
        assert_eq!(s.payment_method(test, "pm_l").await.unwrap(), None, "mode");
        assert_eq!(s.payment_method(live, "pm_t").await.unwrap(), None, "mode");
        assert_eq!(
            s.payment_method(test, "pm_t").await.unwrap(),
            Some(x.pm_t.clone())
        );
        let pms = |v| ids_of(v, |m: &PaymentMethod| &m.id);
        assert_eq!(
            pms(s
                .customer_payment_methods(live, "cus_l", 10, None)
                .await
                .unwrap()),
            ["pm_l"]
        );
        assert!(pms(s
            .customer_payment_methods(test, "cus_l", 10, None)
            .await
            .unwrap())
        .is_empty());
        assert_eq!(
            s.customer_payment_methods(test, "cus_l", 10, Some("pm_l"))
                .await
                .unwrap(),
            None
        );
        let mut tx = s.begin().await.unwrap();
        assert_eq!(tx.payment_method(test, "pm_l").await.unwrap(), None);
        assert_eq!(
            tx.payment_method(live, "pm_l").await.unwrap(),
            Some(x.pm_l.clone())
        );
        assert!(tx
            .attached_payment_methods(test, "cus_l")
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            tx.attached_payment_methods(live, "cus_l").await.unwrap(),
            vec![x.pm_l.clone()]
        );
        drop(tx);

        // Subscriptions and invoices.
        assert_eq!(
            s.subscription(live, "sub_l").await.unwrap(),
            Some(x.sub_l.clone())
        );
        assert_eq!(s.subscription(test, "sub_l").await.unwrap(), None, "mode");
        assert_eq!(s.subscription(live, "sub_t").await.unwrap(), None, "mode");
        assert_eq!(
            s.subscription(test, "sub_t").await.unwrap(),
            Some(x.sub_t.clone())
        );
        let subs = |v| ids_of(v, |x: &Subscription| &x.id);
        assert_eq!(
            subs(s.list_subscriptions(live, None, 10, None).await.unwrap()),
            ["sub_l"]
        );
        assert_eq!(
            subs(s.list_subscriptions(test, None, 10, None).await.unwrap()),
            ["sub_t"]
        );
        assert!(subs(
            s.list_subscriptions(test, Some("cus_l"), 10, None)
                .await
                .unwrap()
        )
        .is_empty());
        assert_eq!(
            s.list_subscriptions(test, None, 10, Some("sub_l"))
                .await
                .unwrap(),
            None
        );
        assert_eq!(s.invoice(live, "in_l").await.unwrap(), Some(x.in_l.clone()));
        assert!(x.in_l.livemode, "an invoice is in its subscription's mode");
        assert_eq!(s.invoice(test, "in_l").await.unwrap(), None, "mode");
        assert_eq!(s.invoice(live, "in_t").await.unwrap(), None, "mode");
        let ins = |v| ids_of(v, |i: &Invoice| &i.id);
        assert_eq!(
            ins(s.list_invoices(live, None, 10, None).await.unwrap()),
            ["in_l"]
        );
        assert_eq!(
            ins(s.list_invoices(test, None, 10, None).await.unwrap()),
            ["in_t"]
        );
        for f in [("subscription", "sub_l"), ("customer", "cus_l")] {
            assert!(
                ins(s.list_invoices(test, Some(f), 10, None).await.unwrap()).is_empty(),
                "{f:?}"
            );
            assert_eq!(
                ins(s.list_invoices(live, Some(f), 10, None).await.unwrap()),
                ["in_l"],
                "{f:?}"
            );
        }
        assert_eq!(
            s.list_invoices(test, None, 10, Some("in_l")).await.unwrap(),
            None
        );
        let mut tx = s.begin().await.unwrap();
        assert_eq!(tx.subscription(test, "sub_l").await.unwrap(), None);
        assert_eq!(
            tx.subscription(live, "sub_l").await.unwrap(),
            Some(x.sub_l.clone())
        );
        assert_eq!(tx.invoice(test, "in_l").await.unwrap(), None);
        assert_eq!(
            tx.invoice(live, "in_l").await.unwrap(),
            Some(x.in_l.clone())
        );
        drop(tx);

        // Test clocks.
        assert_eq!(
            s.test_clock(live, "clock_l").await.unwrap(),
            Some(x.clock_l.clone())
        );
        assert_eq!(s.test_clock(test, "clock_l").await.unwrap(), None, "mode");
        assert_eq!(s.test_clock(live, "clock_t").await.unwrap(), None, "mode");
        let cls = |v| ids_of(v, |c: &TestClock| &c.id);
        assert_eq!(
            cls(s.list_test_clocks(live, 10, None).await.unwrap()),
            ["clock_l"]
        );
        assert_eq!(
            s.list_test_clocks(test, 10, None).await.unwrap(),
            Some(vec![x.clock_t.clone()])
        );
        assert_eq!(
            s.list_test_clocks(test, 10, Some("clock_l")).await.unwrap(),
            None
        );
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_in_the_test_scope_leave_live_objects_alone() {
    for (s, pg, _dir) in stores().await {
        let x = seed(&s).await;
        let (test, live) = (&x.test, &x.live);
        // Each write names the live object's id in the test scope, or carries the test mode.
        let mut tx = s.begin().await.unwrap();
        assert!(!tx
            .set_test_clock(test, "clock_l", "ready", "advancing", 9_000)
            .await
            .unwrap());
        assert!(!tx.delete_test_clock(test, "clock_l").await.unwrap());
        assert!(!tx.delete_customer(test, "cus_l").await.unwrap());
        assert!(!tx.detach_payment_method(test, "pm_l", 50).await.unwrap());
        tx.set_customer_clock(test, "cus_l", "clock_t")
            .await
            .unwrap();
        let mut c = x.cus_l.clone();
        c.livemode = false;
        c.name = Some("taken".into());
        tx.update_customer(&c).await.unwrap();
        let mut i = x.in_l.clone();
        i.livemode = false;
        i.status = InvoiceStatus::Void;
        tx.update_invoice(&i).await.unwrap();
        let mut e = x.we_l.clone();
        e.livemode = false;
        e.url = "https://evil.example".into();
        tx.update_endpoint(&e).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            s.test_clock(live, "clock_l").await.unwrap(),
            Some(x.clock_l.clone())
        );
        assert_eq!(
            s.customer(live, "cus_l").await.unwrap(),
            Some(x.cus_l.clone())
        );
        assert_eq!(
            s.payment_method(live, "pm_l").await.unwrap(),
            Some(x.pm_l.clone())
        );
        assert_eq!(s.invoice(live, "in_l").await.unwrap(), Some(x.in_l.clone()));
        assert_eq!(
            s.endpoint(live, "we_l").await.unwrap(),
            Some(x.we_l.clone())
        );
        // The test objects are untouched too.
        assert_eq!(
            s.customer(test, "cus_t").await.unwrap(),
            Some(x.cus_t.clone())
        );
        assert_eq!(s.invoice(test, "in_t").await.unwrap(), Some(x.in_t.clone()));
        assert_eq!(
            s.endpoint(test, "we_t").await.unwrap(),
            Some(x.we_t.clone())
        );

        // The same writes in the live scope take effect.
        let mut tx = s.begin().await.unwrap();
        assert!(tx
            .set_test_clock(live, "clock_l", "ready", "advancing", 9_000)
            .await
            .unwrap());
        assert!(tx.detach_payment_method(live, "pm_l", 50).await.unwrap());
        tx.set_customer_clock(live, "cus_l", "clock_t")
            .await
            .unwrap();
        c.livemode = true;
        tx.update_customer(&c).await.unwrap();
        i.livemode = true;
        tx.update_invoice(&i).await.unwrap();
        e.livemode = true;
        tx.update_endpoint(&e).await.unwrap();
        tx.commit().await.unwrap();
        let moved = s.test_clock(live, "clock_l").await.unwrap().unwrap();
        assert_eq!(
            (moved.status.as_str(), moved.frozen_time),
            ("advancing", 9_000)
        );
        let detached = s.payment_method(live, "pm_l").await.unwrap().unwrap();
        assert_eq!((detached.customer, detached.detached_at), (None, Some(50)));
        let got = s.customer(live, "cus_l").await.unwrap().unwrap();
        assert_eq!(
            (got.name.as_deref(), got.test_clock.as_deref()),
            (Some("taken"), Some("clock_t"))
        );
        assert_eq!(s.invoice(live, "in_l").await.unwrap(), Some(i));
        assert_eq!(s.endpoint(live, "we_l").await.unwrap(), Some(e));
        let mut tx = s.begin().await.unwrap();
        assert!(tx.delete_test_clock(live, "clock_l").await.unwrap());
        assert!(tx.delete_customer(live, "cus_l").await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(s.test_clock(live, "clock_l").await.unwrap(), None);
        assert_eq!(s.customer(live, "cus_l").await.unwrap(), None);
        assert_eq!(
            s.test_clock(test, "clock_t").await.unwrap(),
            Some(x.clock_t)
        );
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_idempotency_key_in_test_and_live_mode_is_two_keys() {
    for (s, pg, _dir) in stores().await {
        let test = new_merchant(&s, "m").await;
        let live = Scope::live(&test.merchant_id);
        let begin = |m: &Scope, hash: &str, now: i64| {
            let (s, m, hash) = (s.clone(), m.clone(), hash.to_string());
            async move {
                s.idempotency_begin(&m, "k", &hash, now, 100, 1_000)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(begin(&live, "h_live", 0).await, IdemBegin::Proceed);
        // Not in progress, and not a mismatch: the test key is another key.
        assert_eq!(begin(&test, "h_test", 1).await, IdemBegin::Proceed);
        s.idempotency_complete(&live, "k", 201, "live")
            .await
            .unwrap();
        assert_eq!(
            begin(&test, "h_test", 10).await,
            IdemBegin::InProgress,
            "the live completion is not the test key's"
        );
        let live_replay = IdemBegin::Replay {
            status: 201,
            body: "live".into(),
        };
        assert_eq!(begin(&live, "h_live", 10).await, live_replay);
        assert_eq!(begin(&live, "h_test", 10).await, IdemBegin::Mismatch);
        // Releasing the test key leaves the live one; completing it too.
        s.idempotency_release(&test, "k").await.unwrap();
        assert_eq!(begin(&live, "h_live", 20).await, live_replay);
        assert_eq!(begin(&test, "h_other", 20).await, IdemBegin::Proceed);
        let mut tx = s.begin().await.unwrap();
        tx.complete_idempotency(&test, "k", 200, "test")
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            begin(&test, "h_other", 30).await,
            IdemBegin::Replay {
                status: 200,
                body: "test".into()
            }
        );
        assert_eq!(begin(&live, "h_live", 30).await, live_replay);
        // Releasing the finished live key changes nothing.
        s.idempotency_release(&live, "k").await.unwrap();
        assert_eq!(begin(&live, "h_live", 40).await, live_replay);
        assert_eq!(
            s.purge_idempotency_keys(1_000).await.unwrap(),
            2,
            "one row per mode"
        );
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_opens_its_merchant_in_the_mode_it_was_made_in() {
    for (s, pg, _dir) in stores().await {
        let test = new_merchant(&s, "m").await;
        let live = Scope::live(&test.merchant_id);
        let other = new_merchant(&s, "only test keys").await;
        let mut tx = s.begin().await.unwrap();
        tx.insert_api_key(&test, "h_sk_test", "secret", "sk_test_…a", 1)
            .await
            .unwrap();
        tx.insert_api_key(&live, "h_sk_live", "secret", "sk_live_…b", 2)
            .await
            .unwrap();
        tx.insert_api_key(&live, "h_pk_live", "publishable", "pk_live_x", 3)
            .await
            .unwrap();
        tx.insert_api_key(&test, "h_pk_test", "publishable", "pk_test_x", 4)
            .await
            .unwrap();
        tx.insert_api_key(&other, "h_other", "publishable", "pk_test_o", 5)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let m = s.merchant(&test.merchant_id).await.unwrap().unwrap();
        for (hash, kind, mode) in [
            ("h_sk_test", "secret", Mode::Test),
            ("h_sk_live", "secret", Mode::Live),
            ("h_pk_live", "publishable", Mode::Live),
            ("h_pk_test", "publishable", Mode::Test),
        ] {
            assert_eq!(
                s.merchant_by_key_hash(hash).await.unwrap(),
                Some((m.clone(), kind.to_string(), mode)),
                "{hash}"
            );
        }
        // The publishable key shown is the scope's own.
        assert_eq!(
            s.publishable_key(&live).await.unwrap().as_deref(),
            Some("pk_live_x")
        );
        assert_eq!(
            s.publishable_key(&test).await.unwrap().as_deref(),
            Some("pk_test_x")
        );
        assert_eq!(
            s.publishable_key(&other).await.unwrap().as_deref(),
            Some("pk_test_o")
        );
        assert_eq!(
            s.publishable_key(&Scope::live(&other.merchant_id))
                .await
                .unwrap(),
            None
        );
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_listings_name_the_scope_of_what_is_due() {
    for (s, pg, _dir) in stores().await {
        let test = new_merchant(&s, "m").await;
        let live = Scope::live(&test.merchant_id);
        let held = |m: &Scope, id: &str, at: i64, customer: Option<&str>| {
            let mut p = new_intent(m, id, 1);
            p.status = IntentStatus::RequiresCapture;
            p.amount_capturable = p.amount;
            p.review_at = Some(at);
            p.capture_before = Some(at);
            p.customer = customer.map(Into::into);
            p
        };
        let voucher = |m: &Scope, id: &str, at: i64| {
            let mut p = new_intent(m, id, 1);
            p.status = IntentStatus::RequiresAction;
            p.pay_before = Some(at);
            p
        };
        let (h_l, h_t) = (
            held(&live, "pi_hl", 100, None),
            held(&test, "pi_ht", 200, None),
        );
        let h_clock = held(&live, "pi_hc", 60, Some("cus_c"));
        let (v_l, v_t) = (voucher(&live, "pi_vl", 100), voucher(&test, "pi_vt", 200));
        let mut s_l = subscription(&live, "sub_l", "cus_l", 1);
        s_l.next_action_at = Some(100);
        let mut s_t = subscription(&test, "sub_t", "cus_t", 1);
        s_t.next_action_at = Some(200);
        let mut s_c = subscription(&live, "sub_c", "cus_c", 1);
        s_c.test_clock = Some("clock_c".into());
        s_c.next_action_at = Some(50);
        let mut cus_c = customer(&live, "cus_c", None, 1);
        cus_c.test_clock = Some("clock_c".into());
        let mut tx = s.begin().await.unwrap();
        tx.insert_test_clock(&clock(&live, "clock_c", 1))
            .await
            .unwrap();
        tx.insert_customer(&cus_c).await.unwrap();
        for p in [&h_l, &h_t, &h_clock, &v_l, &v_t] {
            tx.insert_intent(p).await.unwrap();
        }
        for x in [&s_l, &s_t, &s_c] {
            tx.insert_subscription(x).await.unwrap();
        }
        tx.commit().await.unwrap();
        let due = |m: &Scope, id: &str| (m.clone(), id.to_string());
        assert_eq!(
            s.due_reviews(1_000, 10).await.unwrap(),
            [
                due(&live, "pi_hc"),
                due(&live, "pi_hl"),
                due(&test, "pi_ht")
            ]
        );
        assert_eq!(
            s.due_authorization_expiries(1_000, 10).await.unwrap(),
            [due(&live, "pi_hl"), due(&test, "pi_ht")],
            "not the clock's"
        );
        assert_eq!(
            s.due_offline_expiries(1_000, 10).await.unwrap(),
            [due(&live, "pi_vl"), due(&test, "pi_vt")]
        );
        assert_eq!(
            s.due_subscriptions(1_000, 10).await.unwrap(),
            [due(&live, "sub_l"), due(&test, "sub_t")]
        );
        assert_eq!(
            s.next_due_on_clock("clock_c", 1_000).await.unwrap(),
            Some((live.clone(), "sub_c".to_string(), 50))
        );
        assert_eq!(
            s.next_authorization_expiry_on_clock("clock_c", 1_000)
                .await
                .unwrap(),
            Some((live.clone(), "pi_hc".to_string(), 60))
        );
        cleanup(s, pg).await;
    }
}

/// Migration 0018 keeps what was stored, all of it made with test keys: a store migrated up to
/// 0017 holds a merchant's key, payment, refund, event, endpoint, delivery, customer, saved
/// method, clock, subscription, invoice and idempotency key; after 0018 each reads back in the
/// merchant's test scope only, the key opens it in test mode, and the background listings name
/// the test scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_0018_makes_everything_stored_test_data() {
    use kassa_core::subscription::RetryPolicy;
    for (s, pg, _dir) in stores_at(false).await {
        let dir = tempfile::tempdir().unwrap();
        let early = dir.path().join("early");
        std::fs::create_dir(&early).unwrap();
        let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        for entry in std::fs::read_dir(&all).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.as_str() < "0018" {
                std::fs::copy(&path, early.join(&name)).unwrap();
            }
        }
        sqlx::migrate::Migrator::new(early.as_path())
            .await
            .unwrap()
            .run(&s.writer)
            .await
            .unwrap();
        // Rows as the schema before 0018 had them (the current code writes `livemode`).
        let exec = |sql: &'static str, binds: Vec<String>| {
            let w = s.writer.clone();
            async move {
                let mut q = sqlx::query(sql);
                for b in binds {
                    q = q.bind(b);
                }
                q.execute(&w).await.unwrap();
            }
        };
        let none = Vec::new;
        exec(
            "INSERT INTO merchants (id, name, created_at) VALUES ('acct_old', 'm', 1)",
            none(),
        )
        .await;
        exec(
            "INSERT INTO api_keys (key_hash, merchant_id, kind, display, created_at) VALUES \
             ('h_sk', 'acct_old', 'secret', 'sk_test_…a', 1), \
             ('h_pk', 'acct_old', 'publishable', 'pk_test_old', 1)",
            none(),
        )
        .await;
        exec(
            "INSERT INTO test_clocks (id, merchant_id, name, frozen_time, status, created_at) \
             VALUES ('clock_old', 'acct_old', NULL, 7000, 'ready', 1)",
            none(),
        )
        .await;
        exec(
            "INSERT INTO customers (id, merchant_id, email, metadata, created_at, updated_at, \
             test_clock) VALUES ('cus_old', 'acct_old', 'x@m.co', '{}', 1, 1, 'clock_old')",
            none(),
        )
        .await;
        exec(
            "INSERT INTO payment_intents (id, merchant_id, amount, currency, status, \
             capture_method, amount_capturable, amount_received, amount_refunded, metadata, \
             client_secret, checkout_token, processor_ref, created_at, updated_at, version, \
             review_at, order_key) VALUES \
             ('pi_old', 'acct_old', 5000, 'usd', 'requires_capture', 'manual', 5000, 0, 0, '{}', \
             'pi_old_secret', 'cs_old', 'sbx_x', 1, 1, 0, 100, 'paymob:5'), \
             ('pi_paid', 'acct_old', 5000, 'usd', 'succeeded', 'automatic', 0, 5000, 0, '{}', \
             'pi_paid_secret', 'cs_paid', 'sbx_x', 1, 1, 0, NULL, NULL)",
            none(),
        )
        .await;
        exec(
            "INSERT INTO refunds (id, merchant_id, payment_intent_id, amount, currency, status, \
             reason, metadata, processor_ref, created_at) \
             VALUES ('re_old', 'acct_old', 'pi_paid', 100, 'usd', 'succeeded', NULL, '{}', NULL, 1)",
            none(),
        )
        .await;
        exec(
            "INSERT INTO webhook_endpoints (id, merchant_id, url, enabled_events, secret_enc, \
             status, created_at) VALUES ('we_old', 'acct_old', 'https://hooks.example/old', \
             '[\"*\"]', 'v1:x', 'enabled', 1)",
            none(),
        )
        .await;
        exec(
            "INSERT INTO events (id, merchant_id, type, object_id, data, created_at) \
             VALUES ('evt_old', 'acct_old', 'payment_intent.succeeded', 'pi_paid', '{}', 1)",
            none(),
        )
        .await;
        exec(
            "INSERT INTO deliveries (id, merchant_id, channel, endpoint_id, event_id, status, \
             attempt_count, next_attempt_at, created_at, updated_at) VALUES \
             ('msg_old', 'acct_old', 'webhook', 'we_old', 'evt_old', 'succeeded', 1, 1, 1, 1)",
            none(),
        )
        .await;
        let details = serde_json::to_string(&kassa_core::method_details::PaymentMethodDetails {
            kind: "card".into(),
            last4: "4242".into(),
            ..Default::default()
        })
        .unwrap();
        exec(
            "INSERT INTO payment_methods (id, merchant_id, customer_id, kind, details, \
             processor_ref, source_payment, usage, created_at, detached_at) VALUES \
             ('pm_old', 'acct_old', 'cus_old', 'card', $1, 'sbx_x', NULL, 'off_session', 1, NULL)",
            vec![details],
        )
        .await;
        let retry = serde_json::to_string(&RetryPolicy::default()).unwrap();
        exec(
            "INSERT INTO subscriptions (id, merchant_id, customer_id, status, items, currency, \
             billing_cycle_anchor, cycle, current_period_start, current_period_end, \
             trial_will_end_sent, cancel_at_period_end, retry_policy, metadata, next_action_at, \
             created_at, updated_at, version) VALUES ('sub_old', 'acct_old', 'cus_old', \
             'active', '[]', 'usd', 0, 0, 0, 100, 0, 0, $1, '{}', 300, 1, 1, 0)",
            vec![retry],
        )
        .await;
        exec(
            "INSERT INTO invoices (id, merchant_id, customer_id, subscription_id, status, \
             currency, amount_due, amount_paid, lines, period_start, period_end, billing_reason, \
             attempt_count, created_at, updated_at) VALUES ('in_old', 'acct_old', 'cus_old', \
             'sub_old', 'open', 'usd', 0, 0, '[]', 0, 100, 'subscription_cycle', 0, 1, 1)",
            none(),
        )
        .await;
        exec(
            "INSERT INTO idempotency_keys (merchant_id, idem_key, request_hash, state, \
             response_status, response_body, locked_until, created_at) VALUES \
             ('acct_old', 'k', 'h', 'done', 201, '{\"id\":\"pi_old\"}', 0, 1)",
            none(),
        )
        .await;
        s.migrate().await.unwrap();

        let test = Scope::test("acct_old");
        let live = Scope::live("acct_old");
        let (m, kind, mode) = s.merchant_by_key_hash("h_sk").await.unwrap().unwrap();
        assert_eq!(
            (m.id.as_str(), kind.as_str(), mode),
            ("acct_old", "secret", Mode::Test)
        );
        assert_eq!(
            s.publishable_key(&test).await.unwrap().as_deref(),
            Some("pk_test_old")
        );
        assert_eq!(s.publishable_key(&live).await.unwrap(), None);

        let pi = s.intent(&test, "pi_old").await.unwrap().unwrap();
        assert_eq!(pi.scope(), test);
        assert_eq!(s.intent(&live, "pi_old").await.unwrap(), None);
        assert_eq!(
            s.list_intents(&test, 10, None)
                .await
                .unwrap()
                .unwrap()
                .len(),
            2
        );
        assert!(s
            .list_intents(&live, 10, None)
            .await
            .unwrap()
            .unwrap()
            .is_empty());
        assert_eq!(s.intents_of_order(&test, "paymob:5").await.unwrap(), [pi]);
        assert!(!s.refund(&test, "re_old").await.unwrap().unwrap().livemode);
        assert_eq!(s.refund(&live, "re_old").await.unwrap(), None);
        assert!(!s.event(&test, "evt_old").await.unwrap().unwrap().livemode);
        assert_eq!(s.event(&live, "evt_old").await.unwrap(), None);
        let ds = s.deliveries_for_event(&test, "evt_old").await.unwrap();
        assert_eq!(
            ds.iter()
                .map(|d| (d.id.as_str(), d.livemode))
                .collect::<Vec<_>>(),
            [("msg_old", false)]
        );
        assert_eq!(s.delivery(&live, "msg_old").await.unwrap(), None);
        assert!(!s.endpoint(&test, "we_old").await.unwrap().unwrap().livemode);
        assert!(s.list_endpoints(&live).await.unwrap().is_empty());
        assert!(
            !s.customer(&test, "cus_old")
                .await
                .unwrap()
                .unwrap()
                .livemode
        );
        assert_eq!(s.customer(&live, "cus_old").await.unwrap(), None);
        assert_eq!(
            s.customer_clock_time(&test, "cus_old").await.unwrap(),
            Some(7_000)
        );
        assert!(
            !s.payment_method(&test, "pm_old")
                .await
                .unwrap()
                .unwrap()
                .livemode
        );
        assert_eq!(s.payment_method(&live, "pm_old").await.unwrap(), None);
        assert!(
            !s.test_clock(&test, "clock_old")
                .await
                .unwrap()
                .unwrap()
                .livemode
        );
        assert_eq!(s.test_clock(&live, "clock_old").await.unwrap(), None);
        assert!(
            !s.subscription(&test, "sub_old")
                .await
                .unwrap()
                .unwrap()
                .livemode
        );
        assert_eq!(s.subscription(&live, "sub_old").await.unwrap(), None);
        assert!(!s.invoice(&test, "in_old").await.unwrap().unwrap().livemode);
        assert_eq!(s.invoice(&live, "in_old").await.unwrap(), None);

        // The stored idempotency key is the test key; the live one is new.
        assert_eq!(
            s.idempotency_begin(&test, "k", "h", 10, 100, 1_000)
                .await
                .unwrap(),
            IdemBegin::Replay {
                status: 201,
                body: "{\"id\":\"pi_old\"}".into()
            }
        );
        assert_eq!(
            s.idempotency_begin(&live, "k", "h", 10, 100, 1_000)
                .await
                .unwrap(),
            IdemBegin::Proceed
        );

        assert_eq!(
            s.due_reviews(1_000, 10).await.unwrap(),
            [(test.clone(), "pi_old".to_string())]
        );
        assert_eq!(
            s.due_subscriptions(1_000, 10).await.unwrap(),
            [(test.clone(), "sub_old".to_string())]
        );
        cleanup(s, pg).await;
    }
}
