//! Live mode through a real connector: a merchant adds a Stripe processor account and takes
//! live payments through it, against localstripe (a fake Stripe run beside the test, see
//! `kassa_stripe::testing`). Skipped without localstripe unless `KASSA_REQUIRE_INTEROP=1`.

mod common;

use axum::http::StatusCode;
use common::{Db, TestApp};
use kassa::reexport::service::Mode;
use serde_json::{json, Value};

/// The secret key the merchant gives Kassa for its Stripe account (localstripe takes any
/// `sk_…`; live mode requires a live one).
const STRIPE_KEY: &str = "sk_live_kassa_interop_0001";
/// A card number no test suite publishes: Kassa sends it on in live mode.
const CARD: &str = "4485275742308327";

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

fn card(number: &str) -> Value {
    json!({"payment_method_data": {"type": "card", "card": {
        "number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}})
}

/// A production server behind https whose Stripe connector talks to localstripe, and the demo
/// merchant's live secret key.
async fn live_server(db: Db) -> Option<(TestApp, String)> {
    let stripe = kassa_stripe::testing::server()?;
    live_server_at(db, stripe.addr, 10).await
}

/// [`live_server`] reaching Stripe at `api` (localstripe, or a proxy in front of it), giving up
/// on an answer after `timeout_secs`.
async fn live_server_at(
    db: Db,
    api: std::net::SocketAddr,
    timeout_secs: u64,
) -> Option<(TestApp, String)> {
    let app = TestApp::spawn_production(db, |cfg| {
        cfg.base_url = Some("https://pay.example".into());
        cfg.egress_allow = vec!["127.0.0.1".into()];
        cfg.stripe.api_base = format!("http://{api}");
        cfg.stripe.compat = "localstripe".into();
        cfg.stripe.timeout_secs = timeout_secs;
    })
    .await?;
    let keys = app
        .svc
        .create_api_keys(&app.merchant_id, Mode::Live)
        .await
        .unwrap();
    Some((app, keys.secret_key))
}

/// The signing secret of the account's Stripe webhook endpoint.
const WEBHOOK_SECRET: &str = "whsec_kassa_interop_0001";

async fn add_stripe_account(app: &TestApp, live: &str) -> Value {
    let (s, a) = app
        .post_as(
            live,
            "/v1/processor_accounts",
            json!({"connector": "stripe", "credentials": {
                "secret_key": STRIPE_KEY, "webhook_secret": WEBHOOK_SECRET}}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    a
}

/// The PaymentIntents localstripe holds for `amount` (each test uses its own amount).
async fn stripe_intents_of(amount: i64) -> Vec<Value> {
    let stripe = kassa_stripe::testing::server().unwrap();
    let all: Value = reqwest::Client::new()
        .get(format!(
            "http://{}/v1/payment_intents?limit=100",
            stripe.addr
        ))
        .bearer_auth(STRIPE_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    all["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["amount"] == amount)
        .cloned()
        .collect()
}

/// Creates a live intent of `amount` and confirms it with [`CARD`] through a proxy that loses
/// Stripe's answer to the PaymentIntent's creation: Kassa answers `processing`.
async fn confirm_with_lost_answer(app: &TestApp, live: &str, amount: i64) -> Value {
    let (_, pi) = app
        .post_as(
            live,
            "/v1/payment_intents",
            json!({"amount": amount, "currency": "usd"}),
            None,
        )
        .await;
    let (s, v) = app
        .post_as(
            live,
            &format!("/v1/payment_intents/{}/confirm", id(&pi)),
            card(CARD),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "processing", "{v}");
    v
}

async fn events_about(app: &TestApp, key: &str, kind: &str, object: &str) -> usize {
    let (_, events) = app.get_as(key, "/v1/events?limit=100").await;
    events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind && e["data"]["object"]["id"] == object)
        .count()
}

async fn processor_accounts_are_live_configuration(db: Db) {
    let Some((app, live)) = live_server(db).await else {
        return;
    };
    // Test mode always uses the sandbox.
    let (s, v) = app
        .post(
            "/v1/processor_accounts",
            json!({"connector": "stripe", "credentials": {"secret_key": STRIPE_KEY}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // The connector checks the credentials: unknown connector, a test key for live mode, an
    // unknown field.
    for (body, param) in [
        (json!({"connector": "acme", "credentials": {}}), "connector"),
        (
            json!({"connector": "stripe", "credentials": {"secret_key": "sk_test_abc"}}),
            "credentials",
        ),
        (
            json!({"connector": "stripe", "credentials": {"secret_key": STRIPE_KEY, "pin": "1"}}),
            "credentials",
        ),
        (
            json!({"connector": "stripe", "credentials": {}}),
            "credentials",
        ),
    ] {
        let (s, v) = app
            .post_as(&live, "/v1/processor_accounts", body.clone(), None)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["error"]["param"], param, "{v}");
    }
    let a = add_stripe_account(&app, &live).await;
    assert_eq!(a["livemode"], true);
    assert_eq!(a["status"], "active");
    assert_eq!(a["connector"], "stripe");
    // Secrets are never shown back, only their prefix and last four.
    assert_eq!(a["credentials"]["secret_key"], "sk_live_…0001");
    assert_eq!(a["credentials"]["webhook_secret"], "whsec_…0001");
    assert!(!a.to_string().contains(STRIPE_KEY));
    assert_eq!(
        a["webhook_url"],
        format!("https://pay.example/v1/processor_webhooks/{}", id(&a))
    );
    assert_eq!(a["capabilities"]["partial_capture"], true);
    // Nor are they stored in the clear.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    let stored: Vec<(String, String)> =
        sqlx::query_as("SELECT credentials_enc, display FROM processor_accounts")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert_eq!(stored.len(), 1);
    for (sealed, display) in &stored {
        assert!(!sealed.contains(STRIPE_KEY) && !display.contains(STRIPE_KEY));
        assert!(!sealed.contains("whsec_kassa_interop_0001"));
    }
    // One active account per mode.
    let (s, v) = app
        .post_as(
            &live,
            "/v1/processor_accounts",
            json!({"connector": "stripe", "credentials": {"secret_key": STRIPE_KEY}}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // The test key sees none of it.
    let (_, list) = app.get("/v1/processor_accounts").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    let (s, _) = app.get(&format!("/v1/processor_accounts/{}", id(&a))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = app.get_as(&live, "/v1/processor_accounts").await;
    assert_eq!(list["data"][0]["id"], a["id"]);
    app.stop().await;
}

async fn a_live_payment_goes_through_the_merchants_stripe_account(db: Db) {
    let Some((app, live)) = live_server(db).await else {
        return;
    };
    let account = add_stripe_account(&app, &live).await;
    let (s, pi) = app
        .post_as(
            &live,
            "/v1/payment_intents",
            json!({"amount": 1000, "currency": "usd", "capture_method": "manual"}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{pi}");
    let path = |op: &str| format!("/v1/payment_intents/{}/{op}", id(&pi));
    let (s, pi) = app.post_as(&live, &path("confirm"), card(CARD), None).await;
    assert_eq!(s, StatusCode::OK, "{pi}");
    assert_eq!(pi["status"], "requires_capture", "{pi}");
    assert_eq!(pi["livemode"], true);
    assert_eq!(pi["payment_method"]["last4"], "8327");
    // Partial capture at Stripe.
    let (s, pi) = app
        .post_as(
            &live,
            &path("capture"),
            json!({"amount_to_capture": 600}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{pi}");
    assert_eq!(pi["status"], "succeeded");
    assert_eq!(pi["amount_received"], 600);
    // A refund, then one more than what is left: Kassa refuses it before Stripe is asked
    // (localstripe itself would accept it).
    let (s, r) = app
        .post_as(
            &live,
            "/v1/refunds",
            json!({"payment_intent": id(&pi), "amount": 100}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(
        r["status"] == "succeeded" || r["status"] == "pending",
        "{r}"
    );
    let (s, v) = app
        .post_as(
            &live,
            "/v1/refunds",
            json!({"payment_intent": id(&pi), "amount": 5000}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["param"], "amount");

    // The account removed: new live payments are refused, the payment it took still refunds
    // through it.
    let r = app
        .http
        .delete(app.url(&format!("/v1/processor_accounts/{}", id(&account))))
        .bearer_auth(&live)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let removed: Value = r.json().await.unwrap();
    assert_eq!(removed["status"], "removed");
    let (_, next) = app
        .post_as(
            &live,
            "/v1/payment_intents",
            json!({"amount": 500, "currency": "usd"}),
            None,
        )
        .await;
    let (s, v) = app
        .post_as(
            &live,
            &format!("/v1/payment_intents/{}/confirm", id(&next)),
            card(CARD),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "processor_account_missing");
    let (s, r) = app
        .post_as(
            &live,
            "/v1/refunds",
            json!({"payment_intent": id(&pi), "amount": 200}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    app.stop().await;
}

async fn a_lost_answer_is_settled_once_by_stripes_signed_webhook(db: Db) {
    let Some(stripe) = kassa_stripe::testing::server() else {
        return;
    };
    let proxy =
        kassa_stripe::testing::lossy_proxy(stripe.addr, "POST /v1/payment_intents HTTP").await;
    let Some((app, live)) = live_server_at(db, proxy, 1).await else {
        return;
    };
    let account = add_stripe_account(&app, &live).await;
    // Stripe's webhook endpoint for the account: Kassa's webhook_url (here on the test's port).
    let hook = format!("{}/v1/processor_webhooks/{}", app.base, id(&account));
    kassa_stripe::testing::register_webhook(
        stripe,
        &format!("wh_{}", id(&account)),
        &hook,
        WEBHOOK_SECRET,
        &["payment_intent.succeeded"],
    )
    .await;
    let amount = 4321 + if db == Db::Postgres { 1 } else { 0 };
    let pi = confirm_with_lost_answer(&app, &live, amount).await;
    // A merchant's retry is refused: the payment is being confirmed, never charged twice.
    let (s, v) = app
        .post_as(
            &live,
            &format!("/v1/payment_intents/{}/confirm", id(&pi)),
            card(CARD),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // localstripe signs and sends payment_intent.succeeded about a second later; Kassa
    // verifies it and settles the payment through the core.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let settled = loop {
        let (_, now) = app
            .get_as(&live, &format!("/v1/payment_intents/{}", id(&pi)))
            .await;
        if now["status"] == "succeeded" {
            break now;
        }
        assert!(std::time::Instant::now() < deadline, "not settled: {now}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(settled["amount_received"], amount);
    assert_eq!(
        events_about(&app, &live, "payment_intent.succeeded", &id(&pi)).await,
        1
    );
    // The recovery finds nothing left to do, and Stripe holds exactly one charge.
    assert_eq!(app.svc.payments().recover_interrupted(0).await.unwrap(), 0);
    assert_eq!(stripe_intents_of(amount).await.len(), 1);

    // A webhook that does not verify is refused; an unknown account is not found.
    let r = app
        .http
        .post(&hook)
        .header("stripe-signature", "t=1700000000,v1=00")
        .body(r#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1"}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "webhook_invalid", "{v}");
    let r = app
        .http
        .post(app.url("/v1/processor_webhooks/pa_nope"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    app.stop().await;
}

async fn a_lost_answer_is_looked_up_and_charged_once(db: Db) {
    let Some(stripe) = kassa_stripe::testing::server() else {
        return;
    };
    let proxy =
        kassa_stripe::testing::lossy_proxy(stripe.addr, "POST /v1/payment_intents HTTP").await;
    let Some((app, live)) = live_server_at(db, proxy, 1).await else {
        return;
    };
    add_stripe_account(&app, &live).await;
    let amount = 5431 + if db == Db::Postgres { 1 } else { 0 };
    let pi = confirm_with_lost_answer(&app, &live, amount).await;
    // No webhook here: the recovery asks Stripe (by Kassa's attempt id) and finds the charge.
    // "Older than 0 ms" is strict at millisecond resolution: let the clock move on.
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    assert_eq!(app.svc.payments().recover_interrupted(0).await.unwrap(), 1);
    let (_, now) = app
        .get_as(&live, &format!("/v1/payment_intents/{}", id(&pi)))
        .await;
    assert_eq!(now["status"], "succeeded", "{now}");
    assert_eq!(
        events_about(&app, &live, "payment_intent.succeeded", &id(&pi)).await,
        1
    );
    assert_eq!(stripe_intents_of(amount).await.len(), 1, "charged once");
    app.stop().await;
}

for_both_databases!(
    processor_accounts_are_live_configuration,
    a_live_payment_goes_through_the_merchants_stripe_account,
    a_lost_answer_is_settled_once_by_stripes_signed_webhook,
    a_lost_answer_is_looked_up_and_charged_once,
);
