//! Developers › Webhooks and Events in the dashboard, through HTTP as a browser without
//! JavaScript uses them: an endpoint created on the page shows its signing secret once and
//! that secret verifies what Kassa sends; disable and enable; a failing receiver's deliveries
//! show under the "failed" filter, one is resent, the rest are resent in bulk and arrive again;
//! rotating the secret asks for the password again; another merchant's or mode's endpoints
//! and events are not found; a viewer changes and resends nothing; every change is audited
//! with the user. On SQLite and PostgreSQL.

mod common;
#[path = "dashboard_webhooks/deliveries.rs"]
mod deliveries;

use axum::http::StatusCode;
use common::dashboard::{set_up, text_of_id, Browser, PASSWORD};
use common::{Receiver, TestApp};
use deliveries::{
    another_merchant_s_or_mode_s_endpoints_are_not_found,
    failed_deliveries_are_filtered_and_resent_in_bulk,
};
use kassa_core::webhook_signature;
use serde_json::{json, Value};

const HOOKS: &str = "/dashboard/test/developers/webhooks";

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

/// An endpoint made through the API (the dashboard's own form is tested once, below).
async fn api_endpoint(app: &TestApp, url: &str, events: Value) -> (String, String) {
    let (s, ep) = app
        .post(
            "/v1/webhook_endpoints",
            json!({"url": url, "enabled_events": events}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{ep}");
    (
        ep["id"].as_str().unwrap().to_string(),
        ep["secret"].as_str().unwrap().to_string(),
    )
}

/// Today's date (UTC) as the bulk resend form takes it.
fn today() -> String {
    let days = (common::dashboard::now_secs() / 86_400) as i64;
    // Civil date from days since the epoch (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

async fn audit_actions(app: &TestApp) -> Vec<kassa::reexport::store::AuditRecord> {
    app.svc
        .store
        .audit_records(&app.scope(), 50, None)
        .await
        .unwrap()
}

async fn an_endpoint_made_on_the_page_signs_what_it_sends(app: &TestApp) {
    let b = set_up(app, "dev@shop.example", "developer").await;
    let rx = Receiver::start().await;
    let list = b.get(HOOKS).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(list.body.contains("No webhook endpoint"));
    let csrf = list.csrf();

    // Bad input is refused on the page, with the values kept.
    let no_events = b.post(HOOKS, &[("csrf", &csrf), ("url", &rx.url)]).await;
    assert_eq!(no_events.status, StatusCode::BAD_REQUEST);
    assert!(
        no_events.body.contains("Choose the events"),
        "{}",
        no_events.body
    );
    assert!(no_events.body.contains(&rx.url));
    let bad_url = b
        .post(
            HOOKS,
            &[("csrf", &csrf), ("url", "ftp://nope"), ("events", "*")],
        )
        .await;
    assert_eq!(bad_url.status, StatusCode::BAD_REQUEST);
    assert!(
        bad_url.body.contains("absolute http or https URL"),
        "{}",
        bad_url.body
    );
    let bad_type = b
        .post(
            HOOKS,
            &[
                ("csrf", &csrf),
                ("url", &rx.url),
                ("events", "payment_intent.nope"),
            ],
        )
        .await;
    assert_eq!(bad_type.status, StatusCode::BAD_REQUEST);

    let made = b
        .post(
            HOOKS,
            &[
                ("csrf", &csrf),
                ("url", &rx.url),
                ("description", "shop <backend>"),
                ("events", "payment_intent.succeeded"),
                ("events", "refund.created"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let secret = text_of_id(&made.body, "new-secret").expect("the secret is shown");
    assert!(secret.starts_with("whsec_"));
    assert!(made.body.contains("shop &lt;backend&gt;"), "escaped");
    // Shown once: the list does not show it again.
    let again = b.get(HOOKS).await;
    assert!(!again.body.contains(&secret));
    assert!(again.body.contains(&rx.url));
    assert!(again
        .body
        .contains("payment_intent.succeeded, refund.created"));
    let (_, eps) = app.get("/v1/webhook_endpoints").await;
    let ep_id = eps["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        eps["data"][0]["enabled_events"],
        json!(["payment_intent.succeeded", "refund.created"])
    );

    // What Kassa sends verifies with the secret the page showed.
    let pi = app.paid_intent(1200).await;
    let got = rx.wait_for_count(1).await;
    assert!(
        verify(&secret, &got[0]),
        "the shown secret verifies the webhook"
    );
    assert_eq!(got[0].json()["type"], "payment_intent.succeeded");
    let event_id = got[0].header("webhook-id");
    app.drained().await;

    // The endpoint's page: health, the delivery with its attempt; the event's page.
    let page = b.get(&format!("{HOOKS}/{ep_id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        !page.body.contains(&secret),
        "the secret is not on the endpoint's page"
    );
    assert_eq!(
        text_of_id(&page.body, "health").unwrap(),
        "100% (1 of the last 1)"
    );
    assert!(page.body.contains(&event_id));
    assert!(page.body.contains("dstatus\">succeeded"));
    let ev = b
        .get(&format!("/dashboard/test/developers/events/{event_id}"))
        .await;
    assert_eq!(ev.status, StatusCode::OK, "{}", ev.body);
    assert!(
        ev.body.contains(&format!(
            "&quot;id&quot;: &quot;{}&quot;",
            pi["id"].as_str().unwrap()
        )),
        "pretty, escaped JSON"
    );
    assert!(
        ev.body.contains(&rx.url),
        "the delivery names its endpoint's URL"
    );
    let events = b
        .get("/dashboard/test/developers/events?type=payment_intent.succeeded")
        .await;
    assert!(events.body.contains(&event_id));
    assert!(!events.body.contains("payment_intent.created</a>"));
    let found = b
        .get(&format!("/dashboard/test/developers/events?q={event_id}"))
        .await;
    assert!(found
        .body
        .contains(&format!("/developers/events/{event_id}")));
    assert_eq!(
        b.get("/dashboard/test/developers/events?type=nope")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    // Edit: the URL and events change through the same command as the API.
    let saved = b
        .post(
            &format!("{HOOKS}/{ep_id}"),
            &[
                ("csrf", &csrf),
                ("url", &rx.url),
                ("description", "main"),
                ("events", "*"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (_, ep) = app.get(&format!("/v1/webhook_endpoints/{ep_id}")).await;
    assert_eq!(ep["enabled_events"], json!(["*"]));
    assert_eq!(ep["description"], "main");
    let refused = b
        .post(
            &format!("{HOOKS}/{ep_id}"),
            &[("csrf", &csrf), ("url", "not a url"), ("events", "*")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);

    let audit = audit_actions(app).await;
    let created = audit
        .iter()
        .find(|a| a.action == "webhook_endpoint.create")
        .expect("audited");
    assert_eq!(created.actor_type, "user");
    assert_eq!(created.actor_label.as_deref(), Some("dev@shop.example"));
    assert!(audit
        .iter()
        .any(|a| a.action == "webhook_endpoint.update"
            && a.target.as_deref() == Some(ep_id.as_str())));
    assert!(
        audit.iter().all(|a| !a.changes.contains(&secret)),
        "no secret in the audit log"
    );

    // Delete needs the box ticked.
    let unticked = b
        .post(&format!("{HOOKS}/{ep_id}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(unticked.status, StatusCode::BAD_REQUEST);
    let deleted = b
        .post(
            &format!("{HOOKS}/{ep_id}/delete"),
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert_eq!(
        b.get(&format!("{HOOKS}/{ep_id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(audit_actions(app)
        .await
        .iter()
        .any(|a| a.action == "webhook_endpoint.delete"));
}

async fn a_disabled_endpoint_gets_nothing_until_enabled(app: &TestApp) {
    let b = set_up(app, "dev2@shop.example", "developer").await;
    let rx = Receiver::start().await;
    let (ep, _) = api_endpoint(app, &rx.url, json!(["payment_intent.succeeded"])).await;
    let page = b.get(&format!("{HOOKS}/{ep}")).await;
    assert!(page.body.contains("/disable\""));
    let off = b
        .post(&format!("{HOOKS}/{ep}/disable"), &[("csrf", &page.csrf())])
        .await;
    assert_eq!(off.status, StatusCode::SEE_OTHER);
    let (_, got) = app.get(&format!("/v1/webhook_endpoints/{ep}")).await;
    assert_eq!(got["status"], "disabled");
    let page = b.get(&off.location).await;
    assert!(page.body.contains("Endpoint disabled"));
    assert!(page.body.contains("/enable\""));
    app.paid_intent(500).await;
    app.drained().await;
    assert_eq!(rx.count(), 0, "nothing is sent to a disabled endpoint");
    // Bulk resend refuses a disabled endpoint: it would contradict disabling it.
    let day = today();
    let refused = b
        .post(
            &format!("{HOOKS}/{ep}/bulk-resend"),
            &[("csrf", &page.csrf()), ("from", &day), ("to", &day)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);

    let on = b
        .post(&format!("{HOOKS}/{ep}/enable"), &[("csrf", &page.csrf())])
        .await;
    assert_eq!(on.status, StatusCode::SEE_OTHER);
    app.paid_intent(600).await;
    let got = rx.wait_for_count(1).await;
    assert_eq!(got[0].json()["data"]["object"]["amount"], 600);
    let statuses: Vec<String> = audit_actions(app)
        .await
        .iter()
        .filter(|a| a.action == "webhook_endpoint.update" && a.actor_type == "user")
        .map(|a| a.changes.clone())
        .collect();
    assert!(statuses
        .iter()
        .any(|c| c.contains("\"status\":\"disabled\"")));
    assert!(statuses
        .iter()
        .any(|c| c.contains("\"status\":\"enabled\"")));
}

async fn rotating_the_secret_asks_for_the_password_again(app: &TestApp) {
    let b = set_up(app, "dev3@shop.example", "developer").await;
    let rx = Receiver::start().await;
    let (ep, old) = api_endpoint(app, &rx.url, json!(["payment_intent.succeeded"])).await;
    // The password was given long ago.
    stale_password(app).await;
    let path = format!("{HOOKS}/{ep}");
    let page = b.get(&path).await;
    let asked = b
        .post(
            &format!("{path}/rotate"),
            &[("csrf", &page.csrf()), ("expires_in", "1h")],
        )
        .await;
    assert_eq!(asked.status, StatusCode::FORBIDDEN);
    assert!(asked.body.contains("Confirm your password"));
    let create = b
        .post(
            HOOKS,
            &[("csrf", &page.csrf()), ("url", &rx.url), ("events", "*")],
        )
        .await;
    assert_eq!(
        create.status,
        StatusCode::FORBIDDEN,
        "creating shows a secret too"
    );
    let again = b
        .post(
            "/dashboard/test/account/reauth",
            &[
                ("csrf", &page.csrf()),
                ("password", PASSWORD),
                ("next", &path),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    let bad = b
        .post(
            &format!("{path}/rotate"),
            &[("csrf", &page.csrf()), ("expires_in", "1y")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let rotated = b
        .post(
            &format!("{path}/rotate"),
            &[("csrf", &page.csrf()), ("expires_in", "1h")],
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new = text_of_id(&rotated.body, "new-secret").expect("the new secret is shown once");
    assert_ne!(new, old);
    assert!(rotated.body.contains("The old secret also signs"));
    assert!(!b.get(&path).await.body.contains(&new), "shown once");
    app.paid_intent(1000).await;
    let got = rx.wait_for_count(1).await;
    assert!(
        verify(&new, &got[0]) && verify(&old, &got[0]),
        "both sign for an hour"
    );
    let audit = audit_actions(app).await;
    assert!(audit
        .iter()
        .any(|a| a.action == "webhook_endpoint.rotate_secret" && a.actor_type == "user"));
    assert!(audit.iter().all(|a| !a.changes.contains(&new)));
}

/// Makes every dashboard session's password confirmation old.
async fn stale_password(app: &TestApp) {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.database_url)
        .await
        .unwrap();
    sqlx::query("UPDATE dashboard_sessions SET reauth_at = 1")
        .execute(&mut conn)
        .await
        .unwrap();
    let _ = sqlx::Connection::close(conn).await;
}

async fn a_viewer_reads_but_changes_and_resends_nothing(app: &TestApp) {
    let b: Browser = set_up(app, "viewer@shop.example", "viewer").await;
    let rx = Receiver::start().await;
    let (ep, secret) = api_endpoint(app, &rx.url, json!(["payment_intent.succeeded"])).await;
    app.paid_intent(300).await;
    let got = rx.wait_for_count(1).await;
    let event_id = got[0].header("webhook-id");
    app.drained().await;
    let list = b.get(HOOKS).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains(&ep));
    assert!(
        !list.body.contains("Add an endpoint"),
        "no create form for a viewer"
    );
    let page = b.get(&format!("{HOOKS}/{ep}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains(&secret));
    assert!(!page.body.contains("/resend\""), "no resend button");
    assert!(!page.body.contains("/rotate\""));
    let csrf = page.csrf();
    let day = today();
    let attempts = [
        (
            HOOKS.to_string(),
            vec![
                ("csrf", csrf.as_str()),
                ("url", rx.url.as_str()),
                ("events", "*"),
            ],
        ),
        (
            format!("{HOOKS}/{ep}/disable"),
            vec![("csrf", csrf.as_str())],
        ),
        (
            format!("{HOOKS}/{ep}/rotate"),
            vec![("csrf", csrf.as_str()), ("expires_in", "now")],
        ),
        (
            format!("{HOOKS}/{ep}/resend"),
            vec![("csrf", csrf.as_str()), ("event", event_id.as_str())],
        ),
        (
            format!("{HOOKS}/{ep}/bulk-resend"),
            vec![
                ("csrf", csrf.as_str()),
                ("from", day.as_str()),
                ("to", day.as_str()),
            ],
        ),
        (
            format!("/dashboard/test/developers/events/{event_id}/resend"),
            vec![("csrf", csrf.as_str()), ("endpoint", ep.as_str())],
        ),
    ];
    for (path, form) in &attempts {
        assert_eq!(
            b.post(path, form).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let ev = b
        .get(&format!("/dashboard/test/developers/events/{event_id}"))
        .await;
    assert_eq!(ev.status, StatusCode::OK);
    assert!(!ev.body.contains("Resend"));
    app.drained().await;
    assert_eq!(rx.count(), 1, "nothing was resent");
    let (_, eps) = app.get("/v1/webhook_endpoints").await;
    assert_eq!(
        eps["data"].as_array().unwrap().len(),
        1,
        "nothing was created"
    );
    assert!(audit_actions(app)
        .await
        .iter()
        .all(|a| !(a.action.starts_with("webhook_endpoint.") && a.actor_type == "user")));
}

on_both!(
    an_endpoint_made_on_the_page_signs_what_it_sends,
    a_disabled_endpoint_gets_nothing_until_enabled,
    failed_deliveries_are_filtered_and_resent_in_bulk,
    rotating_the_secret_asks_for_the_password_again,
    another_merchant_s_or_mode_s_endpoints_are_not_found,
    a_viewer_reads_but_changes_and_resends_nothing,
);
