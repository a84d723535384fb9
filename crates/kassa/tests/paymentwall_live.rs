//! Paymentwall live mode, black-box through HTTP on SQLite and PostgreSQL: a project has a test
//! and a live key pair; the key that signed a link decides the order's mode (a live order's
//! payment goes to the merchant's processor account, never the sandbox); the secret-key APIs
//! see the orders of their key's mode only; live mode is refused where the operator has not
//! allowed it, in Paymentwall's own page and API shapes.

mod common;

use axum::http::StatusCode;
use common::{Db, Receiver, TestApp};
use kassa::reexport::service::Mode;
use kassa_paymentwall::{parse_query, sign_widget, verify_pingback, ApiType, SignVersion};
use serde_json::{json, Value};

/// One key pair of a project.
#[derive(Clone)]
struct Keys {
    key: String,
    secret: String,
}

struct Project {
    id: String,
    test: Keys,
    live: Keys,
}

fn hex32(v: &Value) -> String {
    let s = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    assert!(
        s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()),
        "not 32 hex digits: {s}"
    );
    s.to_string()
}

/// Creates a project through the native API (with the test key) and checks what it shows; the
/// live secret, which a test key never sees, comes from the operator's side (`new_live_keys`,
/// as `kassa paymentwall project create --json` prints both pairs).
async fn project(app: &TestApp, pingback_url: &str) -> Project {
    let (s, v) = app
        .post(
            "/v1/paymentwall/projects",
            json!({"name": "Game shop", "api_type": "digital_goods", "pingback_url": pingback_url}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(
        v.get("live_secret_key").is_none(),
        "a test key sees no live secret: {v}"
    );
    assert!(v["live_project_key"].is_string(), "{v}");
    let id = v["id"].as_str().unwrap();
    // Nor may it make one, or point live pingbacks elsewhere.
    for body in [
        json!({"new_live_keys": true}),
        json!({"live_pingback_url": "https://attacker.example/pb"}),
    ] {
        let (s, e) = app
            .post(&format!("/v1/paymentwall/projects/{id}"), body)
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
        assert_eq!(e["error"]["code"], "livemode_key_required");
    }
    let live = app
        .svc
        .paymentwall()
        .new_live_keys(&app.merchant_id, id)
        .await
        .unwrap()
        .to_json_with_live_secret();
    assert_eq!(live["live_project_key"], v["live_project_key"]);
    let v = json!({
        "id": id,
        "project_key": v["project_key"],
        "secret_key": v["secret_key"],
        "live_project_key": live["live_project_key"],
        "live_secret_key": live["live_secret_key"],
        "live_pingback_url": v["live_pingback_url"],
    });
    let p = Project {
        id: v["id"].as_str().unwrap().to_string(),
        test: Keys {
            key: hex32(&v["project_key"]),
            secret: hex32(&v["secret_key"]),
        },
        live: Keys {
            key: hex32(&v["live_project_key"]),
            secret: hex32(&v["live_secret_key"]),
        },
    };
    let all = [&p.test.key, &p.test.secret, &p.live.key, &p.live.secret];
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert_ne!(a, b, "every key and secret is its own");
        }
    }
    assert!(v["live_pingback_url"].is_null(), "{v}");
    // Read back: both project keys, no secret.
    let (s, got) = app.get(&format!("/v1/paymentwall/projects/{}", p.id)).await;
    assert_eq!(s, StatusCode::OK, "{got}");
    assert_eq!(got["project_key"], p.test.key.as_str());
    assert_eq!(got["live_project_key"], p.live.key.as_str());
    assert!(got.get("secret_key").is_none() && got.get("live_secret_key").is_none());
    let text = got.to_string();
    assert!(!text.contains(&p.test.secret) && !text.contains(&p.live.secret));
    p
}

const FIXED: &[(&str, &str)] = &[
    ("amount", "9.99"),
    ("currencyCode", "USD"),
    ("ag_name", "Gold Membership"),
    ("ag_external_id", "product301"),
    ("ag_type", "fixed"),
];

/// A signed link the way the SDKs build it (flat ordering, `sign_version` 3 signed).
fn link(k: &Keys, params: &[(&str, &str)]) -> String {
    let mut all: Vec<(String, String)> = vec![
        ("key".into(), k.key.clone()),
        ("uid".into(), "user40012".into()),
        ("widget".into(), "p1_1".into()),
    ];
    for (n, v) in params {
        all.push((n.to_string(), v.to_string()));
    }
    all.push(("sign_version".into(), "3".into()));
    let sign = sign_widget(&all, &k.secret, SignVersion::V3);
    all.push(("sign".into(), sign));
    format!(
        "/api/subscription?{}",
        kassa_paymentwall::encode_query(&all)
    )
}

/// A signed REST query (Payment Status API, ticket).
fn signed_query(k: &Keys, params: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut q: Vec<(String, String)> = vec![("key".into(), k.key.clone())];
    for (n, v) in params {
        q.push((n.to_string(), v.to_string()));
    }
    q.push(("sign_version".into(), "3".into()));
    let sign = sign_widget(&q, &k.secret, SignVersion::V3);
    q.push(("sign".into(), sign));
    q
}

async fn get_text(app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = app.http.get(app.url(path)).send().await.unwrap();
    let status = r.status();
    (status, r.text().await.unwrap())
}

/// Opens a link and returns the order page path it redirects to.
async fn open(app: &TestApp, link: &str) -> String {
    let r = app.http.get(app.url(link)).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    r.headers()["location"].to_str().unwrap().to_string()
}

fn attr(html: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let i = html
        .find(&needle)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + needle.len();
    html[i..].split('"').next().unwrap().to_string()
}

/// Posts the page's pay form for method `ps` with `fields`; the answer's status and page
/// (a redirect followed).
async fn pay(
    app: &TestApp,
    order: &str,
    ps: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let (_, html) = get_text(app, &format!("{order}?ps={ps}")).await;
    let mut body: Vec<(String, String)> = vec![
        ("token".into(), attr(&html, "token")),
        ("nonce".into(), attr(&html, "nonce")),
        ("ps".into(), ps.into()),
    ];
    for (k, v) in fields {
        body.push((k.to_string(), v.to_string()));
    }
    let r = app
        .http
        .post(app.url(&format!("{order}/pay")))
        .form(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    if status == StatusCode::SEE_OTHER {
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        return get_text(app, &loc).await;
    }
    (status, r.text().await.unwrap())
}

fn card(number: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("number", number),
        ("exp", "12/34"),
        ("cvc", "123"),
        ("name", "Jo Doe"),
    ]
}

fn order_id(page: &str) -> String {
    page.rsplit('/').next().unwrap().to_string()
}

/// A server that allows live mode: `production` behind an https base URL (loopback allowed as
/// a pingback target, for the test's receivers).
async fn live_server(db: Db) -> Option<TestApp> {
    TestApp::spawn_production(db, |cfg| {
        cfg.base_url = Some("https://pay.example".into());
        cfg.egress_allow = vec!["127.0.0.1".into()];
    })
    .await
}

async fn payment_status(app: &TestApp, k: &Keys, params: &[(&str, &str)]) -> (StatusCode, Value) {
    let q = signed_query(k, params);
    let r = app
        .http
        .get(app.url(&format!(
            "/api/rest/payment?{}",
            kassa_paymentwall::encode_query(&q)
        )))
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

async fn delivery(app: &TestApp, secret: &str, r: &str) -> (StatusCode, Value) {
    let d = app
        .http
        .post(app.url("/api/delivery"))
        .header("X-ApiKey", secret)
        .form(&[
            ("payment_id", r),
            ("type", "digital"),
            ("status", "delivered"),
        ])
        .send()
        .await
        .unwrap();
    let status = d.status();
    (status, d.json().await.unwrap())
}

async fn a_live_key_link_opens_a_live_order_and_each_key_sees_its_own_mode(db: Db) {
    let Some(app) = live_server(db).await else {
        return;
    };
    let rx = Receiver::pingbacks().await;
    let p = project(&app, &rx.url).await;

    // A link signed with the live key opens a live order: its intent is a live payment.
    let live_page = open(&app, &link(&p.live, FIXED)).await;
    let live_order = app
        .svc
        .store
        .pw_order(&order_id(&live_page))
        .await
        .unwrap()
        .unwrap();
    assert!(live_order.livemode && !live_order.is_test, "{live_order:?}");
    let pi = app
        .svc
        .store
        .intent_by_id_any_merchant(&live_order.payment_intent_id)
        .await
        .unwrap()
        .unwrap();
    assert!(pi.livemode, "the order's payment is live");
    // Opening the same link again finds the same order.
    assert_eq!(open(&app, &link(&p.live, FIXED)).await, live_page);
    // The Test method is never offered in live mode (the project's switch is on by default,
    // and the link may even ask for Paymentwall's test mode).
    let (s, html) = get_text(&app, &live_page).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(r#"id="ps-cc""#), "{html}");
    assert!(!html.contains(r#"id="ps-test""#), "{html}");
    assert!(!html.contains(r#"id="test-badge""#), "{html}");
    let mut asks_test = FIXED.to_vec();
    asks_test.push(("test_mode", "1"));
    let asked = open(&app, &link(&p.live, &asks_test)).await;
    let (_, html) = get_text(&app, &asked).await;
    assert!(!html.contains(r#"id="ps-test""#), "{html}");

    // No processor account: refused clearly, nothing written.
    let (s, html) = pay(&app, &live_page, "cc", &card("4485 2757 4230 8327")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{html}");
    assert!(html.contains("processor_account_missing"), "{html}");
    let live_key = app
        .svc
        .create_api_keys(&app.merchant_id, Mode::Live)
        .await
        .unwrap()
        .secret_key;
    let path = format!("/v1/payment_intents/{}", pi.id);
    let (s, v) = app.get_as(&live_key, &path).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["livemode"], true);
    assert_eq!(v["status"], "requires_payment_method");
    assert!(v["last_payment_error"].is_null(), "{v}");
    // The test key does not see it.
    let (s, _) = app.get(&path).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The sandbox's test card is declined in live mode, before any processor is asked.
    let (s, html) = pay(&app, &live_page, "cc", &card("4242 4242 4242 4242")).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(html.contains(r#"id="decline""#), "{html}");
    let (_, v) = app.get_as(&live_key, &path).await;
    assert_eq!(v["status"], "requires_payment_method", "{v}");
    assert_eq!(
        v["last_payment_error"]["decline_code"], "test_mode_live_card",
        "{v}"
    );
    assert_eq!(
        rx.count(),
        0,
        "no pingback for a payment that did not happen"
    );

    // A link signed with the test key still pays in test mode: the Test method, is_test=1,
    // signed with the test secret.
    let mut test_params = FIXED.to_vec();
    test_params.push(("ps", "test"));
    let test_page = open(&app, &link(&p.test, &test_params)).await;
    let (s, html) = pay(&app, &test_page, "test", &[]).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(html.contains("Thank you"), "{html}");
    let pbs = rx.wait_for_count(1).await;
    let pb = parse_query(&pbs[0].query).unwrap();
    assert!(verify_pingback(&pb, &p.test.secret, ApiType::DigitalGoods));
    assert!(!verify_pingback(&pb, &p.live.secret, ApiType::DigitalGoods));
    let get = |k: &str| {
        pb.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {k} in {pb:?}"))
    };
    assert_eq!(get("is_test"), "1");
    let test_ref = get("ref");
    let test_order = app
        .svc
        .store
        .pw_order(&order_id(&test_page))
        .await
        .unwrap()
        .unwrap();
    assert!(!test_order.livemode && test_order.is_test);

    // The live order, paid (as the processor account would have it): its reference.
    let live_ref = "b1234567890";
    let mut tx = app.svc.store.begin().await.unwrap();
    assert!(tx.set_pw_order_ref(&live_order.id, live_ref).await.unwrap());
    tx.commit().await.unwrap();

    // Payment Status API: each key pair sees its own mode's payments; the other mode's are
    // "not found", as another project's.
    let (s, v) = payment_status(&app, &p.test, &[("ref", &test_ref)]).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["id"], test_ref.as_str());
    let (s, v) = payment_status(&app, &p.test, &[("ref", live_ref)]).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["code"], 4100);
    let (s, v) = payment_status(&app, &p.live, &[("ref", live_ref)]).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["id"], live_ref);
    let (s, _) = payment_status(&app, &p.live, &[("ref", &test_ref)]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // By user and product: the newest paid payment of the key's mode.
    let by_user = [("uid", "user40012"), ("ag_external_id", "product301")];
    let (_, v) = payment_status(&app, &p.live, &by_user).await;
    assert_eq!(v["id"], live_ref, "{v}");
    let (_, v) = payment_status(&app, &p.test, &by_user).await;
    assert_eq!(v["id"], test_ref.as_str(), "{v}");
    // A live key signed with the test secret is a wrong signature.
    let forged = Keys {
        key: p.live.key.clone(),
        secret: p.test.secret.clone(),
    };
    let (s, v) = payment_status(&app, &forged, &[("ref", live_ref)]).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");

    // Delivery Confirmation API: the secret's mode only.
    let (s, v) = delivery(&app, &p.test.secret, live_ref).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, v) = delivery(&app, &p.live.secret, &test_ref).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, v) = delivery(&app, &p.live.secret, live_ref).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // The native API reads it with the live key only.
    let payment = format!("/v1/paymentwall/projects/{}/payments/{live_ref}", p.id);
    let (s, v) = app.get_as(&live_key, &payment).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["delivery_confirmations"][0]["status"], "delivered", "{v}");
    let (s, _) = app.get(&payment).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Ticket API with the test pair: the live payment is not found.
    let q = signed_query(&p.test, &[("ref", live_ref), ("type", "1")]);
    let r = app
        .http
        .post(app.url("/developers/api/ticket"))
        .form(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The sandbox chargeback helper is for test payments only.
    let (s, v) = app
        .post_as(&live_key, &format!("{payment}/chargeback"), json!({}), None)
        .await;
    assert!(s.is_client_error(), "{s} {v}");

    // Live pingbacks may go to a URL of their own; the Test Pingback Tool, with the live key,
    // sends there, signed with the live secret.
    let live_rx = Receiver::pingbacks().await;
    let (s, v) = app
        .post_as(
            &live_key,
            &format!("/v1/paymentwall/projects/{}", p.id),
            json!({"live_pingback_url": live_rx.url}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["live_pingback_url"], live_rx.url.as_str());
    let (s, v) = app
        .post_as(
            &live_key,
            &format!("/v1/paymentwall/projects/{}/test_pingback", p.id),
            json!({"type": 0, "uid": "user1"}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let got = live_rx.wait_for_count(1).await;
    let pb = parse_query(&got[0].query).unwrap();
    assert!(verify_pingback(&pb, &p.live.secret, ApiType::DigitalGoods));
    assert_eq!(rx.count(), 1, "the test URL got nothing more");

    // A new live secret: the old one stops working at once; the live key stays.
    let (s, v) = app
        .post_as(
            &live_key,
            &format!("/v1/paymentwall/projects/{}", p.id),
            json!({"new_live_keys": true}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["live_project_key"], p.live.key.as_str());
    assert!(v.get("secret_key").is_none(), "{v}");
    let new_live = Keys {
        key: p.live.key.clone(),
        secret: hex32(&v["live_secret_key"]),
    };
    assert_ne!(new_live.secret, p.live.secret);
    let r = app
        .http
        .get(app.url(&link(&p.live, &[("amount", "1")])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (s, _) = payment_status(&app, &new_live, &[("ref", live_ref)]).await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;
}

async fn a_live_key_link_is_refused_where_live_mode_is_off(db: Db) {
    // The development profile: live mode never runs.
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let p = project(&app, "http://127.0.0.1:9/pb").await;
    let r = app
        .http
        .get(app.url(&link(&p.live, FIXED)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("livemode_disabled"), "{html}");
    assert!(html.contains("Live payments are not available"), "{html}");
    // A live key with a wrong signature stays Paymentwall's plain refusal (no signed strings).
    let forged = Keys {
        key: p.live.key.clone(),
        secret: p.test.secret.clone(),
    };
    let r = app
        .http
        .get(app.url(&link(&forged, FIXED)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let html = r.text().await.unwrap();
    assert!(!html.contains("link-diagnosis"), "{html}");
    // The REST APIs refuse the live pair in Paymentwall's envelope.
    let (s, v) = payment_status(&app, &p.live, &[("ref", "b1")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["type"], "Error");
    assert!(
        v["error"].as_str().unwrap().contains("livemode_disabled"),
        "{v}"
    );
    let (s, v) = delivery(&app, &p.live.secret, "b1").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    // The test pair works as ever.
    let page = open(&app, &link(&p.test, FIXED)).await;
    let order = app
        .svc
        .store
        .pw_order(&order_id(&page))
        .await
        .unwrap()
        .unwrap();
    assert!(!order.livemode);
    let (s, _) = payment_status(&app, &p.test, &[("ref", "b1")]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    app.stop().await;
}

for_both_databases!(
    a_live_key_link_opens_a_live_order_and_each_key_sees_its_own_mode,
    a_live_key_link_is_refused_where_live_mode_is_off,
);
