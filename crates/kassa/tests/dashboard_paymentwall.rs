//! The dashboard's Paymentwall projects through HTTP, as a browser without JavaScript uses
//! them: a project created from the list shows its secret once; its settings are saved through
//! the same command as the API (and audited with the user); the payment-systems matrix
//! round-trips and decides what the payment page offers a country, with the Payment Systems
//! API's answer previewed; the Test Pingback Tool sends a pingback the merchant's server can
//! verify and reports the answer; a regenerated secret replaces the old one at once; widgets,
//! branding and a logo (multipart) are saved; a viewer changes nothing (403), every form needs
//! the session's CSRF token and this origin, and another merchant's project is not found.
//! On SQLite and PostgreSQL.

mod common;
#[path = "dashboard_paymentwall/guards.rs"]
mod guards;
#[path = "dashboard_paymentwall/settings.rs"]
mod settings;
#[path = "dashboard_paymentwall/tools.rs"]
mod tools;
#[path = "dashboard_paymentwall/widgets.rs"]
mod widgets;

use axum::http::StatusCode;
use common::dashboard::{text_of_id, Browser, Page};
use common::TestApp;
use kassa_paymentwall::{sign_widget, SignVersion};
use serde_json::Value;

pub const LIST: &str = "/dashboard/test/paymentwall";

pub fn project_path(id: &str, tab: &str) -> String {
    if tab.is_empty() {
        format!("{LIST}/{id}")
    } else {
        format!("{LIST}/{id}/{tab}")
    }
}

/// Creates a project from the list page; its id and the secret shown once.
pub async fn create_project(b: &Browser, name: &str, api_type: &str) -> (String, String) {
    let list = b.get(LIST).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let done = b
        .post(
            LIST,
            &[
                ("csrf", &list.csrf()),
                ("name", name),
                ("api_type", api_type),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let secret = text_of_id(&done.body, "new-secret").expect("the secret is shown once");
    assert_eq!(secret.len(), 32);
    let marker = format!("href=\"{LIST}/pwp_");
    let at = done.body.find(&marker).expect("a link to the new project") + marker.len() - 4;
    let id = done.body[at..at + done.body[at..].find('"').unwrap()].to_string();
    // Shown once: the list does not show it again.
    assert!(!b.get(LIST).await.body.contains(&secret));
    (id, secret)
}

pub async fn api_project(app: &TestApp, id: &str) -> Value {
    let (s, p) = app.get(&format!("/v1/paymentwall/projects/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    p
}

/// Text as the page escaped it, unescaped (askama escapes `<>&"'`).
pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// The `value` of the input named `name` (attributes in any order), unescaped.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag = &html[at..at + html[at..].find('>')?];
    let v = tag.find(" value=\"")? + 8;
    Some(unescape(&tag[v..v + tag[v..].find('"')?]))
}

/// The settings form as the page fills it, with `changes` applied.
pub fn settings_form(page: &Page, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut form: Vec<(String, String)> = vec![("csrf".into(), page.csrf())];
    for name in [
        "name",
        "pingback_url",
        "frame_ancestors",
        "vc_name",
        "vc_rate",
        "link_max_age_seconds",
        "risk_review_delay_seconds",
        "renewal_retry_seconds",
    ] {
        form.push((
            name.into(),
            input_value(&page.body, name).unwrap_or_default(),
        ));
    }
    form.push(("api_type".into(), "digital_goods".into()));
    form.push(("pingback_sign_version".into(), "3".into()));
    for (k, v) in changes {
        form.retain(|(name, _)| name != k);
        form.push((k.to_string(), v.to_string()));
    }
    form
}

pub async fn post_pairs(b: &Browser, path: &str, form: &[(String, String)]) -> Page {
    let refs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    b.post(path, &refs).await
}

/// A signed test link of the project (v3), opened: the order page's HTML.
pub async fn order_page(app: &TestApp, key: &str, secret: &str, country: &str) -> String {
    let mut params: Vec<(String, String)> = [
        ("key", key),
        ("uid", "u-country"),
        ("widget", "p1_1"),
        ("amount", "5.00"),
        ("currencyCode", "USD"),
        ("ag_external_id", "gold"),
        ("ag_name", "Gold"),
        ("ag_type", "fixed"),
        ("country_code", country),
        ("sign_version", "3"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let sign = sign_widget(&params, secret, SignVersion::V3);
    params.push(("sign".into(), sign));
    let q = kassa_paymentwall::encode_query(&params);
    let r = app
        .http
        .get(app.url(&format!("/api/subscription?{q}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let location = r.headers()["location"].to_str().unwrap().to_string();
    app.http
        .get(app.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}
