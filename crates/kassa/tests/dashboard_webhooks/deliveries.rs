//! The delivery log and bulk resend of a failing receiver's deliveries, and the isolation of
//! endpoints and events between merchants and modes (scenarios of `dashboard_webhooks`).

use axum::http::StatusCode;
use serde_json::json;

use super::common::dashboard::{set_up, text_of_id};
use super::common::{Receiver, TestApp};
use super::{api_endpoint, audit_actions, today, verify, HOOKS};

pub async fn failed_deliveries_are_filtered_and_resent_in_bulk(app: &TestApp) {
    let b = set_up(app, "support@shop.example", "support").await;
    let rx = Receiver::start().await;
    rx.fail_next(1000);
    let (ep, secret) = api_endpoint(app, &rx.url, json!(["payment_intent.succeeded"])).await;
    for amount in [700, 800, 900] {
        app.paid_intent(amount).await;
    }
    // Every try fails until the short test schedule gives up.
    app.settled().await;
    let tries = rx.count();
    assert!(tries >= 6, "retried: {tries}");

    let path = format!("{HOOKS}/{ep}");
    let page = b.get(&path).await;
    assert_eq!(
        text_of_id(&page.body, "health").unwrap(),
        "0% (0 of the last 3)"
    );
    assert_eq!(text_of_id(&page.body, "failing").unwrap(), "3");
    let failed = b.get(&format!("{path}?outcome=failed")).await;
    assert_eq!(failed.status, StatusCode::OK);
    assert_eq!(
        failed.body.matches("dstatus\">failed (gave up)").count(),
        3,
        "{}",
        failed.body
    );
    assert!(
        failed.body.contains("not now"),
        "the response excerpt is shown"
    );
    let succeeded = b.get(&format!("{path}?outcome=succeeded")).await;
    assert!(succeeded.body.contains("No delivery matches"));
    assert_eq!(
        b.get(&format!("{path}?outcome=lost")).await.status,
        StatusCode::BAD_REQUEST
    );

    // The receiver is back. One delivery is resent by hand from the log…
    rx.fail_next(0);
    let event_ids: Vec<String> = {
        let mut ids: Vec<String> = rx.all().iter().map(|r| r.header("webhook-id")).collect();
        ids.dedup();
        ids.sort();
        ids.dedup();
        ids
    };
    assert_eq!(event_ids.len(), 3);
    let by_event = b.get(&format!("{path}?event={}", event_ids[0])).await;
    assert_eq!(by_event.body.matches("class=\"delivery\"").count(), 1);
    let one = b
        .post(
            &format!("{path}/resend"),
            &[("csrf", &page.csrf()), ("event", &event_ids[0])],
        )
        .await;
    assert_eq!(one.status, StatusCode::SEE_OTHER, "{}", one.body);
    assert!(one.location.ends_with("done=resent"), "{}", one.location);
    assert_eq!(rx.count(), tries + 1);

    // …and the two others in bulk: queued for the worker, which sends them again.
    let day = today();
    let bad = b
        .post(
            &format!("{path}/bulk-resend"),
            &[("csrf", &page.csrf()), ("from", &day), ("to", "2001-01-01")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("must not come before"));
    let old = b
        .post(
            &format!("{path}/bulk-resend"),
            &[
                ("csrf", &page.csrf()),
                ("from", "2001-01-01"),
                ("to", "2001-01-02"),
            ],
        )
        .await;
    assert!(
        old.location.contains("done=bulk&n=0"),
        "nothing failed back then: {}",
        old.location
    );
    let bulk = b
        .post(
            &format!("{path}/bulk-resend"),
            &[("csrf", &page.csrf()), ("from", &day), ("to", &day)],
        )
        .await;
    assert_eq!(bulk.status, StatusCode::SEE_OTHER, "{}", bulk.body);
    assert!(
        bulk.location.contains("done=bulk&n=2&more=0"),
        "{}",
        bulk.location
    );
    let got = rx.wait_for_count(tries + 3).await;
    app.settled().await;
    for r in &got[tries..] {
        assert!(verify(&secret, r));
    }
    let resent: Vec<String> = got[tries + 1..]
        .iter()
        .map(|r| r.header("webhook-id"))
        .collect();
    assert!(
        resent.contains(&event_ids[1]) && resent.contains(&event_ids[2]),
        "{resent:?}"
    );
    let done = b.get(&bulk.location).await;
    assert!(
        done.body.contains("2 failed deliveries were queued"),
        "{}",
        done.body
    );
    let failed = b.get(&format!("{path}?outcome=failed")).await;
    assert!(
        failed.body.contains("No delivery matches"),
        "{}",
        failed.body
    );
    let succeeded = b.get(&format!("{path}?outcome=succeeded")).await;
    assert_eq!(succeeded.body.matches("dstatus\">succeeded").count(), 3);
    assert_eq!(rx.count(), tries + 3, "nothing sent twice");

    // The event's page shows every attempt, the manual one included.
    let ev = b
        .get(&format!(
            "/dashboard/test/developers/events/{}",
            event_ids[0]
        ))
        .await;
    assert!(ev.body.contains("<td>manual</td>"), "{}", ev.body);
    let audit = audit_actions(app).await;
    let r = audit
        .iter()
        .find(|a| a.action == "webhook_endpoint.bulk_resend" && a.changes.contains("\"queued\":2"))
        .expect("audited");
    assert_eq!(r.target.as_deref(), Some(ep.as_str()));
    assert_eq!(r.actor_label.as_deref(), Some("support@shop.example"));
    // Support resends but does not change endpoints.
    let change = b
        .post(&format!("{path}/disable"), &[("csrf", &page.csrf())])
        .await;
    assert_eq!(change.status, StatusCode::FORBIDDEN);
}

pub async fn another_merchant_s_or_mode_s_endpoints_are_not_found(app: &TestApp) {
    let b = set_up(app, "owner@shop.example", "owner").await;
    let rx = Receiver::start().await;
    // The other merchant's endpoint, and an event of theirs.
    let other = app.other_merchant_key().await;
    let (s, theirs) = app
        .post_as(
            &other,
            "/v1/webhook_endpoints",
            json!({"url": rx.url, "enabled_events": ["*"]}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let theirs = theirs["id"].as_str().unwrap().to_string();
    let (s, _) = app
        .post_as(
            &other,
            "/v1/payment_intents",
            json!({"amount": 100, "currency": "usd"}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, their_events) = app.get_as(&other, "/v1/events").await;
    let their_event = their_events["data"][0]["id"].as_str().unwrap().to_string();
    // This merchant's live-mode endpoint.
    let live = kassa::reexport::service::Scope::live(&app.merchant_id);
    let params = kassa::reexport::service::EndpointParams {
        url: rx.url.clone(),
        enabled_events: vec!["*".into()],
        description: None,
    };
    let live_ep = app
        .svc
        .webhooks()
        .create_endpoint(&live, params, None)
        .await
        .unwrap();
    let live_ep = live_ep["id"].as_str().unwrap().to_string();

    let list = b.get(HOOKS).await;
    let csrf = list.csrf();
    let day = today();
    for ep in [&theirs, &live_ep] {
        assert!(!list.body.contains(ep.as_str()));
        assert_eq!(
            b.get(&format!("{HOOKS}/{ep}")).await.status,
            StatusCode::NOT_FOUND
        );
        for (action, form) in [
            ("disable", vec![("csrf", csrf.as_str())]),
            ("delete", vec![("csrf", csrf.as_str()), ("confirm", "yes")]),
            (
                "resend",
                vec![("csrf", csrf.as_str()), ("event", their_event.as_str())],
            ),
            (
                "bulk-resend",
                vec![
                    ("csrf", csrf.as_str()),
                    ("from", day.as_str()),
                    ("to", day.as_str()),
                ],
            ),
        ] {
            let p = b.post(&format!("{HOOKS}/{ep}/{action}"), &form).await;
            assert_eq!(p.status, StatusCode::NOT_FOUND, "{action} on {ep}");
        }
        let edit = b
            .post(
                &format!("{HOOKS}/{ep}"),
                &[
                    ("csrf", &csrf),
                    ("url", "https://x.example/"),
                    ("events", "*"),
                ],
            )
            .await;
        assert_eq!(edit.status, StatusCode::NOT_FOUND);
    }
    let ev = format!("/dashboard/test/developers/events/{their_event}");
    assert_eq!(b.get(&ev).await.status, StatusCode::NOT_FOUND);
    let resend = b
        .post(
            &format!("{ev}/resend"),
            &[("csrf", &csrf), ("endpoint", &theirs)],
        )
        .await;
    assert_eq!(resend.status, StatusCode::NOT_FOUND);
    let search = b
        .get(&format!(
            "/dashboard/test/developers/events?q={their_event}"
        ))
        .await;
    assert!(search
        .body
        .contains("No event of this account and mode has that id"));
    let (_, theirs_now) = app
        .get_as(&other, &format!("/v1/webhook_endpoints/{theirs}"))
        .await;
    assert_eq!(theirs_now["status"], "enabled", "untouched");
}
