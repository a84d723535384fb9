//! Test and live mode: a merchant's live data and test data never meet (every object read or
//! written across modes is "not found", as another merchant's would be), events go to the
//! endpoints of their own mode, live mode runs only where the operator allowed it, and a live
//! payment needs a processor account and refuses the sandbox's test cards.

mod common;

use axum::http::StatusCode;
use common::{Db, Receiver, TestApp};
use kassa::reexport::service::Mode;
use serde_json::{json, Value};

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

/// A server that allows live mode: `production` behind an https base URL (loopback allowed as a
/// webhook target, for the test's receivers).
async fn live_server(db: Db) -> Option<TestApp> {
    TestApp::spawn_production(db, |cfg| {
        cfg.base_url = Some("https://pay.example".into());
        cfg.egress_allow = vec!["127.0.0.1".into()];
    })
    .await
}

/// The demo merchant's live secret key, made the way `kassa merchant keys --mode live` makes it.
async fn live_key(app: &TestApp) -> String {
    let keys = app
        .svc
        .create_api_keys(&app.merchant_id, Mode::Live)
        .await
        .unwrap();
    assert!(keys.secret_key.starts_with("sk_live_"), "{keys:?}");
    assert!(keys.publishable_key.starts_with("pk_live_"));
    keys.secret_key
}

async fn delete_as(app: &TestApp, key: &str, path: &str) -> StatusCode {
    let r = app
        .http
        .delete(app.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    StatusCode::from_u16(r.status().as_u16()).unwrap()
}

/// Everything `key` can reach of an object made in the other mode answers 404 (reads, writes,
/// lists), exactly as for another merchant.
async fn unreachable_with(app: &TestApp, key: &str, objects: &Objects) {
    let pi = &objects.intent;
    for path in [
        format!("/v1/payment_intents/{pi}"),
        format!("/v1/customers/{}", objects.customer),
        format!("/v1/webhook_endpoints/{}", objects.endpoint),
        format!("/v1/events/{}", objects.event),
        format!("/v1/events/{}/deliveries", objects.event),
        format!("/v1/customers/{}/payment_methods", objects.customer),
    ] {
        let (s, v) = app.get_as(key, &path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "GET {path}: {v}");
    }
    for (path, body) in [
        (
            format!("/v1/payment_intents/{pi}/confirm"),
            json!({"payment_method": "pm_card_visa"}),
        ),
        (format!("/v1/payment_intents/{pi}/capture"), json!({})),
        (format!("/v1/payment_intents/{pi}/cancel"), json!({})),
        (
            format!("/v1/customers/{}", objects.customer),
            json!({"name": "x"}),
        ),
        (
            format!("/v1/webhook_endpoints/{}", objects.endpoint),
            json!({"description": "x"}),
        ),
        (
            format!("/v1/events/{}/resend", objects.event),
            json!({"webhook_endpoint": objects.endpoint}),
        ),
        (
            format!("/v1/webhook_endpoints/{}/rotate_secret", objects.endpoint),
            json!({}),
        ),
    ] {
        let (s, v) = app.post_as(key, &path, body, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "POST {path}: {v}");
    }
    // A refund names its payment in the body: an unknown one is a bad parameter.
    let (s, v) = app
        .post_as(key, "/v1/refunds", json!({"payment_intent": pi}), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains(pi.as_str()));
    // A customer of the other mode cannot be named on a new payment either.
    let (s, v) = app
        .post_as(
            key,
            "/v1/payment_intents",
            json!({"amount": 100, "currency": "usd", "customer": objects.customer}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    for list in [
        "/v1/payment_intents",
        "/v1/customers",
        "/v1/webhook_endpoints",
        "/v1/events",
    ] {
        let (s, v) = app.get_as(key, list).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let ids: Vec<String> = v["data"].as_array().unwrap().iter().map(id).collect();
        for foreign in [pi, &objects.customer, &objects.endpoint, &objects.event] {
            assert!(
                !ids.contains(foreign),
                "{list} lists {foreign} across modes"
            );
        }
    }
    // A cursor from the other mode names nothing here.
    let (s, v) = app
        .get_as(key, &format!("/v1/payment_intents?starting_after={pi}"))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    for path in [
        format!("/v1/customers/{}", objects.customer),
        format!("/v1/webhook_endpoints/{}", objects.endpoint),
    ] {
        assert_eq!(
            delete_as(app, key, &path).await,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

/// One object of each kind made with one key.
struct Objects {
    intent: String,
    customer: String,
    endpoint: String,
    event: String,
}

async fn make_objects(app: &TestApp, key: &str, rx: &Receiver, livemode: bool) -> Objects {
    let (s, endpoint) = app
        .post_as(
            key,
            "/v1/webhook_endpoints",
            json!({"url": rx.url, "enabled_events": ["*"]}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{endpoint}");
    assert_eq!(endpoint["livemode"], livemode);
    let (s, customer) = app
        .post_as(
            key,
            "/v1/customers",
            json!({"email": "a@example.com"}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{customer}");
    assert_eq!(customer["livemode"], livemode);
    let (s, pi) = app
        .post_as(
            key,
            "/v1/payment_intents",
            json!({"amount": 2500, "currency": "usd", "customer": id(&customer)}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{pi}");
    assert_eq!(pi["livemode"], livemode);
    let (s, events) = app.get_as(key, "/v1/events?limit=1").await;
    assert_eq!(s, StatusCode::OK);
    let event = &events["data"][0];
    assert_eq!(event["type"], "payment_intent.created");
    assert_eq!(event["livemode"], livemode);
    assert_eq!(event["data"]["object"]["id"], pi["id"]);
    Objects {
        intent: id(&pi),
        customer: id(&customer),
        endpoint: id(&endpoint),
        event: id(event),
    }
}

async fn test_and_live_data_never_meet(db: Db) {
    let Some(app) = live_server(db).await else {
        return;
    };
    let live = live_key(&app).await;
    let (rx_test, rx_live) = (Receiver::start().await, Receiver::start().await);
    let test_objects = make_objects(&app, &app.sk, &rx_test, false).await;
    let live_objects = make_objects(&app, &live, &rx_live, true).await;

    unreachable_with(&app, &app.sk, &live_objects).await;
    unreachable_with(&app, &live, &test_objects).await;

    // Each mode's events reach only its own endpoints, marked with their mode.
    app.drained().await;
    for (rx, objects, livemode) in [
        (&rx_test, &test_objects, false),
        (&rx_live, &live_objects, true),
    ] {
        let bodies: Vec<Value> = rx.got.lock().unwrap().iter().map(|r| r.json()).collect();
        assert!(!bodies.is_empty());
        for b in &bodies {
            assert_eq!(b["livemode"], livemode, "{b}");
        }
        assert!(bodies
            .iter()
            .any(|b| b["data"]["object"]["id"] == objects.intent.as_str()));
    }

    // One idempotency key sent with a test and a live key names two different requests.
    let body = json!({"amount": 700, "currency": "usd"});
    let (s, a) = app
        .post_as(
            &app.sk,
            "/v1/payment_intents",
            body.clone(),
            Some("same-key"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = app
        .post_as(&live, "/v1/payment_intents", body.clone(), Some("same-key"))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_ne!(a["id"], b["id"]);
    assert_eq!(
        (a["livemode"].clone(), b["livemode"].clone()),
        (json!(false), json!(true))
    );
    let (_, again) = app
        .post_as(&live, "/v1/payment_intents", body, Some("same-key"))
        .await;
    assert_eq!(again["id"], b["id"], "the live key's own replay");

    // Test clocks are test data only.
    let (s, v) = app
        .post_as(
            &live,
            "/v1/test_helpers/test_clocks",
            json!({"frozen_time": 1_700_000_000}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("test mode"));
    app.stop().await;
}

async fn a_live_payment_needs_a_processor_and_refuses_test_cards(db: Db) {
    let Some(app) = live_server(db).await else {
        return;
    };
    let live = live_key(&app).await;
    let (s, pi) = app
        .post_as(
            &live,
            "/v1/payment_intents",
            json!({"amount": 1500, "currency": "usd"}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{pi}");
    let path = format!("/v1/payment_intents/{}/confirm", id(&pi));

    // A real-looking card with no processor account: refused before anything is written.
    let card = json!({"payment_method_data": {"type": "card", "card": {
        "number": "4485275742308327", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}});
    let (s, v) = app.post_as(&live, &path, card, None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "processor_account_missing", "{v}");
    let (_, now) = app
        .get_as(&live, &format!("/v1/payment_intents/{}", id(&pi)))
        .await;
    assert_eq!(now["status"], "requires_payment_method");
    assert!(now["last_payment_error"].is_null(), "{now}");

    // The sandbox's test data is declined by Kassa in live mode, processor or not.
    for method in [
        json!({"payment_method": "pm_card_visa"}),
        json!({"payment_method_data": {"type": "card", "card": {
            "number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}}),
    ] {
        let (s, v) = app.post_as(&live, &path, method, None).await;
        assert_eq!(s, StatusCode::PAYMENT_REQUIRED, "{v}");
        assert_eq!(v["error"]["decline_code"], "test_mode_live_card", "{v}");
        assert_eq!(
            v["error"]["payment_intent"]["status"],
            "requires_payment_method"
        );
        assert_eq!(v["error"]["payment_intent"]["livemode"], true);
    }
    // The same cards pay in test mode on the same server.
    let test_pi = app.paid_intent(1500).await;
    assert_eq!(test_pi["livemode"], false);
    app.stop().await;
}

async fn live_mode_runs_only_in_production_behind_https(db: Db) {
    // Development profile: live keys exist but every request with one is refused.
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let live = live_key(&app).await;
    for path in ["/v1/payment_intents", "/v1/customers"] {
        let (s, v) = app.get_as(&live, path).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        assert_eq!(v["error"]["code"], "livemode_disabled");
    }
    let (s, v) = app
        .post_as(
            &live,
            "/v1/payment_intents",
            json!({"amount": 100, "currency": "usd"}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    // A live Paymob profile can't be made either: not with the live key (refused here), and
    // never with a test key (a profile's mode is the key's).
    let (s, v) = app
        .post_as(&live, "/v1/paymob/profiles", json!({"name": "Live"}), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = app
        .post("/v1/paymob/profiles", json!({"name": "Live", "live": true}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["param"], "live");
    // Test keys are unaffected.
    let (s, _) = app.get("/v1/payment_intents").await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;

    // Production over plain http: still off.
    let Some(app) = TestApp::spawn_production(db, |cfg| {
        cfg.base_url = Some("http://pay.example".into());
    })
    .await
    else {
        return;
    };
    let live = live_key(&app).await;
    let (s, v) = app.get_as(&live, "/v1/payment_intents").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "livemode_disabled");
    app.stop().await;

    // Production behind https: on. A live key whose prefix was changed to test is not a key.
    let Some(app) = live_server(db).await else {
        return;
    };
    let live = live_key(&app).await;
    let (s, v) = app.get_as(&live, "/v1/payment_intents").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let forged = live.replacen("sk_live_", "sk_test_", 1);
    let (s, _) = app.get_as(&forged, "/v1/payment_intents").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

for_both_databases!(
    test_and_live_data_never_meet,
    a_live_payment_needs_a_processor_and_refuses_test_cards,
    live_mode_runs_only_in_production_behind_https,
);
