//! The native subscription engine over HTTP, on SQLite and PostgreSQL, driven by test clocks:
//! a card saved on the hosted checkout pays a subscription after its trial and through its
//! renewals; a failing card goes `past_due` through its retries to the final action; every
//! event is delivered and its signature verifies. Also: billing at once without a trial,
//! `incomplete` expiring, cancel now and at the period's end, pause and resume, the final
//! actions, field errors, and merchants kept apart.

mod common;

use axum::http::StatusCode;
use common::{hidden, Receiver, TestApp};
use kassa_core::webhook_signature;
use serde_json::{json, Value};

const DAY: i64 = 86_400;

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

/// A clock frozen at a fixed time (09:00 UTC on a day in January 2027), so month lengths are known.
const T0: i64 = 1_800_000_000 - 1_800_000_000 % DAY + 9 * 3600;

async fn clock(app: &TestApp) -> String {
    let (s, c) = app
        .post(
            "/v1/test_helpers/test_clocks",
            json!({"frozen_time": T0, "name": "billing test"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(
        (&c["object"], &c["status"]),
        (&json!("test_helpers.test_clock"), &json!("ready"))
    );
    id(&c)
}

async fn advance(app: &TestApp, clock: &str, to: i64) {
    let (s, c) = app
        .post(
            &format!("/v1/test_helpers/test_clocks/{clock}/advance"),
            json!({"frozen_time": to}),
        )
        .await;
    assert_eq!((s, &c["frozen_time"]), (StatusCode::OK, &json!(to)), "{c}");
}

async fn customer_on(app: &TestApp, clock: &str) -> String {
    let (s, c) = app
        .post(
            "/v1/customers",
            json!({"email": "sub@example.com", "test_clock": clock}),
        )
        .await;
    assert_eq!(
        (s, &c["test_clock"]),
        (StatusCode::OK, &json!(clock)),
        "{c}"
    );
    id(&c)
}

/// Saves a card for the customer through the hosted checkout (a first purchase that asks to
/// keep the card); returns the saved method's id.
async fn card_saved_on_page(app: &TestApp, cus: &str, number: &str) -> String {
    let pi = app
        .create_intent(
            500,
            json!({"customer": cus, "setup_future_usage": "off_session"}),
        )
        .await;
    let checkout = pi["checkout_url"].as_str().unwrap();
    let b = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = b.get(checkout).send().await.unwrap().text().await.unwrap();
    let r = b
        .post(format!("{checkout}/pay"))
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("nonce", hidden(&page, "nonce").as_str()),
            ("number", number),
            ("exp", "12/34"),
            ("cvc", "123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let (_, paid) = app.get(&format!("/v1/payment_intents/{}", id(&pi))).await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    paid["payment_method"]["id"].as_str().unwrap().to_string()
}

/// A card saved through the API (`/confirm` with card data and `setup_future_usage`).
async fn card_saved_by_api(app: &TestApp, cus: &str, number: &str) -> String {
    let pi = app.create_intent(100, json!({"customer": cus})).await;
    let (s, paid) = app
        .post(
            &format!("/v1/payment_intents/{}/confirm", id(&pi)),
            json!({"setup_future_usage": "off_session", "payment_method_data": {"type": "card",
                   "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{paid}");
    paid["payment_method"]["id"].as_str().unwrap().to_string()
}

fn monthly(amount: i64, quantity: i64) -> Value {
    json!([{"price_data": {"currency": "usd", "unit_amount": amount,
             "recurring": {"interval": "month"}, "product_data": {"name": "Pro plan"}},
            "quantity": quantity}])
}

async fn subscribe(app: &TestApp, body: Value) -> Value {
    let (s, sub) = app.post("/v1/subscriptions", body).await;
    assert_eq!(s, StatusCode::OK, "{sub}");
    sub
}

async fn sub_now(app: &TestApp, sub: &str) -> Value {
    let (s, v) = app.get(&format!("/v1/subscriptions/{sub}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

/// The subscription's invoices, oldest first.
async fn invoices(app: &TestApp, sub: &str) -> Vec<Value> {
    let (s, page) = app
        .get(&format!("/v1/invoices?subscription={sub}&limit=100"))
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let mut v = page["data"].as_array().unwrap().clone();
    v.reverse();
    v
}

/// Month `n` after the date `t` (Unix seconds), as the calendar counts it (same day, 09:00).
fn months_after(t: i64, n: i64) -> i64 {
    let ms =
        kassa_core::calendar::add_interval(t * 1000, kassa_core::calendar::IntervalUnit::Month, n);
    ms / 1000
}

/// The billing flow: card saved on the hosted page, a 14-day trial on a test clock,
/// three renewals, then a card whose renewals decline going past_due through its retries to
/// the final action; every event delivered and verified.
async fn the_full_billing_flow_on_a_test_clock(app: &TestApp) {
    let rx = Receiver::start().await;
    let (s, ep) = app
        .post(
            "/v1/webhook_endpoints",
            json!({"url": rx.url, "enabled_events": ["*"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{ep}");
    let secret = ep["secret"].as_str().unwrap().to_string();

    let clock = clock(app).await;
    let cus = customer_on(app, &clock).await;
    let pm = card_saved_on_page(app, &cus, "4242424242424242").await;
    let sub = subscribe(
        app,
        json!({"customer": cus, "default_payment_method": pm, "items": monthly(1500, 2),
               "trial_period_days": 14, "metadata": {"plan": "pro"}}),
    )
    .await;
    let sid = id(&sub);
    assert!(sid.starts_with("sub_"), "{sid}");
    let trial_end = T0 + 14 * DAY;
    assert_eq!(
        (
            &sub["status"],
            &sub["trial_start"],
            &sub["trial_end"],
            &sub["test_clock"]
        ),
        (
            &json!("trialing"),
            &json!(T0),
            &json!(trial_end),
            &json!(clock)
        )
    );
    assert_eq!(sub["items"]["data"][0]["price"]["unit_amount"], 1500);
    assert_eq!(
        sub["latest_invoice"],
        Value::Null,
        "nothing billed during the trial"
    );

    // Three days before the trial ends, the merchant is told.
    advance(app, &clock, T0 + 12 * DAY).await;
    assert_eq!(sub_now(app, &sid).await["status"], "trialing");
    assert!(invoices(app, &sid).await.is_empty());

    // The trial ends: the first period is billed and paid with the saved card.
    advance(app, &clock, trial_end + 3600).await;
    let now = sub_now(app, &sid).await;
    assert_eq!(
        (
            &now["status"],
            &now["current_period_start"],
            &now["current_period_end"]
        ),
        (
            &json!("active"),
            &json!(trial_end),
            &json!(months_after(trial_end, 1))
        )
    );
    // Three renewals, each on the same day of the month.
    advance(app, &clock, months_after(trial_end, 3) + 3600).await;
    let invs = invoices(app, &sid).await;
    assert_eq!(invs.len(), 4, "{invs:?}");
    for (n, inv) in invs.iter().enumerate() {
        let n = n as i64;
        assert_eq!(
            (
                &inv["status"],
                &inv["amount_due"],
                &inv["amount_paid"],
                &inv["attempt_count"]
            ),
            (&json!("paid"), &json!(3000), &json!(3000), &json!(1)),
            "{inv}"
        );
        assert_eq!(inv["period_start"], months_after(trial_end, n));
        assert_eq!(inv["period_end"], months_after(trial_end, n + 1));
        assert_eq!(
            inv["billing_reason"], "subscription_cycle",
            "after a trial every period is a cycle"
        );
        assert_eq!(inv["lines"]["data"][0]["description"], "2 × Pro plan");
        let (_, pi) = app
            .get(&format!(
                "/v1/payment_intents/{}",
                inv["payment_intent"].as_str().unwrap()
            ))
            .await;
        assert_eq!(
            (
                &pi["status"],
                &pi["amount_received"],
                &pi["customer"],
                &pi["payment_method"]["id"]
            ),
            (&json!("succeeded"), &json!(3000), &json!(cus), &json!(pm))
        );
        assert_eq!(pi["metadata"]["invoice"], inv["id"]);
    }

    // The customer's card now declines every renewal (the 0341 test card).
    let bad = card_saved_by_api(app, &cus, "4000000000000341").await;
    let (s, upd) = app
        .post(
            &format!("/v1/subscriptions/{sid}"),
            json!({"default_payment_method": bad}),
        )
        .await;
    assert_eq!(
        (s, &upd["default_payment_method"]),
        (StatusCode::OK, &json!(bad)),
        "{upd}"
    );
    let renewal = months_after(trial_end, 4);
    advance(app, &clock, renewal + 3600).await;
    let now = sub_now(app, &sid).await;
    assert_eq!(
        (&now["status"], &now["next_payment_attempt"]),
        (&json!("past_due"), &json!(renewal + DAY))
    );
    // Retries after 1, 3 and 5 more days, then the default final action: cancel.
    advance(app, &clock, renewal + DAY + 60).await;
    assert_eq!(
        sub_now(app, &sid).await["next_payment_attempt"],
        renewal + 4 * DAY
    );
    advance(app, &clock, renewal + 9 * DAY + 60).await;
    let now = sub_now(app, &sid).await;
    assert_eq!(
        (
            &now["status"],
            &now["ended_at"],
            &now["next_payment_attempt"]
        ),
        (&json!("canceled"), &json!(renewal + 9 * DAY), &Value::Null)
    );
    let invs = invoices(app, &sid).await;
    let last = invs.last().unwrap();
    assert_eq!(
        (
            &last["status"],
            &last["attempt_count"],
            &last["amount_paid"]
        ),
        (&json!("void"), &json!(4), &json!(0)),
        "{last}"
    );
    // Nothing more happens to an ended subscription.
    advance(app, &clock, months_after(trial_end, 6)).await;
    assert_eq!(invoices(app, &sid).await.len(), 5);

    // Every event about the subscription and its invoices, in order, each signed.
    let want_sub = [
        "customer.subscription.created",
        "customer.subscription.trial_will_end",
        "customer.subscription.updated",
        "customer.subscription.updated",
        "customer.subscription.updated",
        "customer.subscription.deleted",
    ];
    let want_invoice_events = 4 * 2 + 1 + 4;
    let got = rx
        .wait_for("every billing event", |g| {
            let subs = g
                .iter()
                .filter(|r| r.json()["data"]["object"]["id"] == sid.as_str());
            let invs = g
                .iter()
                .filter(|r| r.json()["data"]["object"]["subscription"] == sid.as_str());
            subs.count() >= want_sub.len() && invs.count() >= want_invoice_events
        })
        .await;
    let mut sub_events: Vec<(i64, String, String)> = Vec::new();
    let mut invoice_types = Vec::new();
    for r in &got {
        let ts: i64 = r.header("webhook-timestamp").parse().unwrap();
        assert!(
            webhook_signature::verify(
                &secret,
                &r.header("webhook-id"),
                ts,
                r.body.as_bytes(),
                &r.header("webhook-signature"),
            ),
            "every delivery verifies"
        );
        let ev = r.json();
        if ev["data"]["object"]["id"] == sid.as_str() {
            sub_events.push((
                0,
                ev["type"].as_str().unwrap().to_string(),
                ev["data"]["object"]["status"].as_str().unwrap().to_string(),
            ));
        }
        if ev["data"]["object"]["subscription"] == sid.as_str() {
            invoice_types.push(ev["type"].as_str().unwrap().to_string());
        }
    }
    let types: Vec<&str> = sub_events.iter().map(|(_, t, _)| t.as_str()).collect();
    let mut sorted_types = types.clone();
    sorted_types.sort();
    let mut want_sorted = want_sub.to_vec();
    want_sorted.sort();
    assert_eq!(sorted_types, want_sorted, "{sub_events:?}");
    let statuses: Vec<&str> = sub_events
        .iter()
        .filter(|(_, t, _)| t == "customer.subscription.updated")
        .map(|(_, _, s)| s.as_str())
        .collect();
    for st in ["active", "past_due"] {
        assert!(statuses.contains(&st), "{statuses:?}");
    }
    let count = |t: &str| invoice_types.iter().filter(|x| *x == t).count();
    assert_eq!(
        (
            count("invoice.created"),
            count("invoice.paid"),
            count("invoice.payment_failed")
        ),
        (5, 4, 4),
        "{invoice_types:?}"
    );
}

/// Without a trial the first period is billed when the subscription is created; without a
/// card the first payment fails, the subscription is `incomplete` and expires after 23 hours.
async fn no_trial_bills_at_once_and_incomplete_expires(app: &TestApp) {
    let clock = clock(app).await;
    let cus = customer_on(app, &clock).await;
    let pm = card_saved_by_api(app, &cus, "5555555555554444").await;
    let sub = subscribe(
        app,
        json!({"customer": cus, "default_payment_method": pm, "items": [
            {"price_data": {"currency": "eur", "unit_amount": 990,
             "recurring": {"interval": "week", "interval_count": 2},
             "product_data": {"name": "Box"}}}]}),
    )
    .await;
    assert_eq!(
        (
            &sub["status"],
            &sub["current_period_start"],
            &sub["current_period_end"]
        ),
        (&json!("active"), &json!(T0), &json!(T0 + 14 * DAY))
    );
    let invs = invoices(app, &id(&sub)).await;
    assert_eq!(
        (
            invs.len(),
            &invs[0]["billing_reason"],
            &invs[0]["status"],
            &invs[0]["currency"]
        ),
        (
            1,
            &json!("subscription_create"),
            &json!("paid"),
            &json!("eur")
        )
    );
    assert_eq!(sub["latest_invoice"], invs[0]["id"]);
    advance(app, &clock, T0 + 14 * DAY).await;
    assert_eq!(
        invoices(app, &id(&sub)).await.len(),
        2,
        "renewed every two weeks"
    );

    let none = subscribe(app, json!({"customer": cus, "items": monthly(700, 1)})).await;
    assert_eq!(none["status"], "incomplete");
    let invs = invoices(app, &id(&none)).await;
    assert_eq!(
        (&invs[0]["status"], &invs[0]["attempt_count"]),
        (&json!("open"), &json!(1))
    );
    advance(app, &clock, T0 + 14 * DAY + 23 * 3600 + 60).await;
    let gone = sub_now(app, &id(&none)).await;
    assert_eq!(gone["status"], "incomplete_expired");
    assert_eq!(invoices(app, &id(&none)).await[0]["status"], "void");
}

/// Cancel at the period's end (and take it back), cancel now, pause and resume.
async fn cancel_pause_and_resume(app: &TestApp) {
    let clock = clock(app).await;
    let cus = customer_on(app, &clock).await;
    let pm = card_saved_by_api(app, &cus, "4242424242424242").await;
    let body = json!({"customer": cus, "default_payment_method": pm, "items": monthly(1000, 1)});
    let a = subscribe(app, body.clone()).await;
    let aid = id(&a);
    let (s, u) = app
        .post(
            &format!("/v1/subscriptions/{aid}"),
            json!({"cancel_at_period_end": true}),
        )
        .await;
    assert_eq!(
        (s, &u["cancel_at_period_end"], &u["status"]),
        (StatusCode::OK, &json!(true), &json!("active"))
    );
    let (_, u) = app
        .post(
            &format!("/v1/subscriptions/{aid}"),
            json!({"cancel_at_period_end": false}),
        )
        .await;
    assert_eq!(
        (&u["cancel_at_period_end"], &u["canceled_at"]),
        (&json!(false), &Value::Null)
    );
    app.post(
        &format!("/v1/subscriptions/{aid}"),
        json!({"cancel_at_period_end": true}),
    )
    .await;
    advance(app, &clock, months_after(T0, 1) + 60).await;
    let a = sub_now(app, &aid).await;
    assert_eq!(
        (&a["status"], &a["ended_at"]),
        (&json!("canceled"), &json!(months_after(T0, 1)))
    );
    assert_eq!(invoices(app, &aid).await.len(), 1, "not renewed");

    // Cancel now.
    let b = subscribe(app, body.clone()).await;
    let r = app
        .http
        .delete(app.url(&format!("/v1/subscriptions/{}", id(&b))))
        .bearer_auth(&app.sk)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["status"], "canceled");
    let (s, e) = app
        .post(&format!("/v1/subscriptions/{}/pause", id(&b)), json!({}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");

    // Pause: nothing is billed while paused; resuming after the period bills a new one now.
    let c = subscribe(app, body).await;
    let cid = id(&c);
    let (s, p) = app
        .post(&format!("/v1/subscriptions/{cid}/pause"), json!({}))
        .await;
    assert_eq!((s, &p["status"]), (StatusCode::OK, &json!("paused")));
    let later = months_after(T0, 3);
    advance(app, &clock, later).await;
    assert_eq!(invoices(app, &cid).await.len(), 1, "paused: not billed");
    let (s, r) = app
        .post(&format!("/v1/subscriptions/{cid}/resume"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (
            &r["status"],
            &r["current_period_start"],
            &r["current_period_end"]
        ),
        (
            &json!("active"),
            &json!(later),
            &json!(months_after(later, 1))
        )
    );
    assert_eq!(invoices(app, &cid).await.len(), 2);
    let (s, e) = app
        .post(&format!("/v1/subscriptions/{cid}/resume"), json!({}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "only a paused one resumes: {e}");
}

/// `mark_unpaid` and `leave_past_due` as final actions.
async fn final_actions(app: &TestApp) {
    let clock = clock(app).await;
    let cus = customer_on(app, &clock).await;
    let good = card_saved_by_api(app, &cus, "4242424242424242").await;
    let bad = card_saved_by_api(app, &cus, "4000000000000341").await;
    let mut ids = Vec::new();
    for action in ["mark_unpaid", "leave_past_due"] {
        let s = subscribe(
            app,
            json!({"customer": cus, "default_payment_method": good, "items": monthly(1000, 1),
                   "retry_policy": {"retry_days": [2], "final_action": action}}),
        )
        .await;
        app.post(
            &format!("/v1/subscriptions/{}", id(&s)),
            json!({"default_payment_method": bad}),
        )
        .await;
        ids.push(id(&s));
    }
    let renewal = months_after(T0, 1);
    advance(app, &clock, renewal + 2 * DAY + 60).await;
    let unpaid = sub_now(app, &ids[0]).await;
    assert_eq!(unpaid["status"], "unpaid");
    assert_eq!(invoices(app, &ids[0]).await[1]["status"], "uncollectible");
    let past_due = sub_now(app, &ids[1]).await;
    assert_eq!(
        (&past_due["status"], &past_due["next_payment_attempt"]),
        (&json!("past_due"), &Value::Null)
    );
    assert_eq!(invoices(app, &ids[1]).await[1]["status"], "open");
    // The next period still renews; with a good card again it is active.
    app.post(
        &format!("/v1/subscriptions/{}", ids[1]),
        json!({"default_payment_method": good}),
    )
    .await;
    advance(app, &clock, months_after(T0, 2) + 60).await;
    assert_eq!(sub_now(app, &ids[1]).await["status"], "active");
    assert_eq!(
        sub_now(app, &ids[0]).await["status"],
        "unpaid",
        "unpaid bills nothing more"
    );
    assert_eq!(invoices(app, &ids[0]).await.len(), 2);
}

/// A trial without a card: its first invoice fails at the trial's end and retries on schedule;
/// once the merchant sets a saved card the next retry pays it. A trial cancelled for its end
/// ends then, billing nothing.
async fn a_trial_without_a_card_and_a_trial_that_ends(app: &TestApp) {
    let clock = clock(app).await;
    let cus = customer_on(app, &clock).await;
    let sub = subscribe(
        app,
        json!({"customer": cus, "items": monthly(1200, 1), "trial_period_days": 5}),
    )
    .await;
    let sid = id(&sub);
    let trial_end = T0 + 5 * DAY;
    advance(app, &clock, trial_end + 60).await;
    let now = sub_now(app, &sid).await;
    assert_eq!(
        (&now["status"], &now["next_payment_attempt"]),
        (&json!("past_due"), &json!(trial_end + DAY)),
        "{now}"
    );
    let invs = invoices(app, &sid).await;
    assert_eq!(
        (invs.len(), &invs[0]["status"], &invs[0]["payment_intent"]),
        (1, &json!("open"), &Value::Null),
        "no card, no payment attempt at the processor"
    );
    let pm = card_saved_by_api(app, &cus, "4242424242424242").await;
    let (s, _) = app
        .post(
            &format!("/v1/subscriptions/{sid}"),
            json!({"default_payment_method": pm}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    advance(app, &clock, trial_end + DAY + 60).await;
    let now = sub_now(app, &sid).await;
    assert_eq!(now["status"], "active", "{now}");
    let inv = &invoices(app, &sid).await[0];
    assert_eq!(
        (&inv["status"], &inv["attempt_count"], &inv["amount_paid"]),
        (&json!("paid"), &json!(2), &json!(1200))
    );

    let ending = subscribe(
        app,
        json!({"customer": cus, "default_payment_method": pm, "items": monthly(1200, 1),
               "trial_period_days": 3, "cancel_at_period_end": true}),
    )
    .await;
    let started = ending["trial_start"].as_i64().unwrap();
    assert_eq!(ending["cancel_at_period_end"], true);
    advance(app, &clock, started + 4 * DAY).await;
    let ended = sub_now(app, &id(&ending)).await;
    assert_eq!(
        (&ended["status"], &ended["ended_at"]),
        (&json!("canceled"), &json!(started + 3 * DAY))
    );
    assert!(
        invoices(app, &id(&ending)).await.is_empty(),
        "nothing billed"
    );
}

/// Field errors name their field; nothing is created; other merchants see nothing.
async fn errors_and_isolation(app: &TestApp) {
    let clock = clock(app).await;
    let cus = customer_on(app, &clock).await;
    let other_cus = customer_on(app, &clock).await;
    let pm = card_saved_by_api(app, &cus, "4242424242424242").await;
    let item = |v: Value| json!([{"price_data": v, "quantity": 1}]);
    let ok_price = json!({"currency": "usd", "unit_amount": 100, "recurring": {"interval": "month"}, "product_data": {"name": "A"}});
    for (body, param) in [
        (
            json!({"customer": "cus_nope", "items": item(ok_price.clone())}),
            "customer",
        ),
        (json!({"customer": cus, "items": []}), "items"),
        (
            json!({"customer": other_cus, "default_payment_method": pm, "items": item(ok_price.clone())}),
            "default_payment_method",
        ),
        (
            json!({"customer": cus, "trial_period_days": 731, "items": item(ok_price.clone())}),
            "trial_period_days",
        ),
        (
            json!({"customer": cus, "items": item(json!({"currency": "usd", "unit_amount": 100, "recurring": {"interval": "month", "interval_count": 37}, "product_data": {"name": "A"}}))}),
            "interval_count",
        ),
        (
            json!({"customer": cus, "items": item(json!({"currency": "xyz", "unit_amount": 100, "recurring": {"interval": "month"}, "product_data": {"name": "A"}}))}),
            "items[0][price_data][currency]",
        ),
        (
            json!({"customer": cus, "items": [{"price_data": ok_price.clone()}, {"price_data": {"currency": "eur", "unit_amount": 1, "recurring": {"interval": "month"}, "product_data": {"name": "B"}}}]}),
            "currency",
        ),
        (
            json!({"customer": cus, "items": item(ok_price.clone()), "retry_policy": {"retry_days": [0], "final_action": "cancel"}}),
            "retry_policy",
        ),
    ] {
        let (s, e) = app.post("/v1/subscriptions", body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {e}");
        assert_eq!(e["error"]["param"], param, "{body}: {e}");
    }
    let (s, e) = app
        .post("/v1/subscriptions", json!({"customer": cus, "items": item(json!({"currency": "usd", "unit_amount": 100, "recurring": {"interval": "fortnight"}, "product_data": {"name": "A"}}))}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "an unknown interval: {e}");
    let (_, page) = app.get(&format!("/v1/subscriptions?customer={cus}")).await;
    assert_eq!(page["data"], json!([]), "nothing was created");
    let (s, e) = app
        .post("/v1/test_helpers/test_clocks", json!({"frozen_time": 1}))
        .await;
    assert_eq!(
        (s, &e["error"]["param"]),
        (StatusCode::BAD_REQUEST, &json!("frozen_time"))
    );
    let (s, _) = app
        .post(
            &format!("/v1/test_helpers/test_clocks/{clock}/advance"),
            json!({"frozen_time": T0 - 1}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "clocks only go forward");
    let (s, e) = app
        .post(
            &format!("/v1/customers/{cus}"),
            json!({"test_clock": clock}),
        )
        .await;
    assert_eq!(
        (s, &e["error"]["param"]),
        (StatusCode::BAD_REQUEST, &json!("test_clock"))
    );

    let sub = subscribe(
        app,
        json!({"customer": cus, "default_payment_method": pm, "items": item(ok_price)}),
    )
    .await;
    let inv = sub["latest_invoice"].as_str().unwrap().to_string();
    let other = app.other_merchant_key().await;
    for path in [
        format!("/v1/subscriptions/{}", id(&sub)),
        format!("/v1/invoices/{inv}"),
        format!("/v1/test_helpers/test_clocks/{clock}"),
    ] {
        let (s, _) = app.get_as(&other, &path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        let (s, _) = app.get_as(&app.pk, &path).await;
        assert!(
            s == StatusCode::FORBIDDEN || s == StatusCode::UNAUTHORIZED,
            "{path}: {s}"
        );
    }
    let (s, _) = app
        .post_as(
            &other,
            &format!("/v1/test_helpers/test_clocks/{clock}/advance"),
            json!({"frozen_time": T0 + DAY}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, e) = app
        .post_as(&other, "/v1/customers", json!({"test_clock": clock}), None)
        .await;
    assert_eq!(
        (s, &e["error"]["param"]),
        (StatusCode::BAD_REQUEST, &json!("test_clock")),
        "{e}"
    );
    let (_, mine) = app.get("/v1/subscriptions").await;
    assert!(mine["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["id"] == sub["id"]));
    let (_, theirs) = app.get_as(&other, "/v1/subscriptions").await;
    assert_eq!(theirs["data"], json!([]));
    // A clock with a running subscription cannot be deleted.
    let r = app
        .http
        .delete(app.url(&format!("/v1/test_helpers/test_clocks/{clock}")))
        .bearer_auth(&app.sk)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
}

/// A held authorization of a customer on a test clock expires in the clock's time: its 7-day
/// capture window counts from the clock, the wall-clock sweep leaves it alone (the clock here is
/// years in the past), and advancing the clock past the window releases it as `automatic`, with
/// its event.
async fn a_held_authorization_expires_on_its_customers_clock(app: &TestApp) {
    let past = 1_600_000_000 - 1_600_000_000 % DAY + 9 * 3600;
    let (s, c) = app
        .post("/v1/test_helpers/test_clocks", json!({"frozen_time": past}))
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let clock = id(&c);
    let cus = customer_on(app, &clock).await;
    let pi = app
        .create_intent(1000, json!({"customer": cus, "capture_method": "manual"}))
        .await;
    let (s, held) = app
        .post(
            &format!("/v1/payment_intents/{}/confirm", id(&pi)),
            json!({"payment_method": "pm_card_visa"}),
        )
        .await;
    assert_eq!(
        (s, &held["status"]),
        (StatusCode::OK, &json!("requires_capture"))
    );
    let stored = app
        .svc
        .payments()
        .intent(&app.scope(), &id(&pi))
        .await
        .unwrap();
    assert_eq!(stored.capture_before, Some((past + 7 * DAY) * 1000));
    assert_eq!(
        app.svc.payments().expire_authorizations(50).await.unwrap(),
        0,
        "the wall clock does not expire a clock's payment"
    );
    advance(app, &clock, past + 7 * DAY - 60).await;
    let (_, still) = app.get(&format!("/v1/payment_intents/{}", id(&pi))).await;
    assert_eq!(still["status"], "requires_capture");
    advance(app, &clock, past + 7 * DAY).await;
    let (_, released) = app.get(&format!("/v1/payment_intents/{}", id(&pi))).await;
    assert_eq!(
        (&released["status"], &released["cancellation_reason"]),
        (&json!("canceled"), &json!("automatic")),
        "{released}"
    );
    let (_, events) = app.get("/v1/events?limit=100").await;
    assert!(
        events["data"].as_array().unwrap().iter().any(
            |e| e["type"] == "payment_intent.canceled" && e["data"]["object"]["id"] == pi["id"]
        ),
        "{events}"
    );
    // A capture now is refused: the authorization was released.
    let (s, _) = app
        .post(
            &format!("/v1/payment_intents/{}/capture", id(&pi)),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

on_both!(
    a_held_authorization_expires_on_its_customers_clock,
    the_full_billing_flow_on_a_test_clock,
    no_trial_bills_at_once_and_incomplete_expires,
    cancel_pause_and_resume,
    final_actions,
    a_trial_without_a_card_and_a_trial_that_ends,
    errors_and_isolation,
);
