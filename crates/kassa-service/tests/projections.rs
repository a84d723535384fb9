//! The faces as projections of the core, without HTTP: a face's command or a core command
//! changes a payment, and each registered projection renders its wire object and queues its
//! notification in the same transaction. The outbox is read back from the store and each
//! notification is checked the way a merchant checks it (signature and fields).
//!
//! SQLite always; PostgreSQL too when `KASSA_TEST_POSTGRES_URL` names a server (each run makes
//! and drops its own database).

use kassa_core::card::{CardNumber, Expiry};
use kassa_core::intent::{IntentStatus, Metadata, RefundKind};
use kassa_processor::PaymentMethodInput;
use kassa_service::paymentwall::{LinkPath, ProjectInput};
use kassa_service::paymob::{IntegrationInput, ProfileInput};
use kassa_service::CreateRefundParams;
use kassa_store::{Channel, Delivery, Store};
use serde_json::{json, Value};

mod common;
use common::{databases, drop_db, services};

/// Everything queued on `channel`, oldest first. Each read claims the whole outbox at a later
/// instant than the last, with a lease that has run out by the next read.
async fn outbox(store: &Store, channel: Channel) -> Vec<Delivery> {
    static READS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
    let n = READS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let at = kassa_store::now_ms() + 86_400_000 * n;
    let mut all = store
        .claim_deliveries("test", at, at + 1, 100)
        .await
        .unwrap();
    all.retain(|d| d.channel == channel);
    all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    all
}

fn card(number: &str) -> PaymentMethodInput {
    PaymentMethodInput::Card {
        number: CardNumber::parse(number).unwrap(),
        expiry: Expiry::parse("12", "2039").unwrap(),
        cvc: "123".into(),
        holder_name: Some("Test Account".into()),
    }
}

fn refund(pi: &str, amount: i64) -> CreateRefundParams {
    CreateRefundParams {
        payment_intent: pi.into(),
        amount: Some(amount),
        kind: RefundKind::Refund,
        reason: None,
        metadata: Metadata::new(),
    }
}

/// Paymob: a payment made through the pay command renders its transaction and queues its
/// signed callback; a native refund (a core command that names no face) gets a refund child
/// and its callback from the projection, in the refund's transaction.
#[tokio::test]
async fn paymob_renders_transactions_and_callbacks_from_core_changes() {
    for db in databases().await {
        let svc = services(&db.store);
        let m = svc.create_merchant("Nile Shop").await.unwrap();
        let cb = "http://127.0.0.1:9/paymob-callback";
        let p = svc
            .paymob()
            .create_profile(
                &m.id,
                ProfileInput {
                    name: Some("Nile Shop".into()),
                    integrations: vec![IntegrationInput {
                        kind: "card".into(),
                        processed_callback_url: Some(cb.into()),
                        three_d_secure: Some(false),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let integration = p.integrations[0].id;
        let intention = svc
            .paymob().create_intention(
                &p.profile,
                &json!({"amount": 10000, "currency": "EGP", "payment_methods": [integration],
                        "billing_data": {"first_name": "Mona", "last_name": "Adel",
                                         "email": "mona@example.com", "phone_number": "+201001234567"},
                        "items": []}),
            )
            .await
            .unwrap();
        let token = intention["payment_keys"][0]["key"].as_str().unwrap();
        let paid = svc
            .paymob().pay(&json!({"payment_token": token, "source": {
                "subtype": "CARD", "identifier": "4242424242424242", "sourceholder_name": "Test Account",
                "expiry_month": "12", "expiry_year": "39", "cvn": "123"}}))
            .await
            .unwrap();
        assert_eq!(paid.status, 200);
        let txn_id = paid.body["id"].as_i64().unwrap();

        let calls = outbox(&db.store, Channel::PaymobCallback).await;
        assert_eq!(calls.len(), 1, "one TRANSACTION callback for the payment");
        let (obj, url) = verified_callback(&calls[0], &p.hmac_secret);
        assert!(url.starts_with(cb));
        assert_eq!(obj["id"], json!(txn_id));
        assert_eq!(
            (&obj["success"], &obj["pending"]),
            (&json!(true), &json!(false))
        );
        assert_eq!(
            obj["source_data"],
            json!({"type": "card", "sub_type": "Visa", "pan": "4242"})
        );
        assert_eq!(obj["data"]["txn_response_code"], json!("APPROVED"));
        assert_eq!(obj["amount_cents"], json!(10000));
        // Resending the event to the profile resends this very callback (the same delivery).
        let resent = svc
            .webhooks()
            .resend_event(
                &kassa_store::Scope::test(&m.id),
                &calls[0].event_id,
                &format!("pmp_{}", p.profile.id),
            )
            .await
            .unwrap();
        assert_eq!(resent["id"], json!(calls[0].id));
        assert_eq!(resent["attempts"][0]["trigger"], json!("manual"));
        // The stored object is the one the inquiry API shows.
        let stored = svc
            .paymob()
            .get_transaction(&p.profile, txn_id)
            .await
            .unwrap();
        assert_eq!(stored, obj);

        // A native refund of the core payment: the projection writes the child and its callback.
        let row = db.store.pm_transaction(txn_id).await.unwrap().unwrap();
        let pi = row.intent_id.clone().unwrap();
        let r = svc
            .payments()
            .create_refund(&kassa_store::Scope::test(&m.id), refund(&pi, 2500), None)
            .await
            .unwrap();
        let calls = outbox(&db.store, Channel::PaymobCallback).await;
        assert_eq!(calls.len(), 2);
        let (child, _) = verified_callback(&calls[1], &p.hmac_secret);
        assert_eq!(child["parent_transaction"], json!(txn_id));
        assert_eq!(
            (
                &child["is_refund"],
                &child["amount_cents"],
                &child["success"]
            ),
            (&json!(true), &json!(2500), &json!(true))
        );
        assert_eq!(child["data"]["refund_id"], json!(r.id));
        let parent = svc
            .paymob()
            .get_transaction(&p.profile, txn_id)
            .await
            .unwrap();
        assert_eq!(
            (&parent["is_refunded"], &parent["refunded_amount_cents"]),
            (&json!(true), &json!(2500))
        );
        drop_db(db).await;
    }
}

/// The callback's object, after checking its HMAC as a merchant's server does.
fn verified_callback(d: &Delivery, hmac_secret: &str) -> (Value, String) {
    let url = d.request_url.clone().expect("a callback has its URL");
    let body: Value = serde_json::from_str(d.request_body.as_deref().unwrap()).unwrap();
    assert_eq!(body["type"], json!("TRANSACTION"));
    let obj = body["obj"].clone();
    let given = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "hmac")
        .map(|(_, v)| v.to_string())
        .expect("the callback URL carries its hmac");
    assert_eq!(
        given,
        kassa_paymob::hmac::transaction_hmac(hmac_secret, &obj),
        "the callback's HMAC matches its object"
    );
    (obj, url)
}

/// Paymentwall: paying an order's page queues a signed pingback (type 0); a native refund
/// (the core command) queues the negative pingback (type 2) with Paymentwall's reason for a
/// partial refund.
#[tokio::test]
async fn paymentwall_queues_pingbacks_from_core_changes() {
    use kassa_paymentwall::{encode_query, sign_widget, verify_pingback, ApiType, SignVersion};

    for db in databases().await {
        let svc = services(&db.store);
        let m = svc.create_merchant("Game Shop").await.unwrap();
        let project = svc
            .paymentwall()
            .create_project(
                &m.id,
                ProjectInput {
                    name: Some("Game Shop".into()),
                    api_type: Some("digital_goods".into()),
                    pingback_url: Some("http://127.0.0.1:9/pingback".into()),
                    test_method: Some(true),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut params: Vec<(String, String)> = [
            ("key", project.row.project_key.as_str()),
            ("uid", "user40012"),
            ("widget", "p1_1"),
            ("amount", "9.99"),
            ("currencyCode", "USD"),
            ("ag_name", "Gold Membership"),
            ("ag_external_id", "product301"),
            ("ag_type", "fixed"),
            ("sign_version", "2"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let sign = sign_widget(&params, &project.secret, SignVersion::V2);
        params.push(("sign".into(), sign));
        let order = svc
            .paymentwall()
            .open_link(LinkPath::Any, &encode_query(&params), Some("US".into()))
            .await
            .unwrap()
            .expect("the signed link opens");
        let view = svc.paymentwall().order_view(&order.id).await.unwrap();
        let method = view.methods.first().expect("a method is offered").id;
        let pi = svc
            .paymentwall()
            .pay(&view, method, card("4242424242424242"), None)
            .await
            .unwrap();
        assert_eq!(pi.status, IntentStatus::Succeeded);

        let pingbacks = outbox(&db.store, Channel::Pingback).await;
        assert_eq!(pingbacks.len(), 1, "one pingback for the payment");
        let q = verified_pingback(&pingbacks[0], &project.secret, project.api_type.wire());
        assert_eq!(get(&q, "type"), "0");
        assert_eq!(get(&q, "uid"), "user40012");
        assert_eq!(get(&q, "goodsid"), "product301");
        let r#ref = get(&q, "ref").to_string();
        // Resending the event to the project resends this very pingback; another merchant
        // cannot name it.
        let resent = svc
            .webhooks()
            .resend_event(
                &kassa_store::Scope::test(&m.id),
                &pingbacks[0].event_id,
                &project.row.id,
            )
            .await
            .unwrap();
        assert_eq!(resent["id"], json!(pingbacks[0].id));
        let other = svc.create_merchant("Other").await.unwrap();
        assert!(svc
            .webhooks()
            .resend_event(
                &kassa_store::Scope::test(&other.id),
                &pingbacks[0].event_id,
                &project.row.id
            )
            .await
            .is_err());

        svc.payments()
            .create_refund(&kassa_store::Scope::test(&m.id), refund(&pi.id, 300), None)
            .await
            .unwrap();
        let pingbacks = outbox(&db.store, Channel::Pingback).await;
        assert_eq!(pingbacks.len(), 2);
        let q = verified_pingback(&pingbacks[1], &project.secret, project.api_type.wire());
        assert_eq!(get(&q, "type"), "2");
        assert_eq!(get(&q, "ref"), r#ref);
        assert_eq!(get(&q, "reason"), "10", "a partial refund's reason");
        drop_db(db).await;
    }

    fn verified_pingback(d: &Delivery, secret: &str, api: ApiType) -> Vec<(String, String)> {
        let url = url::Url::parse(d.request_url.as_deref().unwrap()).unwrap();
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert!(
            verify_pingback(&q, secret, api),
            "the pingback's signature checks: {url}"
        );
        q
    }

    fn get<'a>(q: &'a [(String, String)], k: &str) -> &'a str {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}
