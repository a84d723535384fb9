//! Webhooks end to end: signatures, retries, attempt records, resend, rotation, several
//! processes on one database, and deliveries that survive a restart or `kill -9`.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use axum::http::StatusCode;
use common::{Db, Receiver, TestApp};
use kassa_core::webhook_signature;
use kassa_http::native::schemas::webhooks as schemas;
use serde_json::{json, Value};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

async fn endpoint(app: &TestApp, url: &str, events: Value) -> (String, String) {
    let (s, ep) = app
        .post(
            "/v1/webhook_endpoints",
            json!({"url": url, "enabled_events": events}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{ep}");
    (id(&ep), ep["secret"].as_str().unwrap().to_string())
}

fn verify(secret: &str, r: &common::Received) -> bool {
    let ts: i64 = r.header("webhook-timestamp").parse().unwrap();
    webhook_signature::verify(
        secret,
        &r.header("webhook-id"),
        ts,
        r.body.as_bytes(),
        &r.header("webhook-signature"),
    )
}

async fn a_payment_produces_signed_events_in_order(app: &TestApp) {
    let rx = Receiver::start().await;
    let (_, secret) = endpoint(app, &rx.url, json!(["*"])).await;
    assert!(secret.starts_with("whsec_"));
    let pi = app.paid_intent(1500).await;
    let got = rx
        .wait_for("created and succeeded", |g| {
            g.iter().filter(|r| r.body.contains(&id(&pi))).count() >= 2
        })
        .await;
    let types: Vec<String> = got
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_string())
        .collect();
    assert!(types.contains(&"payment_intent.created".to_string()));
    assert!(types.contains(&"payment_intent.succeeded".to_string()));
    for r in &got {
        assert!(verify(&secret, r), "signature must verify");
        assert!(r.header("webhook-id").starts_with("evt_"));
        assert_eq!(r.json()["id"], r.header("webhook-id"));
        assert!(!verify("whsec_dGhpcyBpcyBub3QgdGhlIHNlY3JldA==", r));
    }
    let succeeded = got
        .iter()
        .find(|r| r.json()["type"] == "payment_intent.succeeded")
        .unwrap();
    assert_eq!(succeeded.json()["data"]["object"]["status"], "succeeded");
    assert_eq!(succeeded.json()["data"]["object"]["amount_received"], 1500);
}

async fn only_subscribed_events_are_sent_and_every_type_is_emitted(app: &TestApp) {
    let rx = Receiver::start().await;
    endpoint(
        app,
        &rx.url,
        json!([
            "refund.created",
            "refund.succeeded",
            "payment_intent.canceled",
            "payment_intent.amount_capturable_updated",
            "payment_intent.requires_action",
            "payment_intent.payment_failed"
        ]),
    )
    .await;
    let pi = app.paid_intent(1000).await;
    app.post(
        "/v1/refunds",
        json!({"payment_intent": id(&pi), "amount": 100}),
    )
    .await;
    let c = app.create_intent(10, json!({})).await;
    app.post(&format!("/v1/payment_intents/{}/cancel", id(&c)), json!({}))
        .await;
    let m = app
        .create_intent(10, json!({"capture_method": "manual"}))
        .await;
    app.post(
        &format!("/v1/payment_intents/{}/confirm", id(&m)),
        json!({"payment_method": "pm_card_visa"}),
    )
    .await;
    let t = app.create_intent(10, json!({})).await;
    app.post(
        &format!("/v1/payment_intents/{}/confirm", id(&t)),
        json!({"payment_method": "pm_card_threeDSecureRequired"}),
    )
    .await;
    let d = app.create_intent(10, json!({})).await;
    app.post(
        &format!("/v1/payment_intents/{}/confirm", id(&d)),
        json!({"payment_method": "pm_card_chargeDeclined"}),
    )
    .await;
    let got = rx.wait_for("six event types", |g| g.len() >= 6).await;
    app.drained().await;
    let mut types: Vec<String> = rx
        .all()
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_string())
        .collect();
    types.sort();
    assert_eq!(
        types,
        vec![
            "payment_intent.amount_capturable_updated",
            "payment_intent.canceled",
            "payment_intent.payment_failed",
            "payment_intent.requires_action",
            "refund.created",
            "refund.succeeded"
        ],
        "{got:?}"
    );
}

async fn a_failing_receiver_is_retried_and_every_attempt_is_recorded(app: &TestApp) {
    let rx = Receiver::start().await;
    rx.fail_next(2);
    endpoint(app, &rx.url, json!(["payment_intent.created"])).await;
    let pi = app.create_intent(900, json!({})).await;
    let got = rx.wait_for("three attempts", |g| g.len() >= 3).await;
    let ids: Vec<String> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert!(
        ids.iter().all(|i| i == &ids[0]),
        "the same message id on every retry"
    );
    assert!(
        got.iter().all(|r| r.body == got[0].body),
        "the same body on every retry"
    );
    app.settled().await;
    assert_eq!(rx.all().len(), 3, "nothing after the success");
    let (_, events) = app.get("/v1/events?limit=100").await;
    let ev = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["data"]["object"]["id"] == pi["id"])
        .unwrap()
        .clone();
    let (s, deliveries) = app.get(&format!("/v1/events/{}/deliveries", id(&ev))).await;
    assert_eq!(s, StatusCode::OK);
    let _: schemas::DeliveryList = serde_json::from_value(deliveries.clone()).expect("documented");
    let d = &deliveries["data"][0];
    assert_eq!(d["status"], "succeeded");
    let attempts = d["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3);
    assert_eq!(attempts[0]["status_code"], 500);
    assert_eq!(attempts[0]["response_excerpt"], "not now");
    assert_eq!(attempts[2]["status_code"], 200);
    assert!(attempts
        .iter()
        .all(|a| a["latency_ms"].as_i64().unwrap() >= 0 && a["trigger"] == "automatic"));
}

async fn deliveries_give_up_after_the_schedule_and_can_be_resent_by_hand(app: &TestApp) {
    let rx = Receiver::start().await;
    rx.fail_next(100);
    let (ep, _) = endpoint(app, &rx.url, json!(["payment_intent.created"])).await;
    app.create_intent(901, json!({})).await;
    // Schedule is 3 retries: 4 attempts, then the delivery fails.
    rx.wait_for("four attempts", |g| g.len() >= 4).await;
    app.settled().await;
    assert_eq!(rx.all().len(), 4);
    let (_, events) = app.get("/v1/events?limit=1").await;
    let ev = id(&events["data"][0]);
    let (_, deliveries) = app.get(&format!("/v1/events/{ev}/deliveries")).await;
    assert_eq!(deliveries["data"][0]["status"], "failed");
    rx.fail_next(0);
    let (s, d) = app
        .post(
            &format!("/v1/events/{ev}/resend"),
            json!({"webhook_endpoint": ep}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["status"], "succeeded");
    let _: schemas::DeliveryObject = serde_json::from_value(d.clone()).expect("documented");
    let attempts = d["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 5);
    assert_eq!(attempts[4]["trigger"], "manual");
    assert_eq!(attempts[4]["status_code"], 200);
    // Resending to an endpoint that never got the event creates its delivery.
    let rx2 = Receiver::start().await;
    let (ep2, secret2) = endpoint(app, &rx2.url, json!(["refund.created"])).await;
    let (s, d) = app
        .post(
            &format!("/v1/events/{ev}/resend"),
            json!({"webhook_endpoint": ep2}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(rx2.all().len(), 1);
    assert!(verify(&secret2, &rx2.all()[0]));
    let (s, _) = app
        .post(
            &format!("/v1/events/{ev}/resend"),
            json!({"webhook_endpoint": "we_nope"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn rotating_a_secret_signs_with_both_during_the_grace_period(app: &TestApp) {
    let rx = Receiver::start().await;
    let (ep, old) = endpoint(app, &rx.url, json!(["payment_intent.created"])).await;
    let (s, rotated) = app
        .post(
            &format!("/v1/webhook_endpoints/{ep}/rotate_secret"),
            json!({"expires_in": 3600}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    app.create_intent(5, json!({})).await;
    let got = rx.wait_for("one delivery", |g| !g.is_empty()).await;
    assert!(verify(&new, &got[0]));
    assert!(verify(&old, &got[0]));
    let (s, _) = app
        .post(
            &format!("/v1/webhook_endpoints/{ep}/rotate_secret"),
            json!({"expires_in": 0}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, list) = app.get("/v1/webhook_endpoints").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(
        list["data"][0].get("secret").is_none(),
        "secrets are only shown on creation and rotation"
    );
    let resp = app
        .http
        .delete(app.url(&format!("/v1/webhook_endpoints/{ep}")))
        .bearer_auth(&app.sk)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let deleted: Value = resp.json().await.unwrap();
    let deleted: schemas::DeletedWebhookEndpoint =
        serde_json::from_value(deleted).expect("documented");
    assert!(deleted.deleted);
    let (s, _) = app.get(&format!("/v1/webhook_endpoints/{ep}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, e) = app
        .post(
            "/v1/webhook_endpoints",
            json!({"url": "ftp://x", "enabled_events": ["*"]}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["param"], "url");
    let (s, e) = app
        .post(
            "/v1/webhook_endpoints",
            json!({"url": "http://x.test/h", "enabled_events": ["payment_intent.exploded"]}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["param"], "enabled_events");
}

on_both!(
    a_payment_produces_signed_events_in_order,
    only_subscribed_events_are_sent_and_every_type_is_emitted,
    a_failing_receiver_is_retried_and_every_attempt_is_recorded,
    deliveries_give_up_after_the_schedule_and_can_be_resent_by_hand,
    rotating_a_secret_signs_with_both_during_the_grace_period,
);

/// Two servers share one database; a slow receiver makes their claims overlap. Every message
/// arrives exactly once.
async fn two_processes_never_send_the_same_attempt_twice(db: Db) {
    let Some((url, guard)) = common::fresh_database(db).await else {
        return;
    };
    let a = TestApp::start(db, common::test_config(&url)).await;
    let mut cfg_b = common::test_config(&url);
    cfg_b.demo_merchant = Some(true);
    let b = TestApp::start(db, cfg_b).await;
    assert_eq!(a.merchant_id, b.merchant_id, "the demo merchant is shared");
    let rx = Receiver::start().await;
    rx.set_delay(Duration::from_millis(20));
    endpoint(&a, &rx.url, json!(["payment_intent.created"])).await;
    let n = 40;
    for i in 0..n {
        let app = if i % 2 == 0 { &a } else { &b };
        app.create_intent(100 + i, json!({})).await;
    }
    rx.wait_for("all messages", |g| g.len() >= n as usize).await;
    a.drained().await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in rx.all() {
        *seen.entry(r.header("webhook-id")).or_default() += 1;
    }
    assert_eq!(seen.len(), n as usize);
    assert!(
        seen.values().all(|&c| c == 1),
        "a message was sent twice: {seen:?}"
    );
    a.stop().await;
    b.stop().await;
    guard.drop_database().await;
}

/// Deliveries pending when the server is killed with SIGKILL are delivered by the next start.
async fn pending_deliveries_survive_kill_9(db: Db) {
    let Some((url, guard)) = common::fresh_database(db).await else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_kassa");
    let port = free_port();
    let spawn = |port: u16| {
        std::process::Command::new(bin)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                &url,
            ])
            .env("KASSA_MASTER_KEY", common::MASTER_KEY)
            .env(
                "KASSA_WEBHOOK_RETRY_SCHEDULE",
                "300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms",
            )
            .env("KASSA_WEBHOOK_POLL_INTERVAL_MS", "50")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut child = spawn(port);
    let sk = common::read_secret_key(&mut child);
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    // A receiver address that refuses connections for now.
    let hook_port = free_port();
    let hook = format!("http://127.0.0.1:{hook_port}/hook");
    let r = http
        .post(format!("{base}/v1/webhook_endpoints"))
        .bearer_auth(&sk)
        .json(&json!({"url": hook, "enabled_events": ["payment_intent.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    for i in 0..5 {
        let r = http
            .post(format!("{base}/v1/payment_intents"))
            .bearer_auth(&sk)
            .json(&json!({"amount": 10 + i, "currency": "usd"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    // Every first attempt has failed (refused) and its retry is scheduled.
    common::wait_drained(&url).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The receiver comes up; a new process picks the work up.
    let rx = receiver_on(hook_port).await;
    let mut child = spawn(free_port());
    rx.wait_for("five deliveries after the restart", |g| g.len() >= 5)
        .await;
    child.kill().unwrap();
    child.wait().unwrap();
    let mut ids: Vec<String> = rx.all().iter().map(|r| r.header("webhook-id")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    guard.drop_database().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn receiver_on(port: u16) -> Receiver {
    // Bind a receiver on a known port (the one the endpoint points at).
    common::Receiver::start_on(port).await
}

for_both_databases!(
    two_processes_never_send_the_same_attempt_twice,
    pending_deliveries_survive_kill_9
);
