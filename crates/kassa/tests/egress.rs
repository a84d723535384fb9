//! The egress guard through HTTP, on SQLite and PostgreSQL: in production every URL Kassa
//! would fetch later (webhook endpoint, Paymentwall pingback URL, Paymob processed callback and
//! intention `notification_url`, subscription plan `webhook_url`) is refused when it points to
//! loopback, a private or link-local address in any spelling; what was saved before (in
//! development) is refused again at delivery with one neutral error and no excerpt; development
//! reaches loopback only; `egress_allow` opens loopback in production; redirects are never
//! followed.

mod common;

use axum::http::StatusCode;
use common::{Answer, Db, Receiver, TestApp};
use serde_json::{json, Value};

const REFUSED: &str = "refused by egress policy";

/// Every spelling of a target the production profile refuses, with the words its reason
/// carries.
const REFUSED_FORMS: &[(&str, &str)] = &[
    ("http://127.0.0.1:9/hook", "loopback"),
    ("http://[::1]:9/hook", "loopback"),
    ("http://localhost:9/hook", "loopback"),
    ("http://2130706433:9/hook", "loopback"),
    ("http://0x7f.1:9/hook", "loopback"),
    ("http://127.1:9/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]:9/hook", "loopback"),
    ("http://0.0.0.0:9/hook", "unspecified"),
    ("http://10.0.0.1/hook", "private"),
    ("http://192.168.1.10/hook", "private"),
    ("http://[fd00::1]/hook", "private"),
    ("http://100.64.0.1/hook", "carrier-grade NAT"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
    (
        "https://user:secret@shop.example/hook",
        "user name or password",
    ),
];

fn assert_reason(message: &str, url: &str, words: &str) {
    assert!(
        message.contains(words),
        "{url}: the reason {message:?} names {words:?}"
    );
    if words != "user name or password" {
        assert!(
            message.contains("egress policy refuses"),
            "{url}: {message}"
        );
    }
}

/// A receiver that answers every webhook with a 302 to `to`.
async fn redirector(to: &str) -> Receiver {
    let rx = Receiver::start().await;
    rx.respond_with(Answer::new(302, "moved").header("location", to));
    rx
}

async fn add_endpoint(app: &TestApp, url: &str) -> (StatusCode, Value) {
    app.post(
        "/v1/webhook_endpoints",
        json!({"url": url, "enabled_events": ["*"]}),
    )
    .await
}

async fn add_project(app: &TestApp, pingback_url: &str) -> (StatusCode, Value) {
    app.post(
        "/v1/paymentwall/projects",
        json!({"name": "Game shop", "api_type": "digital_goods", "pingback_url": pingback_url}),
    )
    .await
}

async fn add_paymob_profile(app: &TestApp, callback: &str) -> (StatusCode, Value) {
    app.post(
        "/v1/paymob/profiles",
        json!({"name": "Nile Shop", "integrations": [
            {"kind": "card", "processed_callback_url": callback},
            {"kind": "moto", "processed_callback_url": "https://shop.example/cb"}]}),
    )
    .await
}

/// A Paymob API call with `Token <secret key>`.
async fn paymob_post(app: &TestApp, sk: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let resp = app
        .http
        .post(app.url(path))
        .header("authorization", format!("Token {sk}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The attempts of the delivery of `pi`'s first event to `endpoint`, once the outbox is
/// drained (every attempt due has been made and recorded).
async fn first_attempts(app: &TestApp, pi: &Value, endpoint: &str) -> Vec<Value> {
    app.drained().await;
    let (_, events) = app.get("/v1/events?limit=100").await;
    let ev = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|e| e["data"]["object"]["id"] == pi["id"])
        .and_then(|e| e["id"].as_str())
        .map(str::to_string);
    if let Some(ev) = ev {
        let (_, d) = app.get(&format!("/v1/events/{ev}/deliveries")).await;
        let attempts = d["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["webhook_endpoint"] == endpoint)
            .map(|d| d["attempts"].as_array().unwrap().clone())
            .unwrap_or_default();
        if !attempts.is_empty() {
            return attempts;
        }
    }
    panic!("no delivery attempt to {endpoint} for {}", pi["id"]);
}

// ---- scenarios ----

async fn production_refuses_private_targets_when_they_are_saved(db: Db) {
    let Some(app) = TestApp::spawn_production(db, |_| {}).await else {
        return;
    };
    // A Paymob profile with public callbacks, for the intention and the plan below.
    let (s, profile) = add_paymob_profile(&app, "https://shop.example/cb").await;
    assert_eq!(s, StatusCode::OK, "{profile}");
    let psk = profile["secret_key"].as_str().unwrap().to_string();
    let card = profile["integrations"][0]["id"].as_i64().unwrap();
    let moto = profile["integrations"][1]["id"].as_i64().unwrap();

    for &(url, words) in REFUSED_FORMS {
        let (s, e) = add_endpoint(&app, url).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{url}: {e}");
        assert_eq!(e["error"]["type"], "invalid_request_error", "{url}");
        assert_eq!(e["error"]["code"], "url_refused", "{url}");
        assert_eq!(e["error"]["param"], "url", "{url}");
        let message = e["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("url "), "{message}");
        assert_reason(message, url, words);

        let (s, e) = add_project(&app, url).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{url}: {e}");
        assert_eq!(e["error"]["code"], "url_refused", "{url}");
        assert_eq!(e["error"]["param"], "pingback_url", "{url}");
        assert_reason(e["error"]["message"].as_str().unwrap(), url, words);

        let (s, e) = add_paymob_profile(&app, url).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{url}: {e}");
        let reason = e["error"]["fields"]["processed_callback_url"][0]
            .as_str()
            .unwrap_or_else(|| panic!("{url}: {e}"));
        if words != "user name or password" {
            // (Credentials in a callback URL were refused before: "Enter a valid URL.")
            assert_reason(reason, url, words);
        }

        // The Paymob dialect answers in its own shape: field errors.
        let (s, e) = paymob_post(
            &app,
            &psk,
            "/v1/intention/",
            json!({"amount": 1000, "currency": "EGP", "payment_methods": [card],
                   "billing_data": {"first_name": "Mona", "last_name": "Adel",
                                    "email": "mona@example.com", "phone_number": "+201001234567"},
                   "notification_url": url}),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{url}: {e}");
        assert_reason(e["notification_url"][0].as_str().unwrap(), url, words);

        let (s, e) = paymob_post(
            &app,
            &psk,
            "/api/acceptance/subscription-plans",
            json!({"frequency": 30, "name": "Monthly", "amount_cents": 5000,
                   "integration": moto, "webhook_url": url}),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{url}: {e}");
        if words != "user name or password" {
            assert_reason(e["webhook_url"][0].as_str().unwrap(), url, words);
        }
    }

    // Nothing refused was saved; a public target (a name that does not resolve here) is.
    let (_, list) = app.get("/v1/webhook_endpoints").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "{list}");
    let (s, ep) = add_endpoint(&app, "https://hooks.shop.example/kassa").await;
    assert_eq!(s, StatusCode::OK, "{ep}");
    let (s, p) = add_project(&app, "https://shop.example/pingback").await;
    assert_eq!(s, StatusCode::OK, "{p}");

    // Changing a saved URL is checked the same way.
    let id = ep["id"].as_str().unwrap();
    let (s, e) = app
        .post(
            &format!("/v1/webhook_endpoints/{id}"),
            json!({"url": "http://[::1]/x"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e["error"]["code"], "url_refused");
    let id = p["id"].as_str().unwrap();
    let (s, e) = app
        .post(
            &format!("/v1/paymentwall/projects/{id}"),
            json!({"pingback_url": "http://0x7f.1/pb"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e["error"]["param"], "pingback_url");

    // A host name that resolves to loopback (here: the machine's own name, where it does).
    if let Some(host) = loopback_host_name() {
        let url = format!("http://{host}:9/hook");
        let (s, e) = add_endpoint(&app, &url).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{url}: {e}");
        assert_eq!(
            e["error"]["message"],
            "url resolves to a loopback address, which the egress policy refuses."
        );
    }
    app.stop().await;
}

/// A host name other than `localhost` that resolves only to loopback here, if any.
fn loopback_host_name() -> Option<String> {
    use std::net::ToSocketAddrs;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let host = host.trim().to_string();
    let addrs: Vec<_> = (host.as_str(), 9).to_socket_addrs().ok()?.collect();
    (!host.is_empty() && !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()))
        .then_some(host)
}

async fn production_refuses_at_delivery_what_development_saved(db: Db) {
    let Some((url, guard)) = common::fresh_database(db).await else {
        return;
    };
    let rx = Receiver::start().await;
    let pingbacks = Receiver::pingbacks().await;

    // Saved in development, where loopback is allowed.
    let dev = TestApp::start(db, common::test_config(&url)).await;
    let (s, ep) = add_endpoint(&dev, &rx.url).await;
    assert_eq!(s, StatusCode::OK, "{ep}");
    let (s, project) = add_project(&dev, &pingbacks.url).await;
    assert_eq!(s, StatusCode::OK, "{project}");
    let (sk, merchant) = (dev.sk.clone(), dev.merchant_id.clone());
    dev.stop_keep_db().await;

    // The same database in production.
    let mut cfg = common::test_config(&url);
    cfg.profile = kassa::config::Profile::Production;
    let mut prod = TestApp::start(db, cfg).await;
    prod.sk = sk;
    prod.merchant_id = merchant;
    let pi = prod.paid_intent(1500).await;
    let attempts = first_attempts(&prod, &pi, ep["id"].as_str().unwrap()).await;
    assert_eq!(attempts[0]["error"], REFUSED, "{attempts:?}");
    assert_eq!(attempts[0]["status_code"], Value::Null);
    assert_eq!(attempts[0]["response_excerpt"], Value::Null);

    // The Test Pingback Tool says the same, and shows no response.
    let id = project["id"].as_str().unwrap();
    let (s, t) = prod
        .post(
            &format!("/v1/paymentwall/projects/{id}/test_pingback"),
            json!({"type": 0, "uid": "u1"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["success"], false);
    assert_eq!(t["response"], Value::Null);
    assert_eq!(
        t["error"],
        format!("Pingback wasn't successful: {REFUSED}."),
        "{t}"
    );

    prod.drained().await;
    assert!(rx.all().is_empty(), "the loopback receiver got nothing");
    assert_eq!(
        pingbacks.count(),
        0,
        "the loopback pingback URL got nothing"
    );
    prod.stop().await;
    guard.drop_database().await;
}

async fn development_reaches_loopback_only_and_follows_no_redirect(app: &TestApp) {
    for (url, words) in [
        ("http://10.0.0.1/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://0.0.0.0:9/hook", "unspecified"),
    ] {
        let (s, e) = add_endpoint(app, url).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{url}: {e}");
        assert_eq!(e["error"]["code"], "url_refused");
        assert_reason(e["error"]["message"].as_str().unwrap(), url, words);
    }

    let rx = Receiver::start().await;
    let second = Receiver::start().await;
    let redirecting = redirector(&second.url).await;
    let (s, _) = add_endpoint(app, &rx.url).await;
    assert_eq!(s, StatusCode::OK);
    let (s, via) = add_endpoint(app, &redirecting.url).await;
    assert_eq!(s, StatusCode::OK);

    let pi = app.paid_intent(700).await;
    rx.wait_for("a delivered webhook", |got| {
        got.iter()
            .any(|r| r.json()["data"]["object"]["id"] == pi["id"])
    })
    .await;
    let attempts = first_attempts(app, &pi, via["id"].as_str().unwrap()).await;
    assert_eq!(attempts[0]["status_code"], 302, "{attempts:?}");
    assert_eq!(attempts[0]["response_excerpt"], "moved");
    assert!(redirecting.count() >= 1);
    app.drained().await;
    assert!(
        second.all().is_empty(),
        "the redirect target received nothing"
    );
}

async fn egress_allow_opens_loopback_in_production(db: Db) {
    // A CIDR entry.
    let Some(app) =
        TestApp::spawn_production(db, |cfg| cfg.egress_allow = vec!["127.0.0.0/8".into()]).await
    else {
        return;
    };
    let rx = Receiver::start().await;
    let (s, ep) = add_endpoint(&app, &rx.url).await;
    assert_eq!(s, StatusCode::OK, "{ep}");
    let (s, e) = add_endpoint(&app, "http://10.0.0.1/hook").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "still closed: {e}");
    let pi = app.paid_intent(900).await;
    rx.wait_for("a webhook allowed by 127.0.0.0/8", |got| {
        got.iter()
            .any(|r| r.json()["data"]["object"]["id"] == pi["id"])
    })
    .await;
    app.stop().await;

    // A host-name entry opens that name, not the address itself.
    let Some(app) =
        TestApp::spawn_production(db, |cfg| cfg.egress_allow = vec!["localhost".into()]).await
    else {
        return;
    };
    let rx = Receiver::start().await;
    let by_name = rx.url.replace("127.0.0.1", "localhost");
    let (s, e) = add_endpoint(&app, &rx.url).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "the address is not listed: {e}");
    let (s, ep) = add_endpoint(&app, &by_name).await;
    assert_eq!(s, StatusCode::OK, "{ep}");
    let pi = app.paid_intent(901).await;
    rx.wait_for("a webhook allowed by name", |got| {
        got.iter()
            .any(|r| r.json()["data"]["object"]["id"] == pi["id"])
    })
    .await;
    app.stop().await;
}

async fn a_bad_allow_list_entry_stops_the_start(db: Db) {
    let Some((url, guard)) = common::fresh_database(db).await else {
        return;
    };
    let mut cfg = common::test_config(&url);
    cfg.profile = kassa::config::Profile::Production;
    cfg.egress_allow = vec!["10.1.2.3/16".into()];
    let err = kassa::App::build(cfg)
        .await
        .err()
        .expect("a bad entry is refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("10.1.2.3/16") && text.contains("did you mean 10.1.0.0/16"),
        "{text}"
    );
    guard.drop_database().await;
}

for_both_databases!(
    production_refuses_private_targets_when_they_are_saved,
    production_refuses_at_delivery_what_development_saved,
    egress_allow_opens_loopback_in_production,
    a_bad_allow_list_entry_stops_the_start,
);
on_both!(development_reaches_loopback_only_and_follows_no_redirect);
