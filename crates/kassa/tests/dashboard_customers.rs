//! The dashboard's customers, subscriptions and test clocks through HTTP, as a browser without
//! JavaScript uses them: a customer with a saved card and a subscription made through the API
//! shows on its pages (the card as brand, last four digits and expiry only); pause, resume and
//! cancel from the subscription's page change it as the API sees it and are audited with the
//! user; a test clock created and advanced from its page renews the subscription; clocks do
//! not exist in live mode; a viewer cannot change a subscription; another merchant's objects
//! are not found. On SQLite and PostgreSQL.

mod common;

use axum::http::StatusCode;
use common::dashboard::{enrol_totp, set_up, text_of_id};
use common::{Db, TestApp};
use serde_json::{json, Value};

const DAY: i64 = 86_400;
/// 09:00 UTC on 2027-01-15: a clock's start, so month lengths are known.
const T0: i64 = 1_800_000_000 - 1_800_000_000 % DAY + 9 * 3600;

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

async fn customer(app: &TestApp, body: Value) -> String {
    let (s, c) = app.post("/v1/customers", body).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    id(&c)
}

/// Saves a card for the customer (a first payment with card data that asks to keep it);
/// returns the saved method and the payment.
async fn saved_card(app: &TestApp, cus: &str) -> (String, String) {
    let pi = app.create_intent(100, json!({"customer": cus})).await;
    let (s, paid) = app
        .post(
            &format!("/v1/payment_intents/{}/confirm", id(&pi)),
            json!({"setup_future_usage": "off_session", "payment_method_data": {"type": "card",
                   "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{paid}");
    (
        paid["payment_method"]["id"].as_str().unwrap().to_string(),
        id(&pi),
    )
}

async fn subscribe(app: &TestApp, cus: &str, pm: &str) -> Value {
    let (s, sub) = app
        .post(
            "/v1/subscriptions",
            json!({"customer": cus, "default_payment_method": pm, "items": [{"price_data": {
                "currency": "usd", "unit_amount": 1500, "recurring": {"interval": "month"},
                "product_data": {"name": "Pro plan"}}, "quantity": 2}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{sub}");
    assert_eq!(sub["status"], "active", "{sub}");
    sub
}

async fn status_of(app: &TestApp, sub: &str) -> String {
    let (s, v) = app.get(&format!("/v1/subscriptions/{sub}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["status"].as_str().unwrap().to_string()
}

async fn invoices(app: &TestApp, sub: &str) -> Vec<Value> {
    let (s, page) = app
        .get(&format!("/v1/invoices?subscription={sub}&limit=100"))
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    page["data"].as_array().unwrap().clone()
}

async fn the_pages_show_a_customer_their_card_and_subscription(app: &TestApp) {
    let b = set_up(app, "owner@shop.example", "owner").await;
    let cus = customer(
        app,
        json!({"email": "Ada@Example.com", "name": "Ada Lovelace"}),
    )
    .await;
    let (pm, first_payment) = saved_card(app, &cus).await;
    let sub = subscribe(app, &cus, &pm).await;
    let sid = id(&sub);
    let invoice = &invoices(app, &sid).await[0];
    let renewal_payment = invoice["payment_intent"].as_str().unwrap().to_string();

    let list = b.get("/dashboard/test/customers").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(list.body.contains(&cus) && list.body.contains("Ada Lovelace"));
    // Found by e-mail in any case, and by id.
    let found = b.get("/dashboard/test/customers?q=ADA%40example.com").await;
    assert!(
        found.body.contains(&format!("/customers/{cus}")),
        "{}",
        found.body
    );
    let found = b.get(&format!("/dashboard/test/customers?q={cus}")).await;
    assert!(found.body.contains(&format!("/customers/{cus}")));
    let none = b.get("/dashboard/test/customers?q=cus_nobody").await;
    assert_eq!(none.status, StatusCode::OK);
    assert!(!none.body.contains(&format!("/customers/{cus}")));

    let page = b.get(&format!("/dashboard/test/customers/{cus}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let cards = &page.body[page.body.find("id=\"cards\"").expect("a cards table")..];
    let cards = &cards[..cards.find("</table>").unwrap()];
    assert!(
        cards.contains("visa") && cards.contains("4242") && cards.contains("12/2034"),
        "{cards}"
    );
    // The card as a person knows it, never more: no number, BIN or fingerprint.
    let (_, method) = app.get(&format!("/v1/payment_methods/{pm}")).await;
    assert!(!page.body.contains("4242424242424242") && !page.body.contains("424242"));
    if let Some(fp) = method["card"]["fingerprint"].as_str() {
        assert!(!page.body.contains(fp), "no fingerprint");
    }
    assert!(page
        .body
        .contains(&format!("/dashboard/test/subscriptions/{sid}")));
    for pi in [&first_payment, &renewal_payment] {
        assert!(
            page.body
                .contains(&format!("/dashboard/test/payments/{pi}")),
            "payment {pi} linked"
        );
    }

    let subs = b.get("/dashboard/test/subscriptions").await;
    assert_eq!(subs.status, StatusCode::OK, "{}", subs.body);
    assert!(
        subs.body.contains(&sid) && subs.body.contains("30.00 USD / month"),
        "{}",
        subs.body
    );
    assert!(b
        .get("/dashboard/test/subscriptions?status=active")
        .await
        .body
        .contains(&sid));
    assert!(!b
        .get("/dashboard/test/subscriptions?status=canceled")
        .await
        .body
        .contains(&sid));
    assert_eq!(
        b.get("/dashboard/test/subscriptions?status=bogus")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        b.get("/dashboard/test/subscriptions?after=sub_gone")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let detail = b.get(&format!("/dashboard/test/subscriptions/{sid}")).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
    assert_eq!(
        text_of_id(&detail.body, "sub-status").as_deref(),
        Some("active")
    );
    assert!(detail.body.contains("Pro plan") && detail.body.contains("15.00 USD"));
    assert!(detail.body.contains(invoice["id"].as_str().unwrap()));
    assert!(detail
        .body
        .contains(&format!("/dashboard/test/payments/{renewal_payment}")));
    assert!(detail.body.contains("visa •••• 4242"));
    assert!(detail
        .body
        .contains("retries after 1, 3 and 5 days, then cancel"));
    assert!(detail.body.contains("/pause\"") && detail.body.contains("/cancel\""));
    assert!(
        !detail.body.contains("/resume\""),
        "only a paused subscription resumes"
    );
    assert!(detail.body.contains("class=\"confirm\" data-confirm="));
    assert_eq!(
        b.get("/dashboard/test/customers/cus_nobody").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get("/dashboard/test/subscriptions/sub_nobody")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn pause_resume_and_cancel_from_the_page(app: &TestApp) {
    let b = set_up(app, "billing@shop.example", "owner").await;
    let cus = customer(app, json!({"email": "p@example.com"})).await;
    let (pm, _) = saved_card(app, &cus).await;
    let sid = id(&subscribe(app, &cus, &pm).await);
    let path = format!("/dashboard/test/subscriptions/{sid}");
    let csrf = b.get(&path).await.csrf();

    // Without the session's token nothing changes.
    assert_eq!(
        b.post(&format!("{path}/pause"), &[]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(status_of(app, &sid).await, "active");

    let done = b.post(&format!("{path}/pause"), &[("csrf", &csrf)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location, format!("{path}?done=pause"));
    assert_eq!(status_of(app, &sid).await, "paused");
    let page = b.get(&done.location).await;
    assert!(page.body.contains("/resume\"") && !page.body.contains("/pause\""));
    // Pausing twice is refused with the core's reason.
    let again = b.post(&format!("{path}/pause"), &[("csrf", &csrf)]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body.contains("cannot be paused"), "{}", again.body);

    let done = b.post(&format!("{path}/resume"), &[("csrf", &csrf)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(status_of(app, &sid).await, "active");

    let done = b.post(&format!("{path}/cancel"), &[("csrf", &csrf)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(status_of(app, &sid).await, "canceled");
    let page = b.get(&done.location).await;
    assert!(page.body.contains("No change applies"), "{}", page.body);
    assert_eq!(
        b.post(&format!("{path}/cancel"), &[("csrf", &csrf)])
            .await
            .status,
        StatusCode::CONFLICT
    );

    // Each change is audited with the user who made it, in order.
    let audit = app
        .svc
        .store
        .audit_records(&app.scope(), 50, None)
        .await
        .unwrap();
    let mine: Vec<_> = audit
        .iter()
        .filter(|a| a.target.as_deref() == Some(sid.as_str()))
        .collect();
    let mut actions: Vec<&str> = mine.iter().map(|a| a.action.as_str()).collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "subscription.cancel",
            "subscription.pause",
            "subscription.resume"
        ]
    );
    for a in &mine {
        assert_eq!(
            (a.actor_type.as_str(), a.actor_label.as_deref()),
            ("user", Some("billing@shop.example"))
        );
    }
    let pause = mine
        .iter()
        .find(|a| a.action == "subscription.pause")
        .unwrap();
    assert!(
        pause.changes.contains("\"to\":\"paused\""),
        "{}",
        pause.changes
    );
}

async fn a_test_clock_advanced_from_its_page_renews(app: &TestApp) {
    let b = set_up(app, "dev@shop.example", "developer").await;
    let clocks = b.get("/dashboard/test/clocks").await;
    assert_eq!(clocks.status, StatusCode::OK, "{}", clocks.body);
    let csrf = clocks.csrf();
    // A bad date is refused on the page, nothing created.
    let bad = b
        .post(
            "/dashboard/test/clocks",
            &[
                ("csrf", &csrf),
                ("name", "x"),
                ("date", "15/01/2027"),
                ("time", "09:00"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("YYYY-MM-DD"));
    let far = b
        .post(
            "/dashboard/test/clocks",
            &[
                ("csrf", &csrf),
                ("name", "x"),
                ("date", "2099-01-01"),
                ("time", ""),
            ],
        )
        .await;
    assert_eq!(far.status, StatusCode::BAD_REQUEST, "{}", far.body);
    assert!(far.body.contains("ten years"));
    let made = b
        .post(
            "/dashboard/test/clocks",
            &[
                ("csrf", &csrf),
                ("name", "renewals"),
                ("date", "2027-01-15"),
                ("time", "09:00"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let clock = made
        .location
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let (s, c) = app
        .get(&format!("/v1/test_helpers/test_clocks/{clock}"))
        .await;
    assert_eq!(
        (s, &c["frozen_time"], &c["name"]),
        (StatusCode::OK, &json!(T0), &json!("renewals"))
    );

    let cus = customer(
        app,
        json!({"email": "clock@example.com", "test_clock": clock}),
    )
    .await;
    let (pm, _) = saved_card(app, &cus).await;
    let sid = id(&subscribe(app, &cus, &pm).await);
    assert_eq!(invoices(app, &sid).await.len(), 1);

    let page = b.get(&format!("/dashboard/test/clocks/{clock}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(
        text_of_id(&page.body, "clock-time-now").as_deref(),
        Some("2027-01-15 09:00:00 UTC")
    );
    assert!(
        page.body.contains(&format!("/subscriptions/{sid}"))
            && page.body.contains(&format!("/customers/{cus}"))
    );
    let sub_page = b.get(&format!("/dashboard/test/subscriptions/{sid}")).await;
    assert!(
        sub_page
            .body
            .contains(&format!("href=\"/dashboard/test/clocks/{clock}\"")),
        "the clock is linked"
    );

    // A month on, the subscription has renewed: a second invoice, paid.
    let path = format!("/dashboard/test/clocks/{clock}/advance");
    let done = b.post(&path, &[("csrf", &csrf), ("by", "month")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let inv = invoices(app, &sid).await;
    assert_eq!(inv.len(), 2, "{inv:?}");
    assert_eq!(
        (&inv[0]["status"], &inv[0]["billing_reason"]),
        (&json!("paid"), &json!("subscription_cycle"))
    );
    let page = b.get(&done.location).await;
    assert_eq!(
        text_of_id(&page.body, "clock-time-now").as_deref(),
        Some("2027-02-15 09:00:00 UTC")
    );
    let sub_page = b.get(&format!("/dashboard/test/subscriptions/{sid}")).await;
    assert_eq!(sub_page.body.matches("<tr class=\"invoice\">").count(), 2);
    assert!(sub_page
        .body
        .contains(inv[0]["payment_intent"].as_str().unwrap()));

    // By a day, and to a chosen time; not backwards.
    assert_eq!(
        b.post(&path, &[("csrf", &csrf), ("by", "day")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let to = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("by", "date"),
                ("date", "2027-02-20"),
                ("time", "12:30"),
            ],
        )
        .await;
    assert_eq!(to.status, StatusCode::SEE_OTHER, "{}", to.body);
    let (_, c) = app
        .get(&format!("/v1/test_helpers/test_clocks/{clock}"))
        .await;
    assert_eq!(c["frozen_time"], json!(T0 + 36 * DAY + 3 * 3600 + 1800));
    let back = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("by", "date"),
                ("date", "2027-01-01"),
                ("time", ""),
            ],
        )
        .await;
    assert_eq!(back.status, StatusCode::BAD_REQUEST);
    assert!(back.body.contains("later than the clock"), "{}", back.body);
    assert_eq!(
        b.post(&path, &[("csrf", &csrf), ("by", "year")])
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    // Deleting waits until its subscriptions have ended.
    let del = format!("/dashboard/test/clocks/{clock}/delete");
    assert_eq!(
        b.post(&del, &[("csrf", &csrf)]).await.status,
        StatusCode::CONFLICT
    );
    let cancel = app
        .http
        .delete(app.url(&format!("/v1/subscriptions/{sid}")))
        .bearer_auth(&app.sk)
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status().as_u16(), 200);
    let gone = b.post(&del, &[("csrf", &csrf)]).await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER, "{}", gone.body);
    assert_eq!(
        app.get(&format!("/v1/test_helpers/test_clocks/{clock}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get(&format!("/dashboard/test/clocks/{clock}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn a_viewer_cannot_change_and_other_merchants_are_not_found(app: &TestApp) {
    let viewer = set_up(app, "viewer@shop.example", "viewer").await;
    let cus = customer(app, json!({"email": "v@example.com"})).await;
    let (pm, _) = saved_card(app, &cus).await;
    let sid = id(&subscribe(app, &cus, &pm).await);
    let path = format!("/dashboard/test/subscriptions/{sid}");
    let page = viewer.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("/pause\""), "no buttons for a viewer");
    for action in ["pause", "cancel"] {
        let forged = viewer
            .post(&format!("{path}/{action}"), &[("csrf", &page.csrf())])
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(status_of(app, &sid).await, "active");
    // Clocks: a viewer reads them but cannot make one.
    let clocks = viewer.get("/dashboard/test/clocks").await;
    assert_eq!(clocks.status, StatusCode::OK);
    assert!(
        !clocks.body.contains("clock-date"),
        "no create form for a viewer"
    );
    let forged = viewer
        .post(
            "/dashboard/test/clocks",
            &[("csrf", &page.csrf()), ("date", "2027-01-15")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // Another merchant's customer and subscription do not exist here, even for an owner.
    let owner = set_up(app, "owner@shop.example", "owner").await;
    let other = app.other_merchant_key().await;
    let (s, c) = app
        .post_as(
            &other,
            "/v1/customers",
            json!({"email": "theirs@example.com"}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let their_cus = id(&c);
    let (s, their_sub) = app
        .post_as(
            &other,
            "/v1/subscriptions",
            json!({"customer": their_cus, "trial_period_days": 7, "items": [{"price_data": {
                "currency": "usd", "unit_amount": 500, "recurring": {"interval": "month"},
                "product_data": {"name": "Theirs"}}}]}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{their_sub}");
    let their_sub = id(&their_sub);
    assert_eq!(
        owner
            .get(&format!("/dashboard/test/customers/{their_cus}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        owner
            .get(&format!("/dashboard/test/subscriptions/{their_sub}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let csrf = owner.get("/dashboard/test/subscriptions").await.csrf();
    let pause = owner
        .post(
            &format!("/dashboard/test/subscriptions/{their_sub}/pause"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(pause.status, StatusCode::NOT_FOUND);
    let (_, theirs) = app
        .get_as(&other, &format!("/v1/subscriptions/{their_sub}"))
        .await;
    assert_eq!(theirs["status"], "trialing");
    let search = owner
        .get(&format!("/dashboard/test/customers?q={their_cus}"))
        .await;
    assert!(!search.body.contains(&format!("/customers/{their_cus}")));
    let search = owner
        .get("/dashboard/test/customers?q=theirs%40example.com")
        .await;
    assert!(!search.body.contains(&their_cus));
    assert!(!owner
        .get("/dashboard/test/subscriptions")
        .await
        .body
        .contains(&their_sub));
}

on_both!(
    the_pages_show_a_customer_their_card_and_subscription,
    pause_resume_and_cancel_from_the_page,
    a_test_clock_advanced_from_its_page_renews,
    a_viewer_cannot_change_and_other_merchants_are_not_found,
);

/// In live mode (a server that allows it, a user with an authenticator) the customer and
/// subscription lists open but test clocks do not exist: 404, for a read and for a form.
async fn live_mode_has_no_test_clocks(db: Db) {
    let Some(app) = TestApp::spawn_production(db, |cfg| {
        cfg.base_url = Some("https://pay.example".into());
    })
    .await
    else {
        return;
    };
    let b = set_up(&app, "live@shop.example", "owner").await;
    enrol_totp(&b).await;
    assert_eq!(
        b.get("/dashboard/live/customers").await.status,
        StatusCode::OK
    );
    let subs = b.get("/dashboard/live/subscriptions").await;
    assert_eq!(subs.status, StatusCode::OK, "{}", subs.body);
    assert!(
        !subs.body.contains("/clocks\""),
        "no link to clocks in live mode"
    );
    assert_eq!(
        b.get("/dashboard/live/clocks").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get("/dashboard/live/clocks/clock_123").await.status,
        StatusCode::NOT_FOUND
    );
    let made = b
        .post(
            "/dashboard/live/clocks",
            &[("csrf", &subs.csrf()), ("date", "2027-01-15")],
        )
        .await;
    assert_eq!(made.status, StatusCode::NOT_FOUND);
    // The same pages in test mode are there.
    assert_eq!(b.get("/dashboard/test/clocks").await.status, StatusCode::OK);
    app.stop().await;
}

for_both_databases!(live_mode_has_no_test_clocks);
