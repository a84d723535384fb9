//! `kassa test-data purge --merchant acct_…`: a merchant's test data goes, its live data, its
//! keys and configuration and other merchants' data stay; an unknown merchant is refused.

mod common;

use std::process::Command;

use axum::http::StatusCode;
use common::Db;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_kassa");

/// `kassa` in the production profile behind an https base URL, on the app's database.
fn kassa_live(args: &[&str], url: &str) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .args(["--database-url", url, "--profile", "production"])
        .args(["--base-url", "https://pay.example"])
        .env("KASSA_MASTER_KEY", common::MASTER_KEY)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn ok_json(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

async fn purging_test_data_keeps_live_data_keys_and_configuration(db: Db) {
    let Some(app) = common::TestApp::spawn_production(db, |cfg| {
        cfg.base_url = Some("https://pay.example".into());
    })
    .await
    else {
        return;
    };
    let live = app
        .svc
        .create_api_keys(&app.merchant_id, kassa::reexport::service::Mode::Live)
        .await
        .unwrap();
    let lsk = live.secret_key.as_str();

    // Test data: a paid payment and its refund, an open payment made under an idempotency key,
    // a customer; a webhook endpoint (configuration) queues deliveries for their events.
    let (s, we) = app
        .post(
            "/v1/webhook_endpoints",
            json!({"url": "https://hooks.invalid/kassa", "enabled_events": ["*"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{we}");
    let paid = app.paid_intent(1_000).await;
    let (s, re) = app
        .post(
            "/v1/refunds",
            json!({"payment_intent": id(&paid), "amount": 300}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{re}");
    let body = json!({"amount": 500, "currency": "usd"});
    let (s, open) = app
        .post_as(
            &app.sk,
            "/v1/payment_intents",
            body.clone(),
            Some("order-1"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{open}");
    let (s, cus) = app
        .post("/v1/customers", json!({"email": "test@shop.example"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{cus}");
    // Live data (a live confirmation needs a processor account: created objects only), under
    // the same idempotency key.
    let (s, lpi) = app
        .post_as(lsk, "/v1/payment_intents", body.clone(), Some("order-1"))
        .await;
    assert_eq!(s, StatusCode::OK, "{lpi}");
    assert_eq!(lpi["livemode"], true);
    let (s, lcus) = app
        .post_as(
            lsk,
            "/v1/customers",
            json!({"email": "live@shop.example"}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{lcus}");
    // Another merchant's test data.
    let other = app.other_merchant_key().await;
    let (s, theirs) = app
        .post_as(&other, "/v1/payment_intents", body.clone(), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{theirs}");
    // The key is taken in test mode: another request under it is refused.
    let changed = json!({"amount": 501, "currency": "usd"});
    let (s, _) = app
        .post_as(
            &app.sk,
            "/v1/payment_intents",
            changed.clone(),
            Some("order-1"),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    let counts = ok_json(&kassa_live(
        &[
            "test-data",
            "purge",
            "--merchant",
            &app.merchant_id,
            "--json",
        ],
        &app.database_url,
    ));
    assert_eq!(counts["payment_intents"], 2, "{counts}");
    assert_eq!(counts["refunds"], 1, "{counts}");
    assert_eq!(counts["customers"], 1, "{counts}");
    assert_eq!(counts["idempotency_keys"], 1, "{counts}");
    assert!(
        counts["payment_attempts"].as_u64().unwrap() >= 1,
        "{counts}"
    );
    assert!(counts["events"].as_u64().unwrap() >= 4, "{counts}");
    assert!(counts["deliveries"].as_u64().unwrap() >= 4, "{counts}");

    // The test objects are gone.
    for path in [
        format!("/v1/payment_intents/{}", id(&paid)),
        format!("/v1/payment_intents/{}", id(&open)),
        format!("/v1/refunds/{}", id(&re)),
        format!("/v1/customers/{}", id(&cus)),
    ] {
        let (s, v) = app.get(&path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {v}");
    }
    for list in [
        "/v1/payment_intents",
        "/v1/refunds",
        "/v1/customers",
        "/v1/events",
    ] {
        let (s, v) = app.get(list).await;
        assert_eq!(s, StatusCode::OK, "{list}: {v}");
        assert_eq!(v["data"], json!([]), "{list}");
    }
    // The live objects stay.
    let (s, v) = app
        .get_as(lsk, &format!("/v1/payment_intents/{}", id(&lpi)))
        .await;
    assert_eq!((s, v["id"].clone()), (StatusCode::OK, lpi["id"].clone()));
    let (s, v) = app
        .get_as(lsk, &format!("/v1/customers/{}", id(&lcus)))
        .await;
    assert_eq!((s, v["id"].clone()), (StatusCode::OK, lcus["id"].clone()));
    let (_, v) = app.get_as(lsk, "/v1/events").await;
    assert!(
        !v["data"].as_array().unwrap().is_empty(),
        "live events stay"
    );
    // The live idempotency key still replays its answer.
    let (s, v) = app
        .post_as(lsk, "/v1/payment_intents", body.clone(), Some("order-1"))
        .await;
    assert_eq!((s, v["id"].clone()), (StatusCode::OK, lpi["id"].clone()));
    // The other merchant's payment stays.
    let (s, _) = app
        .get_as(&other, &format!("/v1/payment_intents/{}", id(&theirs)))
        .await;
    assert_eq!(s, StatusCode::OK);
    // The test keys and the endpoint still work; the test idempotency key is free again.
    let (s, v) = app.get(&format!("/v1/webhook_endpoints/{}", id(&we))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, fresh) = app
        .post_as(&app.sk, "/v1/payment_intents", changed, Some("order-1"))
        .await;
    assert_eq!(s, StatusCode::OK, "{fresh}");
    assert_ne!(fresh["id"], open["id"]);
    assert_eq!(fresh["amount"], 501);

    // Again: only what was made since goes (the payment just made and its event).
    let out = kassa_live(
        &["test-data", "purge", "--merchant", &app.merchant_id],
        &app.database_url,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&app.merchant_id), "{text}");
    assert!(text.contains("payment_intents"), "{text}");
    let again = ok_json(&kassa_live(
        &[
            "test-data",
            "purge",
            "--merchant",
            &app.merchant_id,
            "--json",
        ],
        &app.database_url,
    ));
    assert!(
        again.as_object().unwrap().values().all(|n| n == 0),
        "nothing is left: {again}"
    );

    // An unknown merchant is refused.
    let out = kassa_live(
        &["test-data", "purge", "--merchant", "acct_nope"],
        &app.database_url,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("No such merchant"), "{err}");
    app.stop().await;
}

for_both_databases!(purging_test_data_keeps_live_data_keys_and_configuration);
