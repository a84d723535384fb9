//! The merchant dashboard through HTTP, as a browser without JavaScript uses it: the first
//! user from `kassa user create`, the password set through the single-use link, TOTP with
//! recovery codes, sessions, the same-origin and CSRF checks on every form, roles, a refund
//! from a payment's page, a key rolled with expiry "now", and the audit log they write. On
//! SQLite and PostgreSQL. (tests/interop/test_dashboard.py drives the same pages in Chromium.)

mod common;

use axum::http::StatusCode;
use common::dashboard::{create_user, now_secs, set_up, text_of_id, totp, Browser, PASSWORD};
use common::TestApp;
use serde_json::json;

async fn signing_in_with_a_second_factor(app: &TestApp) {
    // The set-up link names the user, signs them in, sends them to set up TOTP, and works once.
    let link = create_user(app, "Owner@Shop.example", "owner");
    let b = Browser::new(app);
    let page = b.get(&link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("owner@shop.example"));
    let done = b
        .post(
            &link,
            &[
                ("csrf", &page.csrf()),
                ("password", PASSWORD),
                ("password2", PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location, "/dashboard/test/account/security");
    assert_eq!(b.get(&link).await.status, StatusCode::NOT_FOUND);
    // Too short, or two different passwords, are refused on the page.
    let link = create_user(app, "other@shop.example", "developer");
    let o = Browser::new(app);
    let csrf = o.get(&link).await.csrf();
    let short = o
        .post(
            &link,
            &[
                ("csrf", &csrf),
                ("password", "short"),
                ("password2", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    let differ = o
        .post(
            &link,
            &[
                ("csrf", &csrf),
                ("password", PASSWORD),
                ("password2", "another password!"),
            ],
        )
        .await;
    assert_eq!(differ.status, StatusCode::BAD_REQUEST);
    assert!(differ.body.contains("not the same"));

    // Live mode stays shut without an authenticator (and on this development server anyway).
    assert_eq!(
        b.get("/dashboard/live/payments").await.status,
        StatusCode::FORBIDDEN
    );

    // Set up TOTP: a wrong code is refused, the right one gives ten recovery codes.
    let sec = b.get("/dashboard/test/account/security").await;
    let enrol = b
        .post("/dashboard/test/account/totp", &[("csrf", &sec.csrf())])
        .await;
    assert_eq!(enrol.status, StatusCode::SEE_OTHER);
    let sec = b.get("/dashboard/test/account/security").await;
    let secret = text_of_id(&sec.body, "totp-secret").expect("the secret is shown as text");
    assert!(sec.body.contains("<svg"), "a QR code drawn on the server");
    let wrong = b
        .post(
            "/dashboard/test/account/totp/confirm",
            &[("csrf", &sec.csrf()), ("code", "000000")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let step = now_secs();
    let ok = b
        .post(
            "/dashboard/test/account/totp/confirm",
            &[("csrf", &sec.csrf()), ("code", &totp(&secret, step))],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let codes: Vec<String> = ok
        .body
        .split("<li><code>")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].to_string())
        .collect();
    assert_eq!(codes.len(), 10, "{}", ok.body);

    // Sign out: the session is gone server-side, so its cookie no longer opens anything.
    let home = b.get("/dashboard/test").await;
    assert_eq!(home.status, StatusCode::OK);
    let out = b.post("/dashboard/logout", &[("csrf", &home.csrf())]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let after = b.get("/dashboard/test/payments").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert!(after.location.starts_with("/dashboard/login"));

    // Sign in: password, then the second factor; until then no page opens.
    let login = b.get("/dashboard/login").await;
    let bad = b
        .post(
            "/dashboard/login",
            &[
                ("csrf", &login.csrf()),
                ("email", "owner@shop.example"),
                ("password", "wrong password"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    let unknown = b
        .post(
            "/dashboard/login",
            &[
                ("csrf", &login.csrf()),
                ("email", "nobody@shop.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(bad
        .body
        .contains(kassa::reexport::service::users::LOGIN_FAILED));
    assert!(unknown
        .body
        .contains(kassa::reexport::service::users::LOGIN_FAILED));
    let good = b
        .post(
            "/dashboard/login",
            &[
                ("csrf", &login.csrf()),
                ("email", "OWNER@shop.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(good.status, StatusCode::SEE_OTHER);
    assert_eq!(
        good.location,
        "/dashboard/second-factor?next=%2Fdashboard%2Ftest"
    );
    assert_eq!(
        b.get("/dashboard/test").await.location,
        "/dashboard/second-factor"
    );
    let sf = b.get("/dashboard/second-factor").await;
    // The code used to switch TOTP on cannot be used again.
    let replay = b
        .post(
            "/dashboard/second-factor",
            &[("csrf", &sf.csrf()), ("code", &totp(&secret, step))],
        )
        .await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    let recovered = b
        .post(
            "/dashboard/second-factor",
            &[("csrf", &sf.csrf()), ("code", &codes[0])],
        )
        .await;
    assert_eq!(
        recovered.status,
        StatusCode::SEE_OTHER,
        "{}",
        recovered.body
    );
    assert_eq!(b.get("/dashboard/test").await.status, StatusCode::OK);

    // A recovery code works once.
    let c = Browser::new(app);
    let login = c.get("/dashboard/login").await;
    c.post(
        "/dashboard/login",
        &[
            ("csrf", &login.csrf()),
            ("email", "owner@shop.example"),
            ("password", PASSWORD),
        ],
    )
    .await;
    let sf = c.get("/dashboard/second-factor").await;
    let again = c
        .post(
            "/dashboard/second-factor",
            &[("csrf", &sf.csrf()), ("code", &codes[0])],
        )
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);

    // "Sign out everywhere else" ends the first browser's session.
    let sf = c.get("/dashboard/second-factor").await;
    let ok = c
        .post(
            "/dashboard/second-factor",
            &[("csrf", &sf.csrf()), ("code", &codes[1])],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let sec = c.get("/dashboard/test/account/security").await;
    let r = c
        .post(
            "/dashboard/test/account/sessions/revoke",
            &[("csrf", &sec.csrf())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get("/dashboard/test").await.status, StatusCode::SEE_OTHER);
    assert_eq!(c.get("/dashboard/test").await.status, StatusCode::OK);
}

async fn failed_sign_ins_are_throttled(app: &TestApp) {
    let b = set_up(app, "t@shop.example", "viewer").await;
    let login = b.get("/dashboard/login").await;
    for _ in 0..5 {
        let p = b
            .post(
                "/dashboard/login",
                &[
                    ("csrf", &login.csrf()),
                    ("email", "t@shop.example"),
                    ("password", "not the password"),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    }
    // Now even the right password waits.
    let p = b
        .post(
            "/dashboard/login",
            &[
                ("csrf", &login.csrf()),
                ("email", "t@shop.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS);
}

async fn forms_need_the_session_token_and_this_origin(app: &TestApp) {
    let b = set_up(app, "owner2@shop.example", "owner").await;
    let pi = app.paid_intent(2000).await;
    let id = pi["id"].as_str().unwrap();
    let path = format!("/dashboard/test/payments/{id}/refund");
    let page = b.get(&format!("/dashboard/test/payments/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Refund"));
    let csrf = page.csrf();
    // No token, a token of another session, a foreign Origin, a cross-site fetch: 403.
    assert_eq!(
        b.post(&path, &[("amount", "5.00")]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        b.post(
            &path,
            &[("csrf", "0".repeat(64).as_str()), ("amount", "5.00")]
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let foreign = b
        .post_with(
            &path,
            &[("csrf", &csrf), ("amount", "5.00")],
            &[("origin", "http://evil.example")],
        )
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let cross = b
        .post_with(
            &path,
            &[("csrf", &csrf), ("amount", "5.00")],
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    let (_, refunds) = app.get(&format!("/v1/refunds?payment_intent={id}")).await;
    assert_eq!(
        refunds["data"].as_array().unwrap().len(),
        0,
        "nothing was refunded"
    );
    // The real form: a partial refund through the same command as the API.
    let done = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("amount", "5.00"),
                ("reason", "requested_by_customer"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let (_, refunds) = app.get(&format!("/v1/refunds?payment_intent={id}")).await;
    assert_eq!(refunds["data"][0]["amount"], 500);
    let detail = b.get(&done.location).await;
    assert!(
        detail.body.contains("refund.created"),
        "the refund's event is on the timeline"
    );
    // More than what remains is refused with the core's message, nothing written.
    let over = b.post(&path, &[("csrf", &csrf), ("amount", "16.00")]).await;
    assert_eq!(over.status, StatusCode::BAD_REQUEST);
    // The audit log names the user and what changed.
    let audit = app
        .svc
        .store
        .audit_records(&app.scope(), 10, None)
        .await
        .unwrap();
    let r = audit
        .iter()
        .find(|a| a.action == "refund.create")
        .expect("audited");
    assert_eq!(r.actor_type, "user");
    assert_eq!(r.actor_label.as_deref(), Some("owner2@shop.example"));
    assert!(r.changes.contains("\"amount\":500"));
}

async fn a_viewer_reads_but_cannot_move_money_or_see_keys(app: &TestApp) {
    let b = set_up(app, "viewer@shop.example", "viewer").await;
    let pi = app.paid_intent(1500).await;
    let id = pi["id"].as_str().unwrap();
    let list = b.get(&format!("/dashboard/test/payments?q={id}")).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains(id), "found by its id");
    let page = b.get(&format!("/dashboard/test/payments/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.body.contains("refund-amount"),
        "no refund form for a viewer"
    );
    // The payment's attempts: one, succeeded; a 3-D Secure one shows its challenge.
    let attempts = &page.body[page.body.find("id=\"attempts\"").expect("attempts")..];
    assert!(attempts[..attempts.find("</table>").unwrap()].contains("<td>succeeded</td>"));
    let challenged = app.create_intent(900, json!({})).await;
    let cid = challenged["id"].as_str().unwrap();
    let (status, v) = app
        .post(
            &format!("/v1/payment_intents/{cid}/confirm"),
            json!({"payment_method": "pm_card_threeDSecureRequired", "return_url": "https://shop.example/back"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let page3ds = b.get(&format!("/dashboard/test/payments/{cid}")).await;
    assert!(
        page3ds
            .body
            .contains("<td>requires_action</td><td>3-D Secure</td>"),
        "{}",
        page3ds.body
    );
    let forged = b
        .post(
            &format!("/dashboard/test/payments/{id}/refund"),
            &[("csrf", &page.csrf()), ("amount", "1.00")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        b.get("/dashboard/test/developers/keys").await.status,
        StatusCode::FORBIDDEN
    );
    let (_, refunds) = app.get(&format!("/v1/refunds?payment_intent={id}")).await;
    assert_eq!(refunds["data"].as_array().unwrap().len(), 0);
}

async fn a_key_rolled_with_expiry_now_stops_at_once(app: &TestApp) {
    let b = set_up(app, "dev@shop.example", "developer").await;
    // The key is used once so "last used" shows.
    assert_eq!(app.get("/v1/payment_intents").await.0, StatusCode::OK);
    let keys = b.get("/dashboard/test/developers/keys").await;
    assert_eq!(keys.status, StatusCode::OK, "{}", keys.body);
    let shown = format!("sk_test_…{}", &app.sk[app.sk.len() - 4..]);
    assert!(keys.body.contains(&shown));
    let at = keys.body.find(&shown).unwrap();
    let row_start = keys.body[..at].rfind("<tr id=\"").unwrap() + 8;
    let key_id = &keys.body[row_start..row_start + keys.body[row_start..].find('"').unwrap()];
    let rolled = b
        .post(
            &format!("/dashboard/test/developers/keys/{key_id}/roll"),
            &[("csrf", &keys.csrf()), ("expires_in", "now")],
        )
        .await;
    assert_eq!(rolled.status, StatusCode::OK, "{}", rolled.body);
    let new_key = text_of_id(&rolled.body, "new-key").unwrap();
    assert!(new_key.starts_with("sk_test_"));
    assert_eq!(
        app.get("/v1/payment_intents").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get_as(&new_key, "/v1/payment_intents").await.0,
        StatusCode::OK
    );
    // Rolling it again is refused: it has expired.
    let again = b
        .post(
            &format!("/dashboard/test/developers/keys/{key_id}/roll"),
            &[("csrf", &keys.csrf()), ("expires_in", "1h")],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let audit = app
        .svc
        .store
        .audit_records(&app.scope(), 10, None)
        .await
        .unwrap();
    assert!(audit
        .iter()
        .any(|a| a.action == "api_key.roll" && a.target.as_deref() == Some(key_id)));
    assert!(
        audit.iter().all(|a| !a.changes.contains(&new_key)),
        "no key in the audit log"
    );
}

async fn the_api_s_changes_are_audited_with_the_key(app: &TestApp) {
    let (status, _) = app
        .post(
            "/v1/webhook_endpoints",
            json!({"url": "https://hooks.example/k", "enabled_events": ["*"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let audit = app
        .svc
        .store
        .audit_records(&app.scope(), 10, None)
        .await
        .unwrap();
    let r = audit
        .iter()
        .find(|a| a.action == "webhook_endpoint.create")
        .unwrap();
    assert_eq!(r.actor_type, "api_key");
    assert_eq!(
        r.actor_label.as_deref(),
        Some(format!("sk_test_…{}", &app.sk[app.sk.len() - 4..]).as_str())
    );
    assert!(r
        .request_id
        .as_deref()
        .is_some_and(|id| id.starts_with("req_")));
    assert!(
        !r.changes.contains("whsec_"),
        "the new secret is not recorded"
    );
    // The same record through the API, and paging by cursor.
    let (status, list) = app.get("/v1/audit_log?limit=1").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["data"][0]["action"], "webhook_endpoint.create");
    assert_eq!(list["data"][0]["actor"]["type"], "api_key");
    assert!(list["data"][0]["changes"]["url"].is_string());
    let cursor = list["data"][0]["id"].as_str().unwrap();
    let (status, _) = app
        .get(&format!("/v1/audit_log?starting_after={cursor}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    // Another merchant sees none of it, and cannot use its ids as cursors.
    let other = app.other_merchant_key().await;
    let (_, theirs) = app.get_as(&other, "/v1/audit_log").await;
    assert_eq!(theirs["data"].as_array().unwrap().len(), 0);
    let (status, _) = app
        .get_as(&other, &format!("/v1/audit_log?starting_after={cursor}"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn home_shows_volume_declines_and_failing_endpoints(app: &TestApp) {
    let b = set_up(app, "home@shop.example", "viewer").await;
    let receiver = common::Receiver::start().await;
    receiver.fail_next(100);
    let (status, ep) = app
        .post(
            "/v1/webhook_endpoints",
            json!({"url": receiver.url, "enabled_events": ["*"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ep}");
    let first_payment = "<a href=\"/dashboard/test/payments\">Take a first payment";
    let before = b.get("/dashboard/test").await;
    assert!(
        before
            .body
            .contains(&format!("To do:</span> {first_payment}")),
        "{}",
        before.body
    );
    app.paid_intent(1250).await;
    let pi = app.create_intent(700, json!({})).await;
    let (status, _) = app
        .post(
            &format!("/v1/payment_intents/{}/confirm", pi["id"].as_str().unwrap()),
            json!({"payment_method": "pm_card_chargeDeclined"}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    // Wait for a failed first attempt of the endpoint's deliveries.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let failing = app
            .svc
            .store
            .failing_endpoints(&app.scope(), 0)
            .await
            .unwrap();
        if !failing.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failed attempt recorded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let home = b.get("/dashboard/test").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("12.50 USD"), "volume: {}", home.body);
    assert!(
        home.body.contains("<code>card_declined</code>")
            || home.body.contains("<code>generic_decline</code>"),
        "declines: {}",
        home.body
    );
    assert!(
        home.body.contains(receiver.url.as_str()),
        "the failing endpoint is listed"
    );
    assert!(home.body.contains(&format!("Done:</span> {first_payment}")));
    assert!(home.body.contains("<svg class=\"chart\""));
}

/// `dashboard_listen`: the dashboard answers on its own address and not on the API's, which
/// keeps serving the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_can_have_a_listener_of_its_own() {
    let app = TestApp::spawn_with(common::Db::Sqlite, |cfg| {
        cfg.dashboard_listen = Some("127.0.0.1:0".into());
    })
    .await
    .unwrap();
    let own = app.dashboard_base.clone().expect("the dashboard listener");
    let http = &app.http;
    let login = http
        .get(format!("{own}/dashboard/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    assert!(login
        .headers()
        .get("content-security-policy")
        .is_some_and(|v| v.to_str().unwrap().contains("frame-ancestors 'none'")));
    let on_api = http.get(app.url("/dashboard/login")).send().await.unwrap();
    assert_eq!(on_api.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get("/v1/payment_intents").await.0, StatusCode::OK);
    // The API is not served on the dashboard's address.
    let api_there = http
        .get(format!("{own}/v1/payment_intents"))
        .bearer_auth(&app.sk)
        .send()
        .await
        .unwrap();
    assert_eq!(api_there.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

on_both!(
    home_shows_volume_declines_and_failing_endpoints,
    signing_in_with_a_second_factor,
    failed_sign_ins_are_throttled,
    forms_need_the_session_token_and_this_origin,
    a_viewer_reads_but_cannot_move_money_or_see_keys,
    a_key_rolled_with_expiry_now_stops_at_once,
    the_api_s_changes_are_audited_with_the_key,
);
