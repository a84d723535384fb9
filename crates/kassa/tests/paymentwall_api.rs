//! The native Paymentwall API, black-box through HTTP on SQLite and PostgreSQL: projects (the
//! secret key shown once), the Test Pingback Tool against a local receiver, subscriptions with
//! the test clock and the background scheduler, payments with delivery confirmations and the
//! sandbox chargeback; plus `kassa paymentwall project create` and the country database setting.

mod common;

use std::process::Command;
use std::time::Duration;

use axum::http::StatusCode;
use common::{fresh_database, test_config, Db, DbGuard, Receiver, TestApp};
use kassa::Config;
use kassa_http::native::schemas::paymentwall as schemas;
use kassa_paymentwall::{parse_query, sign_widget, verify_pingback, ApiType, SignVersion};
use kassa_processor::PaymentMethodInput;
use kassa_service::paymentwall::LinkPath;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_kassa");
const DAY: i64 = 86_400;

/// The pingback queries `rx` got, in order.
fn queries(rx: &Receiver) -> Vec<String> {
    rx.all().into_iter().map(|r| r.query).collect()
}

fn param<'a>(p: &'a [(String, String)], k: &str) -> Option<&'a str> {
    p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

fn is_hex32(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

async fn create_project(app: &TestApp, body: Value) -> Value {
    let (status, p) = app.post("/v1/paymentwall/projects", body).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    p
}

fn assert_invalid(status: StatusCode, body: &Value, param: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["param"], param, "{body}");
}

async fn projects_are_created_listed_retrieved_and_updated(app: &TestApp) {
    let p = create_project(
        app,
        json!({"name": "Game shop", "api_type": "digital_goods", "pingback_url": "https://merchant.example/pb"}),
    )
    .await;
    let id = p["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("pwp_"), "{p}");
    assert_eq!(p["object"], "paymentwall.project");
    assert_eq!(p["name"], "Game shop");
    assert_eq!(p["api_type"], "digital_goods");
    assert_eq!(p["pingback_sign_version"], 3);
    assert!(is_hex32(&p["project_key"]), "{p}");
    assert!(is_hex32(&p["secret_key"]), "{p}");
    let secret = p["secret_key"].as_str().unwrap().to_string();
    assert_ne!(p["project_key"], p["secret_key"]);

    // The secret is never shown again.
    let (status, got) = app.get(&format!("/v1/paymentwall/projects/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["project_key"], p["project_key"]);
    assert!(got.get("secret_key").is_none());
    assert!(!got.to_string().contains(&secret));
    let second = create_project(
        app,
        json!({"name": "Coins", "api_type": "virtual_currency"}),
    )
    .await;
    let (status, list) = app.get("/v1/paymentwall/projects").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&id.as_str()) && ids.contains(&second["id"].as_str().unwrap()));
    assert!(!list.to_string().contains(&secret));
    assert!(!list
        .to_string()
        .contains(second["secret_key"].as_str().unwrap()));

    // Update: absent fields keep their values; the answer has no secret.
    let (status, up) = app
        .post(
            &format!("/v1/paymentwall/projects/{id}"),
            json!({"name": "Game shop EU", "pingback_sign_version": 2, "widgets": ["p1_1", "pw_1"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{up}");
    assert_eq!(up["name"], "Game shop EU");
    assert_eq!(up["pingback_sign_version"], 2);
    assert_eq!(up["pingback_url"], "https://merchant.example/pb");
    assert_eq!(up["widgets"], json!(["p1_1", "pw_1"]));
    assert!(!up.to_string().contains(&secret));
    let (_, got) = app.get(&format!("/v1/paymentwall/projects/{id}")).await;
    assert_eq!(got["name"], "Game shop EU");
    assert_eq!(got["project_key"], p["project_key"]);
    // `""` clears the pingback URL.
    let (status, up) = app
        .post(
            &format!("/v1/paymentwall/projects/{id}"),
            json!({"pingback_url": ""}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{up}");
    assert_eq!(up["pingback_url"], Value::Null);

    // Validation: 400 naming the parameter; nothing is created.
    let (s, e) = app
        .post("/v1/paymentwall/projects", json!({"api_type": "cart"}))
        .await;
    assert_invalid(s, &e, "name");
    let (s, e) = app
        .post("/v1/paymentwall/projects", json!({"name": "x"}))
        .await;
    assert_invalid(s, &e, "api_type");
    let (s, e) = app
        .post(
            "/v1/paymentwall/projects",
            json!({"name": "x", "api_type": "subscriptions"}),
        )
        .await;
    assert_invalid(s, &e, "api_type");
    let (s, e) = app
        .post(
            "/v1/paymentwall/projects",
            json!({"name": "x", "api_type": "cart", "colour": "red"}),
        )
        .await;
    assert_invalid(s, &e, "colour");
    let (s, e) = app
        .post(
            "/v1/paymentwall/projects",
            json!({"name": "x", "api_type": "cart", "pingback_url": "ftp://x/y"}),
        )
        .await;
    assert_invalid(s, &e, "pingback_url");
    let (s, e) = app
        .post(
            &format!("/v1/paymentwall/projects/{id}"),
            json!({"pingback_sign_version": 4}),
        )
        .await;
    assert_invalid(s, &e, "pingback_sign_version");
    let (s, e) = app
        .post(
            &format!("/v1/paymentwall/projects/{id}"),
            json!({"name": " "}),
        )
        .await;
    assert_invalid(s, &e, "name");
    let (_, list) = app.get("/v1/paymentwall/projects").await;
    assert_eq!(list["data"].as_array().unwrap().len(), ids.len());

    // Cart projects always sign v2.
    let cart = create_project(
        app,
        json!({"name": "Cart", "api_type": "cart", "pingback_sign_version": 3}),
    )
    .await;
    assert_eq!(cart["pingback_sign_version"], 2);

    // An Idempotency-Key replays the creation instead of making a second project.
    let body = json!({"name": "Once", "api_type": "digital_goods"});
    let (s1, a) = app
        .post_as(
            &app.sk,
            "/v1/paymentwall/projects",
            body.clone(),
            Some("pw-once"),
        )
        .await;
    let (s2, b) = app
        .post_as(&app.sk, "/v1/paymentwall/projects", body, Some("pw-once"))
        .await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(a["id"], b["id"]);

    // A publishable key may do nothing here.
    for (status, body) in [
        app.get_as(&app.pk, "/v1/paymentwall/projects").await,
        app.get_as(&app.pk, &format!("/v1/paymentwall/projects/{id}"))
            .await,
        app.post_as(
            &app.pk,
            "/v1/paymentwall/projects",
            json!({"name": "x", "api_type": "cart"}),
            None,
        )
        .await,
        app.post_as(
            &app.pk,
            &format!("/v1/paymentwall/projects/{id}/test_pingback"),
            json!({"type": 0, "uid": "u"}),
            None,
        )
        .await,
    ] {
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], "secret_key_required");
    }

    // Another merchant sees none of it.
    let other = app.other_merchant_key().await;
    let (s, e) = app
        .get_as(&other, &format!("/v1/paymentwall/projects/{id}"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    assert_eq!(e["error"]["code"], "resource_missing");
    let (s, _) = app
        .post_as(
            &other,
            &format!("/v1/paymentwall/projects/{id}"),
            json!({"name": "Mine now"}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .post_as(
            &other,
            &format!("/v1/paymentwall/projects/{id}/test_pingback"),
            json!({"type": 0, "uid": "u"}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .get_as(
            &other,
            &format!("/v1/paymentwall/projects/{id}/subscriptions"),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, list) = app.get_as(&other, "/v1/paymentwall/projects").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["data"], json!([]));
    let (_, got) = app.get(&format!("/v1/paymentwall/projects/{id}")).await;
    assert_eq!(got["name"], "Game shop EU");
    let (s, _) = app.get("/v1/paymentwall/projects/pwp_nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The routes are in the OpenAPI document.
    let doc: Value = app
        .http
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/v1/paymentwall/projects",
        "/v1/paymentwall/projects/{id}",
        "/v1/paymentwall/projects/{id}/test_pingback",
        "/v1/paymentwall/projects/{id}/subscriptions",
        "/v1/paymentwall/projects/{id}/payments/{ref}",
        "/v1/paymentwall/projects/{id}/payments/{ref}/chargeback",
        "/v1/paymentwall/subscriptions/{id}",
        "/v1/paymentwall/subscriptions/{id}/cancel",
        "/v1/paymentwall/subscriptions/{id}/advance_clock",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} in the OpenAPI document"
        );
    }
}

async fn the_test_pingback_tool_sends_a_signed_test_pingback(app: &TestApp) {
    let rx = Receiver::pingbacks().await;
    let p = create_project(
        app,
        json!({"name": "Game shop", "api_type": "digital_goods", "pingback_url": rx.url}),
    )
    .await;
    let id = p["id"].as_str().unwrap();
    let secret = p["secret_key"].as_str().unwrap();
    let path = format!("/v1/paymentwall/projects/{id}/test_pingback");

    let (s, t) = app
        .post(
            &path,
            json!({"type": 0, "uid": "user40012", "goodsid": "product301"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["success"], true, "{t}");
    assert_eq!(t["error"], Value::Null);
    assert_eq!(t["response"], json!({"status": 200, "body": "OK"}));
    assert_eq!(t["sign_version"], 3);
    let got = queries(&rx);
    assert_eq!(got.len(), 1, "sent once, right away");
    assert_eq!(got[0], t["query"].as_str().unwrap());
    assert_eq!(t["url"], format!("{}?{}", rx.url, got[0]));
    let q = parse_query(&got[0]).unwrap();
    assert_eq!(param(&q, "is_test"), Some("1"));
    assert_eq!(param(&q, "type"), Some("0"));
    assert_eq!(param(&q, "uid"), Some("user40012"));
    assert_eq!(param(&q, "goodsid"), Some("product301"));
    assert_eq!(param(&q, "sign_version"), Some("3"));
    assert!(param(&q, "ref").is_some_and(|r| r.starts_with('t')));
    assert!(verify_pingback(&q, secret, ApiType::DigitalGoods), "{q:?}");
    assert!(!verify_pingback(&q, &"0".repeat(32), ApiType::DigitalGoods));
    let base = t["signature_base_string"].as_str().unwrap();
    assert!(
        base.contains("uid=user40012") && base.contains("is_test=1"),
        "{base}"
    );

    // A chargeback with its reason and the merchant's own ref; defaults for goodsid.
    let (s, t) = app
        .post(
            &path,
            json!({"type": 2, "uid": "user40012", "ref": "b1493096790", "reason": 9}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["success"], true, "{t}");
    let q = parse_query(&queries(&rx)[1]).unwrap();
    assert_eq!(param(&q, "type"), Some("2"));
    assert_eq!(param(&q, "reason"), Some("9"));
    assert_eq!(param(&q, "ref"), Some("b1493096790"));
    assert!(param(&q, "goodsid").is_some_and(|g| !g.is_empty()));
    assert!(verify_pingback(&q, secret, ApiType::DigitalGoods));

    // What the merchant answered decides success: HTTP 200 and the body OK.
    rx.respond(200, " ok\n");
    let (_, t) = app.post(&path, json!({"type": 201, "uid": "u1"})).await;
    assert_eq!(t["success"], true, "{t}");
    rx.respond(500, "OK");
    let (s, t) = app.post(&path, json!({"type": 0, "uid": "u1"})).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["success"], false);
    assert_eq!(t["response"]["status"], 500);
    assert!(t["error"].as_str().unwrap().contains("200"), "{t}");
    rx.respond(200, "thanks");
    let (_, t) = app.post(&path, json!({"type": 0, "uid": "u1"})).await;
    assert_eq!(t["success"], false);
    assert_eq!(t["response"]["body"], "thanks");
    assert!(t["error"].is_string());
    rx.respond(200, &"x".repeat(5000));
    let (_, t) = app.post(&path, json!({"type": 0, "uid": "u1"})).await;
    assert_eq!(t["success"], false);
    assert_eq!(t["response"]["body"].as_str().unwrap().len(), 1000);

    // Nothing listening: no response, a reason, no success.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/pb", l.local_addr().unwrap())
    };
    let (s, _) = app
        .post(
            &format!("/v1/paymentwall/projects/{id}"),
            json!({"pingback_url": dead}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, t) = app.post(&path, json!({"type": 0, "uid": "u1"})).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["success"], false);
    assert_eq!(t["response"], Value::Null);
    assert!(t["error"].as_str().unwrap().contains("connect"), "{t}");

    // Parameters are checked before anything is sent.
    let before = rx.all().len();
    for (body, param_name) in [
        (json!({"type": 5, "uid": "u"}), "type"),
        (json!({"uid": "u"}), "type"),
        (json!({"type": 0}), "uid"),
        (json!({"type": 0, "uid": ""}), "uid"),
        (json!({"type": 0, "uid": "u", "reason": 1}), "reason"),
        (json!({"type": 2, "uid": "u", "reason": 11}), "reason"),
        (json!({"type": 2, "uid": "u", "reason": 0}), "reason"),
        (json!({"type": 0, "uid": "u", "sig": "x"}), "sig"),
    ] {
        let (s, e) = app.post(&path, body.clone()).await;
        assert_invalid(s, &e, param_name);
    }
    assert_eq!(rx.all().len(), before);

    // No pingback URL: 400.
    let bare = create_project(app, json!({"name": "Bare", "api_type": "digital_goods"})).await;
    let (s, e) = app
        .post(
            &format!(
                "/v1/paymentwall/projects/{}/test_pingback",
                bare["id"].as_str().unwrap()
            ),
            json!({"type": 0, "uid": "u"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e["error"]["code"], "pingback_url_missing");

    // Virtual Currency signed v1 and Cart (always v2) verify too.
    rx.respond(200, "OK");
    for (api_type, api, version, expected_version) in [
        ("virtual_currency", ApiType::VirtualCurrency, 1, 1),
        ("virtual_currency", ApiType::VirtualCurrency, 2, 2),
        ("cart", ApiType::Cart, 3, 2),
    ] {
        let p = create_project(
            app,
            json!({"name": "Other", "api_type": api_type, "pingback_url": rx.url, "pingback_sign_version": version}),
        )
        .await;
        let (s, t) = app
            .post(
                &format!(
                    "/v1/paymentwall/projects/{}/test_pingback",
                    p["id"].as_str().unwrap()
                ),
                json!({"type": 0, "uid": "player1", "goodsid": "pack1"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{t}");
        assert_eq!(t["success"], true, "{t}");
        assert_eq!(t["sign_version"], expected_version, "{t}");
        let q = parse_query(t["query"].as_str().unwrap()).unwrap();
        assert_eq!(param(&q, "is_test"), Some("1"));
        assert!(
            verify_pingback(&q, p["secret_key"].as_str().unwrap(), api),
            "{api_type} v{version}: {q:?}"
        );
        assert_eq!(queries(&rx).last().unwrap(), t["query"].as_str().unwrap());
    }
}

on_both!(
    projects_are_created_listed_retrieved_and_updated,
    the_test_pingback_tool_sends_a_signed_test_pingback,
);

/// Starts a server on a fresh database with a changed configuration.
async fn spawn_with(db: Db, change: impl FnOnce(&mut Config)) -> Option<(TestApp, DbGuard)> {
    let (url, guard) = fresh_database(db).await?;
    let mut cfg = test_config(&url);
    change(&mut cfg);
    Some((TestApp::start(db, cfg).await, guard))
}

/// Opens a signed link through the service (as the payment page does) and pays it with the
/// Test method; the order's `ref`.
async fn pay_link(
    app: &TestApp,
    project: &Value,
    path: LinkPath,
    params: &[(&str, &str)],
) -> String {
    let mut all: Vec<(String, String)> = vec![
        (
            "key".into(),
            project["project_key"].as_str().unwrap().into(),
        ),
        ("uid".into(), "user40012".into()),
        ("widget".into(), "p1_1".into()),
    ];
    for (k, v) in params {
        all.push((k.to_string(), v.to_string()));
    }
    all.push(("sign_version".into(), "3".into()));
    let sign = sign_widget(
        &all,
        project["secret_key"].as_str().unwrap(),
        SignVersion::V3,
    );
    all.push(("sign".into(), sign));
    let order = app
        .svc
        .paymentwall()
        .open_link(path, &kassa_paymentwall::encode_query(&all), None)
        .await
        .unwrap()
        .expect("the link opens");
    let view = app.svc.paymentwall().order_view(&order.id).await.unwrap();
    let pi = app
        .svc
        .paymentwall()
        .pay(&view, "test", PaymentMethodInput::TestMethod, None)
        .await
        .unwrap();
    assert_eq!(pi.status.as_str(), "succeeded");
    app.svc
        .store
        .pw_order(&order.id)
        .await
        .unwrap()
        .unwrap()
        .r#ref
        .expect("a paid order has a ref")
}

const MONTHLY: &[(&str, &str)] = &[
    ("amount", "9.99"),
    ("currencyCode", "USD"),
    ("ag_name", "Gold Membership"),
    ("ag_external_id", "product301"),
    ("ag_type", "subscription"),
    ("ag_period_length", "1"),
    ("ag_period_type", "month"),
    ("ag_recurring", "1"),
];

const ONE_TIME: &[(&str, &str)] = &[
    ("amount", "4.50"),
    ("currencyCode", "USD"),
    ("ag_name", "Sword"),
    ("ag_external_id", "sword1"),
    ("ag_type", "fixed"),
];

async fn subscriptions_payments_and_chargebacks(db: Db) {
    // The background scheduler stays out of the way (one pass at start, then an hour).
    let Some((app, guard)) = spawn_with(db, |c| c.scheduler_interval_ms = 3_600_000).await else {
        return;
    };
    let rx = Receiver::pingbacks().await;
    let p = create_project(
        &app,
        json!({"name": "Game shop", "api_type": "digital_goods", "pingback_url": rx.url}),
    )
    .await;
    let pid = p["id"].as_str().unwrap().to_string();
    let (_, subs) = app
        .get(&format!("/v1/paymentwall/projects/{pid}/subscriptions"))
        .await;
    assert_eq!(subs["data"], json!([]));

    let sub_ref = pay_link(&app, &p, LinkPath::Subscription, MONTHLY).await;
    let (s, subs) = app
        .get(&format!("/v1/paymentwall/projects/{pid}/subscriptions"))
        .await;
    assert_eq!(s, StatusCode::OK, "{subs}");
    assert_eq!(subs["object"], "list");
    let list = subs["data"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{subs}");
    let sid = list[0]["id"].as_str().unwrap().to_string();
    assert_eq!(list[0]["status"], "active");
    assert_eq!(list[0]["payments"], 1);
    assert_eq!(list[0]["project"], pid.as_str());
    let (s, sub) = app
        .get(&format!("/v1/paymentwall/subscriptions/{sid}"))
        .await;
    assert_eq!(s, StatusCode::OK, "{sub}");
    assert_eq!(sub["object"], "paymentwall.subscription");
    assert_eq!(sub["is_test"], true);

    // The payment, its intent, and what the merchant confirmed about delivery.
    let (s, pay) = app
        .get(&format!(
            "/v1/paymentwall/projects/{pid}/payments/{sub_ref}"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{pay}");
    // The paid order as the document describes it (a subscription's, with its subscription).
    let record: schemas::PwPaymentRecord = serde_json::from_value(pay.clone()).expect("documented");
    assert!(record.payment.subscription.is_some());
    assert_eq!(pay["payment"]["id"], sub_ref.as_str());
    assert_eq!(pay["payment"]["amount"], "9.99");
    assert_eq!(pay["payment"]["subscription"]["id"], sid.as_str());
    assert!(pay["payment_intent"].as_str().unwrap().starts_with("pi_"));
    assert_eq!(pay["delivery_confirmations"], json!([]));
    let stored = app
        .svc
        .paymentwall()
        .delivery(
            p["secret_key"].as_str(),
            &[
                ("payment_id".to_string(), sub_ref.clone()),
                ("status".to_string(), "delivered".to_string()),
                ("type".to_string(), "digital".to_string()),
            ],
        )
        .await
        .unwrap()
        .expect("the delivery confirmation is stored");
    let (_, pay) = app
        .get(&format!(
            "/v1/paymentwall/projects/{pid}/payments/{sub_ref}"
        ))
        .await;
    let dc = &pay["delivery_confirmations"];
    assert_eq!(dc.as_array().unwrap().len(), 1, "{pay}");
    let _: schemas::PwPaymentRecord = serde_json::from_value(pay.clone()).expect("documented");
    assert_eq!(dc[0]["id"], stored.id.as_str());
    assert_eq!(dc[0]["status"], "delivered");
    assert_eq!(dc[0]["payload"]["payment_id"], sub_ref.as_str());
    assert_eq!(dc[0]["created"], stored.created_at / 1000);
    let (s, _) = app
        .get(&format!("/v1/paymentwall/projects/{pid}/payments/b0"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The test clock: a month on, the renewal is charged by the time the answer comes.
    let clock = format!("/v1/paymentwall/subscriptions/{sid}/advance_clock");
    let (s, sub) = app.post(&clock, json!({"seconds": 32 * DAY})).await;
    assert_eq!(s, StatusCode::OK, "{sub}");
    assert_eq!(sub["payments"], 2, "{sub}");
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["test_clock_offset_seconds"], 32 * DAY);
    for (body, param_name) in [
        (json!({"seconds": 0}), "seconds"),
        (json!({}), "seconds"),
        (json!({"seconds": 5, "days": 1}), "days"),
    ] {
        let (s, e) = app.post(&clock, body).await;
        assert_invalid(s, &e, param_name);
    }

    // Cancel: once.
    let (s, sub) = app
        .post(
            &format!("/v1/paymentwall/subscriptions/{sid}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{sub}");
    assert_eq!(sub["status"], "cancelled");
    let (s, e) = app
        .post(
            &format!("/v1/paymentwall/subscriptions/{sid}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");

    // Sandbox chargeback of a one-time payment: a full refund, and the payment says so.
    let one_ref = pay_link(&app, &p, LinkPath::Any, ONE_TIME).await;
    let cb = format!("/v1/paymentwall/projects/{pid}/payments/{one_ref}/chargeback");
    let (s, refund) = app.post(&cb, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{refund}");
    assert_eq!(refund["object"], "refund");
    assert_eq!(refund["amount"], 450);
    let (_, pay) = app
        .get(&format!(
            "/v1/paymentwall/projects/{pid}/payments/{one_ref}"
        ))
        .await;
    assert_eq!(pay["payment"]["refunded"], true, "{pay}");
    let (s, e) = app.post(&cb, json!({})).await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "nothing left to charge back: {e}"
    );

    // Publishable keys and other merchants get nothing.
    let other = app.other_merchant_key().await;
    for key in [app.pk.as_str(), other.as_str()] {
        let expected = if key == app.pk {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::NOT_FOUND
        };
        let (s, _) = app
            .get_as(key, &format!("/v1/paymentwall/subscriptions/{sid}"))
            .await;
        assert_eq!(s, expected);
        let (s, _) = app
            .get_as(
                key,
                &format!("/v1/paymentwall/projects/{pid}/payments/{sub_ref}"),
            )
            .await;
        assert_eq!(s, expected);
        let (s, _) = app.post_as(key, &clock, json!({"seconds": 60}), None).await;
        assert_eq!(s, expected);
        let (s, _) = app.post_as(key, &cb, json!({}), None).await;
        assert_eq!(s, expected);
    }
    let (s, _) = app.get("/v1/paymentwall/subscriptions/pws_nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    app.stop().await;
    guard.drop_database().await;
}

/// The background scheduler renews a subscription whose renewal came due on the wall clock,
/// without any request.
async fn the_scheduler_task_renews_due_subscriptions(db: Db) {
    let Some((app, guard)) = spawn_with(db, |c| c.scheduler_interval_ms = 100).await else {
        return;
    };
    let rx = Receiver::pingbacks().await;
    let p = create_project(
        &app,
        json!({"name": "Game shop", "api_type": "digital_goods", "pingback_url": rx.url}),
    )
    .await;
    pay_link(&app, &p, LinkPath::Subscription, MONTHLY).await;
    let subs = app
        .svc
        .paymentwall()
        .subscriptions_of_project(&app.scope(), p["id"].as_str().unwrap())
        .await
        .unwrap();
    let sid = subs[0].id.clone();
    // The paid month is over as far as the engine knows: its end moves to a second ago.
    let core = subs[0].subscription_id.clone().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut tx = app.svc.store.begin().await.unwrap();
    let mut c = tx.subscription(&app.scope(), &core).await.unwrap().unwrap();
    assert_eq!(c.test_clock, None, "on the wall clock");
    c.billing_cycle_anchor = now - 1000;
    c.current_period_end = now - 1000;
    c.refresh_next_action();
    tx.update_subscription(&mut c, None).await.unwrap();
    tx.commit().await.unwrap();
    let mut payments = Value::Null;
    for _ in 0..100 {
        let (_, sub) = app
            .get(&format!("/v1/paymentwall/subscriptions/{sid}"))
            .await;
        payments = sub["payments"].clone();
        if payments == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(payments, 2, "renewed by the scheduler");
    app.stop().await;
    guard.drop_database().await;
}

for_both_databases!(
    subscriptions_payments_and_chargebacks,
    the_scheduler_task_renews_due_subscriptions,
);

fn kassa(args: &[&str], url: &str) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .args(["--database-url", url])
        .env("KASSA_MASTER_KEY", common::MASTER_KEY)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

async fn create_a_project_from_the_command_line(db: Db) {
    let Some((url, guard)) = fresh_database(db).await else {
        return;
    };
    let out = kassa(&["merchant", "create", "--name", "Game Co", "--json"], &url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    let merchant = m["id"].as_str().unwrap();
    let out = kassa(
        &[
            "paymentwall",
            "project",
            "create",
            "--merchant",
            merchant,
            "--name",
            "Coins",
            "--api-type",
            "virtual_currency",
            "--pingback-url",
            "https://game.example/pingback",
            "--sign-version",
            "2",
            "--json",
        ],
        &url,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(p["id"].as_str().unwrap().starts_with("pwp_"), "{p}");
    assert_eq!(p["name"], "Coins");
    assert_eq!(p["api_type"], "virtual_currency");
    assert_eq!(p["pingback_url"], "https://game.example/pingback");
    assert_eq!(p["pingback_sign_version"], 2);
    assert!(
        is_hex32(&p["project_key"]) && is_hex32(&p["secret_key"]),
        "{p}"
    );

    // Text output shows the keys too.
    let out = kassa(
        &[
            "paymentwall",
            "project",
            "create",
            "--merchant",
            merchant,
            "--name",
            "Shop",
            "--api-type",
            "cart",
        ],
        &url,
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("secret key") && text.contains("project key"),
        "{text}"
    );

    // Refusals: an unknown merchant, an unknown API type, a bad sign version.
    let out = kassa(
        &[
            "paymentwall",
            "project",
            "create",
            "--merchant",
            "acct_nope",
            "--name",
            "X",
            "--api-type",
            "cart",
        ],
        &url,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such merchant"));
    let out = kassa(
        &[
            "paymentwall",
            "project",
            "create",
            "--merchant",
            merchant,
            "--name",
            "X",
            "--api-type",
            "goods",
        ],
        &url,
    );
    assert!(!out.status.success());
    let out = kassa(
        &[
            "paymentwall",
            "project",
            "create",
            "--merchant",
            merchant,
            "--name",
            "X",
            "--api-type",
            "cart",
            "--sign-version",
            "7",
        ],
        &url,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pingback_sign_version"));

    // The merchant's key sees the project over the API, without its secret.
    let app = TestApp::start(db, test_config(&url)).await;
    let sk = m["secret_key"].as_str().unwrap();
    let (s, got) = app
        .get_as(
            sk,
            &format!("/v1/paymentwall/projects/{}", p["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{got}");
    assert_eq!(got["project_key"], p["project_key"]);
    assert!(got.get("secret_key").is_none());
    let (_, list) = app.get_as(sk, "/v1/paymentwall/projects").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    app.stop().await;
    guard.drop_database().await;
}

for_both_databases!(create_a_project_from_the_command_line);

/// `country_db` is opened at start; a file that is missing or not a MaxMind DB stops the start
/// with a message naming the setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_country_database_is_opened_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mmdb = dir.path().join("country.mmdb");
    kassa_paymentwall::write_test_country_db(&mmdb, &[("127.0.0.0/8", "de")]).unwrap();
    let garbage = dir.path().join("garbage.mmdb");
    std::fs::write(&garbage, b"not a database").unwrap();
    for (path, ok) in [
        (mmdb.clone(), true),
        (dir.path().join("missing.mmdb"), false),
        (garbage, false),
    ] {
        let (url, guard) = fresh_database(Db::Sqlite).await.unwrap();
        let mut cfg = test_config(&url);
        cfg.country_db = Some(path.clone());
        cfg.client_ip_header = Some("x-forwarded-for".into());
        match kassa::App::build(cfg).await {
            Ok(app) => {
                assert!(ok, "{} should be refused", path.display());
                let shutdown = tokio_util::sync::CancellationToken::new();
                let base = format!("http://{}", app.addr());
                let run = tokio::spawn(app.run_until_stopped(shutdown.clone()));
                let r = reqwest::get(format!("{base}/healthz")).await.unwrap();
                assert!(r.status().is_success());
                shutdown.cancel();
                run.await.unwrap().unwrap();
            }
            Err(e) => {
                assert!(!ok, "{}: {e:#}", path.display());
                let msg = format!("{e:#}");
                assert!(msg.contains("country_db"), "{msg}");
                assert!(msg.contains(&path.display().to_string()), "{msg}");
            }
        }
        guard.drop_database().await;
    }
}
