//! Purging a merchant's test data: every test row of it goes, its live rows, its configuration
//! and other merchants' rows stay, a second purge deletes nothing, and work in flight on a
//! purged row finds nothing to do.

use std::collections::BTreeMap;

use kassa_core::intent::{AttemptStatus, IntentStatus};
use kassa_core::invoice::Invoice;
use kassa_core::payment_method::{PaymentMethod, SetupFutureUsage};

use super::billing::subscription;
use super::customers::customer;
use super::paymentwall::{order, project};
use super::paymob::{pm_order, profile};
use super::refunds::refund;
use super::webhooks::{attempt, endpoint};
use super::*;

/// Seeds one merchant's objects of every kind in one mode. `tag` makes ids unique, `pm` the
/// Paymob ids (each of its tables counts on its own).
async fn seed_mode(s: &Store, scope: &Scope, tag: &str, pm: i64) {
    let id = |kind: &str| format!("{kind}_{tag}");
    let mut cus = customer(scope, &id("cus"), Some("x@m.co"), 10);
    cus.test_clock = Some(id("clock"));
    let clock = TestClock {
        id: id("clock"),
        merchant_id: scope.merchant_id.clone(),
        livemode: scope.livemode,
        name: None,
        frozen_time: 7_000,
        status: "ready".into(),
        created: 10,
    };
    let mut pi = new_intent(scope, &id("pi"), 10);
    pi.status = IntentStatus::Succeeded;
    pi.amount_received = pi.amount;
    pi.customer = Some(cus.id.clone());
    let pi_pm = new_intent(scope, &id("pipm"), 11);
    let att = PaymentAttempt {
        id: id("pa"),
        payment_intent_id: pi.id.clone(),
        status: AttemptStatus::Succeeded,
        payment_method: None,
        processor_ref: None,
        challenge_state: None,
        error: None,
        created_at: 10,
        updated_at: 10,
    };
    let method = PaymentMethod {
        id: id("pm"),
        merchant_id: scope.merchant_id.clone(),
        livemode: scope.livemode,
        customer: Some(cus.id.clone()),
        kind: "card".into(),
        details: kassa_core::method_details::PaymentMethodDetails {
            kind: "card".into(),
            last4: "4242".into(),
            ..Default::default()
        },
        processor_ref: "sbx_x".into(),
        source_payment: None,
        usage: SetupFutureUsage::OffSession,
        created: 10,
        detached_at: None,
    };
    let sub = subscription(scope, &id("sub"), &cus.id, 10);
    let inv = Invoice::for_period(id("in"), &sub, "subscription_cycle", 10);
    let we = endpoint(scope, &id("we"), &["*"], "enabled", 10);
    let ev = new_event(scope, EventType::PaymentIntentSucceeded, 10);
    let account = ProcessorAccount {
        id: id("acct_pa"),
        merchant_id: scope.merchant_id.clone(),
        livemode: scope.livemode,
        connector: "stripe".into(),
        credentials_enc: "sealed".into(),
        display: "{}".into(),
        status: "active".into(),
        created_at: 1,
        removed_at: None,
    };
    let mut prof = profile(&scope.merchant_id, pm);
    prof.live = scope.livemode;

    let mut tx = s.begin().await.unwrap();
    tx.insert_api_key(scope, &id("key"), "secret", "sk_…", 1)
        .await
        .unwrap();
    tx.insert_processor_account(&account).await.unwrap();
    tx.insert_test_clock(&clock).await.unwrap();
    tx.insert_customer(&cus).await.unwrap();
    tx.insert_intent(&pi).await.unwrap();
    tx.insert_intent(&pi_pm).await.unwrap();
    tx.insert_attempt(&att).await.unwrap();
    tx.insert_refund(&refund(scope, &id("re"), &pi.id, 10))
        .await
        .unwrap();
    tx.insert_payment_method(&method).await.unwrap();
    tx.insert_subscription(&sub).await.unwrap();
    tx.insert_invoice(&inv).await.unwrap();
    tx.insert_endpoint(&we).await.unwrap();
    // The event queues a delivery to the endpoint; a pingback and a manual delivery join it.
    tx.insert_event(&ev, &pi.id).await.unwrap();
    tx.insert_request_delivery(scope, Channel::Pingback, "pwp", &ev.id, "https://pb/", 10)
        .await
        .unwrap();
    let manual = tx
        .insert_manual_delivery(scope, Channel::Webhook, &we.id, &ev.id, 20)
        .await
        .unwrap();
    // Paymob: the profile and its integration and plan (configuration), its objects (data).
    tx.insert_pm_profile(&prof).await.unwrap();
    tx.insert_pm_integration(&PmIntegration {
        id: pm,
        profile_id: pm,
        name: "card".into(),
        doc: "{}".into(),
        created_at: 1,
    })
    .await
    .unwrap();
    tx.insert_pm_plan(&PmPlan {
        id: pm,
        profile_id: pm,
        doc: "{}".into(),
        created_at: 1,
        updated_at: 1,
    })
    .await
    .unwrap();
    tx.insert_pm_order(&pm_order(pm, pm, Some("order-1")))
        .await
        .unwrap();
    tx.insert_pm_intention(&PmIntention {
        id: id("pmi"),
        profile_id: pm,
        client_secret: id("csk"),
        order_id: pm,
        expires_at: 5_000,
        doc: "{}".into(),
        created_at: 10,
        updated_at: 10,
    })
    .await
    .unwrap();
    tx.insert_pm_transaction(&PmTransaction {
        id: pm,
        profile_id: pm,
        order_id: pm,
        intent_id: Some(pi_pm.id.clone()),
        parent_id: None,
        kind: "payment".into(),
        obj: "{}".into(),
        extra: "{}".into(),
        created_at: 10,
        updated_at: 10,
    })
    .await
    .unwrap();
    tx.insert_pm_card_token(&PmCardToken {
        id: pm,
        profile_id: pm,
        token_hash: id("th"),
        token_enc: "v1:tok".into(),
        order_id: pm,
        processor_ref: "sbx_x".into(),
        obj: "{}".into(),
        created_at: 10,
        customer_id: Some(cus.id.clone()),
        payment_method_id: Some(method.id.clone()),
    })
    .await
    .unwrap();
    tx.insert_pm_subscription(&PmSubscription {
        id: pm,
        profile_id: pm,
        plan_id: pm,
        subscription_id: None,
        version: 0,
        doc: "{}".into(),
        created_at: 10,
        updated_at: 10,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    s.record_manual_attempt(&attempt(&manual, 0, 30, Some(500)), false)
        .await
        .unwrap();
    assert_eq!(
        s.idempotency_begin(scope, &id("idem"), "h", 1, 1_000, 1_000)
            .await
            .unwrap(),
        IdemBegin::Proceed
    );
}

/// Seeds a merchant's test and live data, its Paymentwall project (test mode) with an order,
/// a subscription and a delivery confirmation, and its branding.
async fn seed_merchant(s: &Store, name: &str, pm: i64) -> Scope {
    let test = new_merchant(s, name).await;
    let live = Scope::live(&test.merchant_id);
    seed_mode(s, &test, &format!("{name}_t"), pm).await;
    seed_mode(s, &live, &format!("{name}_l"), pm + 1).await;
    let p = project(
        &test.merchant_id,
        &format!("pwp_{name}"),
        &format!("key_{name}"),
        1,
    );
    let pi = new_intent(&test, &format!("pipw_{name}"), 12);
    let o = order(&p, &format!("pwo_{name}"), &pi.id, "u1", 12);
    let sub = PwSubscription {
        id: format!("pws_{name}"),
        project_id: p.id.clone(),
        merchant_id: test.merchant_id.clone(),
        initial_order_id: o.id.clone(),
        uid: "u1".into(),
        status: "active".into(),
        plan: "{}".into(),
        phase: "trial".into(),
        payments: 1,
        failed_attempts: 0,
        clock_offset_ms: 0,
        is_test: true,
        created_at: 12,
        updated_at: 12,
        version: 0,
        subscription_id: None,
        livemode: false,
    };
    let mut tx = s.begin().await.unwrap();
    tx.insert_pw_project(&p).await.unwrap();
    tx.insert_intent(&pi).await.unwrap();
    tx.insert_pw_order(&o).await.unwrap();
    tx.insert_pw_subscription(&sub).await.unwrap();
    tx.insert_pw_delivery_confirmation(&PwDeliveryConfirmation {
        id: format!("pwd_{name}"),
        project_id: p.id.clone(),
        payment_ref: "r1".into(),
        status: "delivered".into(),
        payload: "{}".into(),
        created_at: 12,
    })
    .await
    .unwrap();
    tx.insert_logo(&Logo {
        id: format!("logo_{name}"),
        merchant_id: test.merchant_id.clone(),
        png_base64: "iVBORw0KGgo=".into(),
        width: 1,
        height: 1,
        created_at: 1,
    })
    .await
    .unwrap();
    tx.put_branding(&BrandingRow {
        merchant_id: test.merchant_id.clone(),
        scope: "merchant".into(),
        display_name: Some(name.into()),
        logo_id: Some(format!("logo_{name}")),
        ..Default::default()
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    test
}

/// The kinds a purge deletes, and how each is counted per merchant (`$1`) and mode (`$2`).
const PURGED: &[(&str, &str)] = &[
    ("payment_intents", "SELECT COUNT(*) FROM payment_intents WHERE merchant_id = $1 AND livemode = $2"),
    ("payment_attempts", "SELECT COUNT(*) FROM payment_attempts a JOIN payment_intents p ON p.id = a.payment_intent_id WHERE p.merchant_id = $1 AND p.livemode = $2"),
    ("refunds", "SELECT COUNT(*) FROM refunds WHERE merchant_id = $1 AND livemode = $2"),
    ("events", "SELECT COUNT(*) FROM events WHERE merchant_id = $1 AND livemode = $2"),
    ("deliveries", "SELECT COUNT(*) FROM deliveries WHERE merchant_id = $1 AND livemode = $2"),
    ("delivery_attempts", "SELECT COUNT(*) FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.merchant_id = $1 AND d.livemode = $2"),
    ("customers", "SELECT COUNT(*) FROM customers WHERE merchant_id = $1 AND livemode = $2"),
    ("payment_methods", "SELECT COUNT(*) FROM payment_methods WHERE merchant_id = $1 AND livemode = $2"),
    ("subscriptions", "SELECT COUNT(*) FROM subscriptions WHERE merchant_id = $1 AND livemode = $2"),
    ("invoices", "SELECT COUNT(*) FROM invoices WHERE merchant_id = $1 AND livemode = $2"),
    ("test_clocks", "SELECT COUNT(*) FROM test_clocks WHERE merchant_id = $1 AND livemode = $2"),
    ("idempotency_keys", "SELECT COUNT(*) FROM idempotency_keys WHERE merchant_id = $1 AND livemode = $2"),
    // Paymentwall works in test mode: its objects count as test data.
    ("pw_orders", "SELECT COUNT(*) FROM pw_orders WHERE merchant_id = $1 AND $2 = 0"),
    ("pw_subscriptions", "SELECT COUNT(*) FROM pw_subscriptions WHERE merchant_id = $1 AND $2 = 0"),
    ("pw_delivery_confirmations", "SELECT COUNT(*) FROM pw_delivery_confirmations c JOIN pw_projects p ON p.id = c.project_id WHERE p.merchant_id = $1 AND $2 = 0"),
    ("pm_orders", "SELECT COUNT(*) FROM pm_orders x JOIN pm_profiles p ON p.id = x.profile_id WHERE p.merchant_id = $1 AND p.live = $2"),
    ("pm_intentions", "SELECT COUNT(*) FROM pm_intentions x JOIN pm_profiles p ON p.id = x.profile_id WHERE p.merchant_id = $1 AND p.live = $2"),
    ("pm_transactions", "SELECT COUNT(*) FROM pm_transactions x JOIN pm_profiles p ON p.id = x.profile_id WHERE p.merchant_id = $1 AND p.live = $2"),
    ("pm_card_tokens", "SELECT COUNT(*) FROM pm_card_tokens x JOIN pm_profiles p ON p.id = x.profile_id WHERE p.merchant_id = $1 AND p.live = $2"),
    ("pm_subscriptions", "SELECT COUNT(*) FROM pm_subscriptions x JOIN pm_profiles p ON p.id = x.profile_id WHERE p.merchant_id = $1 AND p.live = $2"),
];

/// Configuration: never purged, in either mode.
const KEPT: &[(&str, &str)] = &[
    ("merchants", "SELECT COUNT(*) FROM merchants WHERE id = $1 AND $2 = 0"),
    ("api_keys", "SELECT COUNT(*) FROM api_keys WHERE merchant_id = $1 AND livemode = $2"),
    ("webhook_endpoints", "SELECT COUNT(*) FROM webhook_endpoints WHERE merchant_id = $1 AND livemode = $2"),
    ("processor_accounts", "SELECT COUNT(*) FROM processor_accounts WHERE merchant_id = $1 AND livemode = $2"),
    ("pw_projects", "SELECT COUNT(*) FROM pw_projects WHERE merchant_id = $1 AND $2 = 0"),
    ("pm_profiles", "SELECT COUNT(*) FROM pm_profiles WHERE merchant_id = $1 AND live = $2"),
    ("pm_integrations", "SELECT COUNT(*) FROM pm_integrations x JOIN pm_profiles p ON p.id = x.profile_id WHERE p.merchant_id = $1 AND p.live = $2"),
    ("pm_plans", "SELECT COUNT(*) FROM pm_plans x JOIN pm_profiles p ON p.id = x.profile_id WHERE p.merchant_id = $1 AND p.live = $2"),
    ("brandings", "SELECT COUNT(*) FROM brandings WHERE merchant_id = $1 AND $2 = 0"),
    ("logos", "SELECT COUNT(*) FROM logos WHERE merchant_id = $1 AND $2 = 0"),
];

/// Rows per kind of a merchant: (test, live).
async fn census(
    s: &Store,
    merchant_id: &str,
    kinds: &[(&str, &str)],
) -> BTreeMap<String, (i64, i64)> {
    let mut out = BTreeMap::new();
    for (kind, sql) in kinds {
        let mut n = [0i64; 2];
        for (i, livemode) in [0i64, 1].into_iter().enumerate() {
            let row = sqlx::query(sql)
                .bind(merchant_id)
                .bind(livemode)
                .fetch_one(&s.reader)
                .await
                .unwrap();
            n[i] = row.get::<i64, _>(0);
        }
        out.insert(kind.to_string(), (n[0], n[1]));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_deletes_the_merchants_test_data_and_nothing_else() {
    for (s, pg, _dir) in stores().await {
        let a = seed_merchant(&s, "a", 10).await;
        let b = seed_merchant(&s, "b", 20).await;
        let a_before = census(&s, &a.merchant_id, PURGED).await;
        let a_config = census(&s, &a.merchant_id, KEPT).await;
        let b_before = census(&s, &b.merchant_id, PURGED).await;
        let b_config = census(&s, &b.merchant_id, KEPT).await;
        for (kind, (test, live)) in &a_before {
            assert!(*test > 0, "{kind}: the seed has test rows");
            let test_only = kind.starts_with("pw_");
            assert_eq!(*live > 0, !test_only, "{kind}: the seed has live rows");
        }
        for (kind, (test, _)) in &a_config {
            assert!(*test > 0, "{kind}: the seed has configuration");
        }

        let mut tx = s.begin().await.unwrap();
        let counts = tx.purge_test_data(&a.merchant_id).await.unwrap();
        tx.commit().await.unwrap();

        // Every kind reports what it deleted: all of the merchant's test rows of it.
        let reported: BTreeMap<String, i64> = counts
            .entries()
            .iter()
            .map(|(k, n)| (k.to_string(), *n as i64))
            .collect();
        let expected: BTreeMap<String, i64> =
            a_before.iter().map(|(k, (t, _))| (k.clone(), *t)).collect();
        assert_eq!(reported, expected);
        assert_eq!(counts.total() as i64, expected.values().sum::<i64>());
        assert_eq!(
            counts.payment_intents, 3,
            "paid, Paymob's and Paymentwall's"
        );
        assert_eq!(counts.deliveries, 3, "webhook, pingback and manual");

        // The test rows are gone, the live ones and the configuration stay.
        let a_after = census(&s, &a.merchant_id, PURGED).await;
        for (kind, (test, live)) in &a_after {
            assert_eq!(*test, 0, "{kind}: test rows are gone");
            assert_eq!(*live, a_before[kind].1, "{kind}: live rows stay");
        }
        assert_eq!(census(&s, &a.merchant_id, KEPT).await, a_config);
        // The other merchant is untouched.
        assert_eq!(census(&s, &b.merchant_id, PURGED).await, b_before);
        assert_eq!(census(&s, &b.merchant_id, KEPT).await, b_config);
        // Through the store's own reads.
        let live = Scope::live(&a.merchant_id);
        assert_eq!(s.intent(&a, "pi_a_t").await.unwrap(), None);
        assert!(s.intent(&live, "pi_a_l").await.unwrap().is_some());
        assert!(s.intent(&b, "pi_b_t").await.unwrap().is_some());
        assert_eq!(s.customer(&a, "cus_a_t").await.unwrap(), None);
        assert!(s.customer(&live, "cus_a_l").await.unwrap().is_some());
        assert!(s.endpoint(&a, "we_a_t").await.unwrap().is_some());
        assert!(s
            .pw_project(&a.merchant_id, "pwp_a")
            .await
            .unwrap()
            .is_some());
        assert_eq!(s.pw_order("pwo_a").await.unwrap(), None);
        assert!(s.pw_order("pwo_b").await.unwrap().is_some());

        // Nothing is left to delete.
        let mut tx = s.begin().await.unwrap();
        let again = tx.purge_test_data(&a.merchant_id).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(again, PurgeCounts::default());
        assert_eq!(again.total(), 0);
        assert_eq!(census(&s, &a.merchant_id, PURGED).await, a_after);
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_in_flight_on_purged_rows_finds_nothing_to_do() {
    for (s, pg, _dir) in stores().await {
        let m = new_merchant(&s, "m").await;
        let we = endpoint(&m, "we_1", &["*"], "enabled", 1);
        let ev = new_event(&m, EventType::PaymentIntentSucceeded, 1);
        let mut sub = subscription(&m, "sub_1", "cus_1", 1);
        sub.next_action_at = Some(50);
        let mut tx = s.begin().await.unwrap();
        tx.insert_endpoint(&we).await.unwrap();
        tx.insert_event(&ev, "pi_1").await.unwrap();
        tx.insert_subscription(&sub).await.unwrap();
        tx.commit().await.unwrap();

        // A worker holds the delivery, the scheduler the subscription.
        let claimed = s.claim_deliveries("w1", 100, 60_000, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        let d = &claimed[0];
        let mut tx = s.begin().await.unwrap();
        assert!(tx
            .claim_subscription("sub_1", 0, 100, 60_000)
            .await
            .unwrap());
        tx.commit().await.unwrap();
        sub.version = 1;

        // The purge waits for no lease; a worker recording its attempt meanwhile waits for the
        // purge and then finds its lease gone, without adding an attempt to a deleted delivery.
        let mut tx = s.begin().await.unwrap();
        let counts = tx.purge_test_data(&m.merchant_id).await.unwrap();
        assert_eq!((counts.deliveries, counts.subscriptions), (1, 1));
        let worker = {
            let (s, a) = (s.clone(), attempt(&d.id, 1, 200, Some(200)));
            tokio::spawn(
                async move { s.record_attempt("w1", &a, DeliveryOutcome::Succeeded).await },
            )
        };
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        tx.commit().await.unwrap();
        assert!(!worker.await.unwrap().unwrap(), "the lease is gone");
        assert!(s.delivery_attempts(&d.id).await.unwrap().is_empty());
        assert!(s
            .claim_deliveries("w1", 100_000, 200_000, 10)
            .await
            .unwrap()
            .is_empty());

        // The scheduler's step: its write finds no row at its version (and writes nothing),
        // and the next pass has nothing to claim.
        let mut tx = s.begin().await.unwrap();
        assert!(matches!(
            tx.update_subscription(&mut sub, None).await,
            Err(StoreError::Conflict)
        ));
        assert_eq!(tx.subscription(&m, "sub_1").await.unwrap(), None);
        assert!(!tx
            .claim_subscription("sub_1", 1, 100, 60_000)
            .await
            .unwrap());
        drop(tx);
        assert!(s.due_subscriptions(100_000, 10).await.unwrap().is_empty());
        cleanup(s, pg).await;
    }
}
