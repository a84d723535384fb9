//! The dashboard's Paymob section through HTTP, as a browser without JavaScript uses it, on
//! SQLite and PostgreSQL: a profile created from the dashboard (credentials shown once), an
//! integration edited and the next real payment's callback going to its new URL, keys
//! recreated (the old one refused at once, the new one working), the callback testing tool's
//! signed sample and the merchant's answer, the HMAC calculator against `kassa_paymob::hmac`,
//! the look and framing, and who may do what (a viewer's changes refused, CSRF, another
//! merchant's profile and the other mode's profiles not found). The scenarios are in
//! `dashboard_paymob/`.

mod common;

// A test's root file is its crate root: submodules are named by path.
#[path = "dashboard_paymob/access.rs"]
mod access;
#[path = "dashboard_paymob/profiles.rs"]
mod profiles;
#[path = "dashboard_paymob/tools.rs"]
mod tools;

use axum::http::StatusCode;
use common::dashboard::{text_of_id, Page};
use common::TestApp;
use serde_json::{json, Value};

/// Undoes the HTML escaping of a page's text.
pub(crate) fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The unescaped text of the element with `id`; panics when the page has none.
pub(crate) fn shown(page: &Page, id: &str) -> String {
    unescape(&text_of_id(&page.body, id).unwrap_or_else(|| panic!("no #{id} in {}", page.body)))
}

pub(crate) struct Profile {
    pub id: i64,
    pub sk: String,
    pub api_key: String,
    pub hmac: String,
    pub integrations: Vec<Value>,
}

impl Profile {
    pub fn integration(&self, kind: &str) -> i64 {
        self.integrations
            .iter()
            .find(|i| i["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} integration"))["id"]
            .as_i64()
            .unwrap()
    }
}

/// A profile made through the native API with `key` (one card integration without 3-D Secure
/// and one wallet integration, both calling back to `cb`).
pub(crate) async fn api_profile(app: &TestApp, key: &str, cb: &str) -> Profile {
    let (s, p) = app
        .post_as(
            key,
            "/v1/paymob/profiles",
            json!({"name": "Nile Shop", "integrations": [
                {"kind": "card", "three_d_secure": false, "processed_callback_url": cb},
                {"kind": "wallet", "processed_callback_url": cb}]}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    Profile {
        id: p["id"].as_i64().unwrap(),
        sk: p["secret_key"].as_str().unwrap().into(),
        api_key: p["api_key"].as_str().unwrap().into(),
        hmac: p["hmac_secret"].as_str().unwrap().into(),
        integrations: p["integrations"].as_array().unwrap().clone(),
    }
}

/// A Paymob API call with an `Authorization` header value.
pub(crate) async fn pm_call(
    app: &TestApp,
    path: &str,
    auth: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut req = app.http.post(app.url(path)).json(&body);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let r = req.send().await.unwrap();
    let s = StatusCode::from_u16(r.status().as_u16()).unwrap();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// An intention on `integration` paid at once with a card that needs no 3-D Secure; the
/// transaction id.
pub(crate) async fn card_payment(app: &TestApp, sk: &str, integration: i64) -> i64 {
    let body = json!({"amount": 4200, "currency": "EGP", "payment_methods": [integration],
        "billing_data": {"first_name": "Mona", "last_name": "Adel", "email": "mona@example.com",
                         "phone_number": "+201001234567"}});
    let (s, i) = pm_call(app, "/v1/intention/", Some(&format!("Token {sk}")), body).await;
    assert_eq!(s, StatusCode::CREATED, "{i}");
    let key = i["payment_keys"][0]["key"].as_str().unwrap().to_string();
    let source = json!({"subtype": "CARD", "identifier": "4111111111111111",
        "sourceholder_name": "Test Account", "expiry_month": "01", "expiry_year": "39", "cvn": "123"});
    let (s, t) = pm_call(
        app,
        "/api/acceptance/payments/pay",
        None,
        json!({"source": source, "payment_token": key}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["success"], "true", "{t}");
    t["id"].as_i64().unwrap()
}

/// The `hmac` of a callback's query.
pub(crate) fn query_hmac(r: &common::Received) -> String {
    url::form_urlencoded::parse(r.query.as_bytes())
        .find(|(k, _)| k == "hmac")
        .map(|(_, v)| v.into_owned())
        .expect("hmac in the callback's query")
}

pub(crate) async fn audit_actions(
    app: &TestApp,
    scope: &kassa::reexport::service::Scope,
) -> Vec<(String, String, String)> {
    app.svc
        .store
        .audit_records(scope, 50, None)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.action, a.actor_label.unwrap_or_default(), a.changes))
        .collect()
}
