//! Who may do what: a viewer's changes refused, CSRF and origin, another merchant's profile,
//! and each mode showing only its own profiles.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::StatusCode;
use kassa::reexport::service::Mode;
use serde_json::json;

use super::common::dashboard::{now_secs, set_up, text_of_id, totp, Browser, Page, PASSWORD};
use super::common::{Db, Receiver, TestApp};
use super::{api_profile, pm_call, shown};

async fn viewers_csrf_and_other_merchants(app: &TestApp) {
    let cb = Receiver::start_at("/cb").await;
    let p = api_profile(app, &app.sk, &cb.url).await;
    let card = p.integration("card");
    let v = set_up(app, "viewer@shop.example", "viewer").await;
    let base = format!("/dashboard/test/paymob/{}", p.id);
    let tab = v.get(&base).await;
    assert_eq!(tab.status, StatusCode::OK);
    assert!(
        !tab.body.contains("Add an integration") && !tab.body.contains("/integrations/"),
        "no edit for a viewer"
    );
    let keys = v.get(&format!("{base}/keys")).await;
    assert_eq!(keys.status, StatusCode::OK);
    assert!(!keys.body.contains("/recreate"));
    let csrf = tab.csrf();
    let url = cb.url.clone();
    let (csrf, url) = (csrf.as_str(), url.as_str());
    let forged: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("{base}/integrations/{card}"),
            vec![
                ("csrf", csrf),
                ("name", "x"),
                ("processed_callback_url", url),
            ],
        ),
        (
            format!("{base}/integrations"),
            vec![("csrf", csrf), ("kind", "cash")],
        ),
        (
            format!("{base}/keys/secret_key/recreate"),
            vec![("csrf", csrf)],
        ),
        (
            format!("{base}/callback-test"),
            vec![("csrf", csrf), ("integration", "1")],
        ),
        (
            format!("{base}/hmac"),
            vec![("csrf", csrf), ("input", "id=1")],
        ),
        (
            format!("{base}/look"),
            vec![("csrf", csrf), ("display_name", "x")],
        ),
        (
            format!("{base}/framing"),
            vec![("csrf", csrf), ("name", "x"), ("frame_ancestors", "*")],
        ),
        (
            "/dashboard/test/paymob".to_string(),
            vec![("csrf", csrf), ("name", "x"), ("kind", "card")],
        ),
    ];
    for (path, form) in &forged {
        let r = v.post(path, form).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.body);
        assert!(r.body.contains("Not allowed"), "{path}");
    }
    assert_eq!(
        v.get(&format!("{base}/hmac")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        v.get(&format!("{base}/callback-test")).await.status,
        StatusCode::FORBIDDEN
    );
    let (_, after) = app.get(&format!("/v1/paymob/profiles/{}", p.id)).await;
    assert_eq!(after["integrations"].as_array().unwrap().len(), 2);
    assert_eq!(after["name"], "Nile Shop");
    assert_eq!(cb.count(), 0, "no test callback went out");

    // A developer's forms still need the token and this origin.
    let d = set_up(app, "dev2@shop.example", "developer").await;
    let page = d.get(&format!("{base}/integrations/{card}")).await;
    let path = format!("{base}/integrations/{card}");
    let form = [("name", "renamed"), ("processed_callback_url", url)];
    assert_eq!(d.post(&path, &form).await.status, StatusCode::FORBIDDEN);
    let token = page.csrf();
    let with = [("csrf", token.as_str()), ("name", "renamed")];
    let foreign = d
        .post_with(&path, &with, &[("origin", "http://evil.example")])
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let (_, after) = app.get(&format!("/v1/paymob/profiles/{}", p.id)).await;
    assert!(after["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["name"] != "renamed"));

    // Another merchant's profile is not found, for reading and for changing.
    let other = app.other_merchant_key().await;
    let theirs = api_profile(app, &other, &cb.url).await;
    let their = format!("/dashboard/test/paymob/{}", theirs.id);
    for path in [
        their.clone(),
        format!("{their}/keys"),
        format!("{their}/look"),
        format!("{their}/hmac"),
    ] {
        assert_eq!(d.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let r = d
        .post(
            &format!("{their}/keys/secret_key/recreate"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = d
        .post(
            &format!("{their}/integrations/{}", theirs.integration("card")),
            &[("csrf", &page.csrf()), ("name", "x")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let list = d.get("/dashboard/test/paymob").await;
    assert!(!list.body.contains(&format!("/paymob/{}\"", theirs.id)));
    let (s, _) = pm_call(
        app,
        "/v1/intention/",
        Some(&format!("Token {}", theirs.sk)),
        json!({}),
    )
    .await;
    assert_ne!(s, StatusCode::UNAUTHORIZED, "their secret key still works");
}

crate::on_both!(viewers_csrf_and_other_merchants);

// ---- test and live ----

/// A browser for a server whose base URL is https: its session cookie is `__Host-…; Secure`,
/// which a cookie store keeps away from this test's plain-http connection, so the cookies are
/// carried by hand.
struct LiveBrowser {
    http: reqwest::Client,
    base: String,
    jar: Mutex<HashMap<String, String>>,
}

impl LiveBrowser {
    async fn send(&self, req: reqwest::RequestBuilder) -> Page {
        let cookies: Vec<String> = self
            .jar
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let r = req
            .header("cookie", cookies.join("; "))
            .send()
            .await
            .unwrap();
        for c in r.headers().get_all("set-cookie") {
            let pair = c.to_str().unwrap().split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            let mut jar = self.jar.lock().unwrap();
            if v.is_empty() {
                jar.remove(k);
            } else {
                jar.insert(k.to_string(), v.to_string());
            }
        }
        Browser::page(r).await
    }

    async fn get(&self, path: &str) -> Page {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        self.send(self.http.get(url)).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        self.send(self.http.post(url).form(form).header("origin", &self.base))
            .await
    }
}

/// Test profiles show only in the test dashboard and live ones only in the live dashboard; a
/// profile of the other mode is not found, as another merchant's would be.
async fn each_mode_shows_its_own_profiles(db: Db) {
    let Some(app) = TestApp::spawn_production(db, |cfg| {
        cfg.base_url = Some("https://pay.example".into());
        cfg.egress_allow = vec!["127.0.0.1".into()];
    })
    .await
    else {
        return;
    };
    let live_key = app
        .svc
        .create_api_keys(&app.merchant_id, Mode::Live)
        .await
        .unwrap()
        .secret_key;
    // No callback URLs: nothing to resolve.
    let test = api_profile(&app, &app.sk, "").await;
    let live = api_profile(&app, &live_key, "").await;

    let link = super::common::dashboard::create_user(&app, "owner@shop.example", "owner");
    let b = LiveBrowser {
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        base: app.base.clone(),
        jar: Mutex::default(),
    };
    let setup = b.get(&link).await;
    let done = b
        .post(
            &link,
            &[
                ("csrf", &setup.csrf()),
                ("password", PASSWORD),
                ("password2", PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    // Live mode needs an authenticator.
    let sec = b.get("/dashboard/test/account/security").await;
    assert_eq!(sec.status, StatusCode::OK, "{}", sec.body);
    b.post("/dashboard/test/account/totp", &[("csrf", &sec.csrf())])
        .await;
    let sec = b.get("/dashboard/test/account/security").await;
    let secret = text_of_id(&sec.body, "totp-secret").unwrap();
    let on = b
        .post(
            "/dashboard/test/account/totp/confirm",
            &[("csrf", &sec.csrf()), ("code", &totp(&secret, now_secs()))],
        )
        .await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.body);

    let test_list = b.get("/dashboard/test/paymob").await;
    let live_list = b.get("/dashboard/live/paymob").await;
    assert_eq!(live_list.status, StatusCode::OK, "{}", live_list.body);
    let row = |id: i64| format!("id=\"pm-{id}\"");
    assert!(test_list.body.contains(&row(test.id)) && !test_list.body.contains(&row(live.id)));
    assert!(live_list.body.contains(&row(live.id)) && !live_list.body.contains(&row(test.id)));
    for (mode, other) in [("live", test.id), ("test", live.id)] {
        for tail in ["", "/keys", "/look"] {
            let path = format!("/dashboard/{mode}/paymob/{other}{tail}");
            assert_eq!(b.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
        }
        let r = b
            .post(
                &format!("/dashboard/{mode}/paymob/{other}/keys/secret_key/recreate"),
                &[("csrf", &test_list.csrf())],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
    // The live profile's own pages work in live mode; a profile made there is live.
    assert_eq!(
        b.get(&format!("/dashboard/live/paymob/{}/keys", live.id))
            .await
            .status,
        StatusCode::OK
    );
    let made = b
        .post(
            "/dashboard/live/paymob",
            &[
                ("csrf", &live_list.csrf()),
                ("name", "Live Shop"),
                ("country", "are"),
                ("kind", "card"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    assert!(shown(&made, "secret_key").starts_with("are_sk_live_"));
    assert!(shown(&made, "public_key").starts_with("are_pk_live_"));
    app.stop().await;
}

crate::for_both_databases!(each_mode_shows_its_own_profiles);
