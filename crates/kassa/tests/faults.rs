//! A processor that does not answer, black-box on SQLite and PostgreSQL, with the sandbox's
//! fault cards: a lost answer leaves the payment `processing` (never a decline the customer
//! would pay again after) until the recovery asks the processor; a failing processor declines
//! with `processing_error`; a slow one still pays; a refund whose answer is lost stays pending
//! with its amount reserved until the janitor's sweep asks again under the same refund id.

mod common;

use axum::http::StatusCode;
use common::{hidden, TestApp};
use kassa_core::intent::AttemptStatus;
use serde_json::{json, Value};

/// Approved, but the answer is lost (and the first answer to each of its refunds too).
const TIMEOUT_CARD: &str = "4000000000000507";
/// The processor fails; nothing is authorized.
const UNAVAILABLE_CARD: &str = "4000000000000515";
/// Answers after 2 s.
const SLOW_CARD: &str = "4000000000000523";

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

fn card(number: &str) -> Value {
    json!({"payment_method_data": {"type": "card", "card": {
        "number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}})
}

async fn confirm(app: &TestApp, pi: &str, body: Value, idem: Option<&str>) -> (StatusCode, Value) {
    app.post_as(
        &app.sk,
        &format!("/v1/payment_intents/{pi}/confirm"),
        body,
        idem,
    )
    .await
}

/// The events of `object` of type `ty` (the newest hundred events are enough here).
async fn events_of(app: &TestApp, ty: &str, object: &str) -> usize {
    let (s, events) = app.get("/v1/events?limit=100").await;
    assert_eq!(s, StatusCode::OK, "{events}");
    events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == ty && e["data"]["object"]["id"] == object)
        .count()
}

/// Makes the attempt of `pi` whose answer was lost look `ms` older, as if the janitor came by
/// that much later.
async fn age_open_attempt(app: &TestApp, pi: &str, ms: i64) {
    let mut attempt = app
        .svc
        .store
        .stale_processing_attempts(i64::MAX, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.payment_intent_id == pi)
        .expect("the attempt is still processing");
    attempt.updated_at -= ms;
    let mut tx = app.svc.store.begin().await.unwrap();
    assert!(tx
        .update_attempt(&attempt, AttemptStatus::Processing)
        .await
        .unwrap());
    tx.commit().await.unwrap();
}

/// Runs the recovery for every attempt written before now. "Older than 0 ms" is strict at
/// millisecond resolution, so an attempt written in this very millisecond (a fast machine
/// answers and asks again within one) would not be due yet: wait for the clock to move on.
async fn recover_now(app: &TestApp) -> usize {
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    app.svc.payments().recover_interrupted(0).await.unwrap()
}

/// An intent paid with the timeout card, its lost answer settled by the recovery.
async fn paid_with_timeout_card(app: &TestApp, amount: i64) -> String {
    let pi = app.create_intent(amount, json!({})).await;
    let (s, answer) = confirm(app, &id(&pi), card(TIMEOUT_CARD), None).await;
    assert_eq!(s, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "processing");
    assert_eq!(recover_now(app).await, 1);
    let (_, now) = app.get(&format!("/v1/payment_intents/{}", id(&pi))).await;
    assert_eq!(now["status"], "succeeded", "{now}");
    id(&pi)
}

async fn a_lost_answer_leaves_the_payment_processing_until_the_recovery_settles_it(app: &TestApp) {
    let pi = app.create_intent(1000, json!({})).await;
    let pi_id = id(&pi);
    let (s, answer) = confirm(app, &pi_id, card(TIMEOUT_CARD), Some("lost-1")).await;
    assert_eq!(s, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "processing");
    assert_eq!(answer["last_payment_error"], Value::Null);
    assert_eq!(answer["amount_received"], 0);
    // The same request again replays the same answer, without asking the processor.
    let (s, replayed) = confirm(app, &pi_id, card(TIMEOUT_CARD), Some("lost-1")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(replayed, answer);
    let (_, now) = app.get(&format!("/v1/payment_intents/{pi_id}")).await;
    assert_eq!(now["status"], "processing");

    // The merchant retries with another card (or a new key): refused, nothing charged again.
    let (s, refused) = confirm(app, &pi_id, json!({"payment_method": "pm_card_visa"}), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["error"]["code"], "unexpected_state");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("being confirmed"), "{message}");
    let (s, _) = confirm(app, &pi_id, card(TIMEOUT_CARD), Some("lost-2")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        events_of(app, "payment_intent.payment_failed", &pi_id).await,
        0
    );
    assert_eq!(events_of(app, "payment_intent.succeeded", &pi_id).await, 0);

    // The janitor's pass right away leaves it: the processor is given time to finish.
    let payments = app.svc.payments();
    let janitor = || payments.recover_interrupted(kassa::INTERRUPTED_AFTER_MS);
    assert_eq!(janitor().await.unwrap(), 0);
    let (_, now) = app.get(&format!("/v1/payment_intents/{pi_id}")).await;
    assert_eq!(now["status"], "processing");
    // Half a minute later it asks the processor (lookup), which finds the approval.
    age_open_attempt(app, &pi_id, 31_000).await;
    assert_eq!(janitor().await.unwrap(), 1);
    assert_eq!(janitor().await.unwrap(), 0, "settled once");
    let (_, paid) = app.get(&format!("/v1/payment_intents/{pi_id}")).await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    assert_eq!(paid["amount_received"], 1000);
    assert_eq!(paid["payment_method"]["last4"], "0507", "{paid}");
    assert_eq!(events_of(app, "payment_intent.succeeded", &pi_id).await, 1);
    assert_eq!(
        events_of(app, "payment_intent.payment_failed", &pi_id).await,
        0
    );
    // A confirmation after the payment succeeded is refused as before.
    let (s, _) = confirm(app, &pi_id, json!({"payment_method": "pm_card_visa"}), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, again) = app.get(&format!("/v1/payment_intents/{pi_id}")).await;
    assert_eq!(again["amount_received"], 1000);
}

async fn a_manual_capture_payment_whose_answer_was_lost_is_settled_as_authorized(app: &TestApp) {
    let pi = app
        .create_intent(1000, json!({"capture_method": "manual"}))
        .await;
    let (s, answer) = confirm(app, &id(&pi), card(TIMEOUT_CARD), None).await;
    assert_eq!(s, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "processing");
    // Capture and cancel are refused while the payment is being confirmed.
    let (s, _) = app
        .post(
            &format!("/v1/payment_intents/{}/capture", id(&pi)),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(recover_now(app).await, 1);
    let (_, now) = app.get(&format!("/v1/payment_intents/{}", id(&pi))).await;
    assert_eq!(now["status"], "requires_capture", "{now}");
    let (s, captured) = app
        .post(
            &format!("/v1/payment_intents/{}/capture", id(&pi)),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{captured}");
    assert_eq!(captured["status"], "succeeded");
}

async fn a_failing_processor_declines_and_another_card_pays(app: &TestApp) {
    let pi = app.create_intent(1000, json!({})).await;
    let pi_id = id(&pi);
    let (s, failed) = confirm(app, &pi_id, card(UNAVAILABLE_CARD), None).await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED, "{failed}");
    assert_eq!(failed["error"]["type"], "api_error");
    assert_eq!(failed["error"]["code"], "processing_error");
    assert_eq!(
        failed["error"]["payment_intent"]["status"],
        "requires_payment_method"
    );
    let (_, now) = app.get(&format!("/v1/payment_intents/{pi_id}")).await;
    assert_eq!(now["status"], "requires_payment_method");
    assert_eq!(now["last_payment_error"]["code"], "processing_error");
    assert_eq!(
        events_of(app, "payment_intent.payment_failed", &pi_id).await,
        1
    );
    // Nothing is left for the recovery: the processor said it did nothing.
    assert_eq!(recover_now(app).await, 0);
    let (s, paid) = confirm(app, &pi_id, card("4242424242424242"), None).await;
    assert_eq!(s, StatusCode::OK, "{paid}");
    assert_eq!(paid["status"], "succeeded");
    assert_eq!(paid["amount_received"], 1000);
}

async fn a_slow_processor_still_pays(app: &TestApp) {
    let pi = app.create_intent(1000, json!({})).await;
    let started = std::time::Instant::now();
    let (s, paid) = confirm(app, &id(&pi), card(SLOW_CARD), None).await;
    assert!(started.elapsed() >= kassa_processor::SLOW_CARD_DELAY);
    assert_eq!(s, StatusCode::OK, "{paid}");
    assert_eq!(paid["status"], "succeeded");
    assert_eq!(
        events_of(app, "payment_intent.succeeded", &id(&pi)).await,
        1
    );
}

async fn a_refund_whose_answer_was_lost_stays_pending_and_reserved_until_the_sweep(app: &TestApp) {
    let pi = paid_with_timeout_card(app, 1000).await;
    let (s, refund) = app
        .post_as(
            &app.sk,
            "/v1/refunds",
            json!({"payment_intent": pi}),
            Some("refund-1"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{refund}");
    assert_eq!(refund["status"], "pending");
    let refund_id = id(&refund);
    let (s, replayed) = app
        .post_as(
            &app.sk,
            "/v1/refunds",
            json!({"payment_intent": pi}),
            Some("refund-1"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(replayed, refund);
    // The amount stays reserved: a second full refund is refused.
    let (_, now) = app.get(&format!("/v1/payment_intents/{pi}")).await;
    assert_eq!(now["amount_refunded"], 1000);
    let (s, refused) = app.post("/v1/refunds", json!({"payment_intent": pi})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(events_of(app, "refund.succeeded", &refund_id).await, 0);

    // The janitor's pass leaves a refund that was just asked about.
    let payments = app.svc.payments();
    let sweep = |after| payments.retry_unanswered_refunds(after, 100);
    assert_eq!(sweep(kassa::UNANSWERED_REFUND_AFTER_MS).await.unwrap(), 0);
    let (_, still) = app.get(&format!("/v1/refunds/{refund_id}")).await;
    assert_eq!(still["status"], "pending");
    // Later it asks again under the same refund id and gets the answer, once.
    assert_eq!(sweep(0).await.unwrap(), 1);
    assert_eq!(sweep(0).await.unwrap(), 0, "answered once");
    let (_, done) = app.get(&format!("/v1/refunds/{refund_id}")).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(events_of(app, "refund.succeeded", &refund_id).await, 1);
    let (_, now) = app.get(&format!("/v1/payment_intents/{pi}")).await;
    assert_eq!(
        now["amount_refunded"], 1000,
        "neither released nor counted twice"
    );
}

async fn a_partial_refund_whose_answer_was_lost_reserves_only_its_amount(app: &TestApp) {
    let pi = paid_with_timeout_card(app, 1000).await;
    let (s, first) = app
        .post("/v1/refunds", json!({"payment_intent": pi, "amount": 400}))
        .await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(first["status"], "pending");
    let (s, _) = app
        .post("/v1/refunds", json!({"payment_intent": pi, "amount": 700}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "only 600 remain refundable");
    let (s, second) = app
        .post("/v1/refunds", json!({"payment_intent": pi, "amount": 600}))
        .await;
    assert_eq!(s, StatusCode::OK, "{second}");
    assert_eq!(second["status"], "pending");
    assert_eq!(
        app.svc
            .payments()
            .retry_unanswered_refunds(0, 100)
            .await
            .unwrap(),
        2
    );
    for r in [&first, &second] {
        let (_, done) = app.get(&format!("/v1/refunds/{}", id(r))).await;
        assert_eq!(done["status"], "succeeded");
    }
    let (_, now) = app.get(&format!("/v1/payment_intents/{pi}")).await;
    assert_eq!(now["amount_refunded"], 1000);
}

/// A browser without JavaScript: cookies kept, redirects not followed.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn the_checkout_page_says_the_payment_is_being_confirmed_after_a_lost_answer(app: &TestApp) {
    let pi = app.create_intent(2500, json!({})).await;
    let checkout = pi["checkout_url"].as_str().unwrap().to_string();
    let b = browser();
    let page = b.get(&checkout).send().await.unwrap().text().await.unwrap();
    let resp = b
        .post(format!("{checkout}/pay"))
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("nonce", hidden(&page, "nonce").as_str()),
            ("number", "4000 0000 0000 0507"),
            ("exp", "12/34"),
            ("cvc", "123"),
            ("name", "Ada Lovelace"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    let url = if loc.starts_with("http") {
        loc
    } else {
        app.url(&loc)
    };
    let waiting = b.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(
        waiting.contains("data-status=\"processing\""),
        "the processing page, not an error: {waiting}"
    );
    assert!(waiting.contains("Processing your payment"), "{waiting}");
    assert!(
        !waiting.contains("name=\"number\""),
        "no card form to pay again"
    );
    assert!(
        !waiting.contains("An error occurred"),
        "no decline alert: {waiting}"
    );
    assert_eq!(recover_now(app).await, 1);
    let done = b.get(&checkout).send().await.unwrap().text().await.unwrap();
    assert!(done.contains("data-status=\"succeeded\""), "{done}");
}

on_both!(
    a_lost_answer_leaves_the_payment_processing_until_the_recovery_settles_it,
    a_manual_capture_payment_whose_answer_was_lost_is_settled_as_authorized,
    a_failing_processor_declines_and_another_card_pays,
    a_slow_processor_still_pays,
    a_refund_whose_answer_was_lost_stays_pending_and_reserved_until_the_sweep,
    a_partial_refund_whose_answer_was_lost_reserves_only_its_amount,
    the_checkout_page_says_the_payment_is_being_confirmed_after_a_lost_answer,
);
