//! Black-box tests of the native API over HTTP, on SQLite and PostgreSQL.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use kassa_core::intent::AttemptStatus;
use serde_json::{json, Value};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

async fn a_created_intent_can_be_retrieved_and_listed_page_by_page(app: &TestApp) {
    let a = app
        .create_intent(
            100,
            json!({"description": "first", "metadata": {"order": "42"}}),
        )
        .await;
    let b = app.create_intent(200, json!({})).await;
    let c = app
        .create_intent(
            300,
            json!({"capture_method": "manual", "customer_email": "c@example.com"}),
        )
        .await;
    assert_eq!(a["status"], "requires_payment_method");
    assert!(id(&a).starts_with("pi_"));
    assert!(a["client_secret"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}_secret_", id(&a))));
    assert!(a["checkout_url"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/checkout/cs_", app.base)));
    assert_eq!(c["receipt_email"], "c@example.com");
    assert_eq!(c["capture_method"], "manual");

    let (s, got) = app.get(&format!("/v1/payment_intents/{}", id(&a))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["metadata"]["order"], "42");
    assert_eq!(got["description"], "first");

    let (s, page1) = app.get("/v1/payment_intents?limit=2").await;
    assert_eq!(s, StatusCode::OK);
    let ids: Vec<String> = page1["data"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(ids, vec![id(&c), id(&b)], "newest first");
    assert_eq!(page1["has_more"], true);
    let (_, page2) = app
        .get(&format!(
            "/v1/payment_intents?limit=2&starting_after={}",
            id(&b)
        ))
        .await;
    let ids: Vec<String> = page2["data"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(ids, vec![id(&a)]);
    assert_eq!(page2["has_more"], false);
}

async fn test_cards_give_their_documented_outcomes(app: &TestApp) {
    let cases = [
        ("pm_card_visa", StatusCode::OK, "succeeded", None),
        ("pm_card_mastercard", StatusCode::OK, "succeeded", None),
        (
            "pm_card_chargeDeclined",
            StatusCode::PAYMENT_REQUIRED,
            "requires_payment_method",
            Some("generic_decline"),
        ),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            StatusCode::PAYMENT_REQUIRED,
            "requires_payment_method",
            Some("insufficient_funds"),
        ),
        (
            "pm_card_chargeDeclinedExpiredCard",
            StatusCode::PAYMENT_REQUIRED,
            "requires_payment_method",
            Some("expired_card"),
        ),
        (
            "pm_card_chargeDeclinedIncorrectCvc",
            StatusCode::PAYMENT_REQUIRED,
            "requires_payment_method",
            Some("incorrect_cvc"),
        ),
        (
            "pm_card_threeDSecureRequired",
            StatusCode::OK,
            "requires_action",
            None,
        ),
    ];
    for (pm, want_status, want_intent, decline_code) in cases {
        let pi = app.create_intent(500, json!({})).await;
        let (s, body) = app
            .post(
                &format!("/v1/payment_intents/{}/confirm", id(&pi)),
                json!({"payment_method": pm}),
            )
            .await;
        assert_eq!(s, want_status, "{pm}: {body}");
        if let Some(code) = decline_code {
            assert_eq!(body["error"]["type"], "card_error", "{pm}");
            assert_eq!(body["error"]["decline_code"], code, "{pm}");
            assert_eq!(body["error"]["payment_intent"]["status"], want_intent);
            let (_, now) = app.get(&format!("/v1/payment_intents/{}", id(&pi))).await;
            assert_eq!(now["last_payment_error"]["decline_code"], code);
            // The customer may try again with another card.
            let (s, again) = app
                .post(
                    &format!("/v1/payment_intents/{}/confirm", id(&pi)),
                    json!({"payment_method": "pm_card_visa"}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{again}");
            assert_eq!(again["status"], "succeeded");
            assert_eq!(again["last_payment_error"], Value::Null);
        } else {
            assert_eq!(body["status"], want_intent, "{pm}");
        }
        if want_intent == "requires_action" {
            let url = body["next_action"]["redirect_to_url"]["url"]
                .as_str()
                .unwrap();
            assert!(
                url.starts_with(&format!("{}/sandbox/3ds/pa_", app.base)),
                "{url}"
            );
        }
    }
}

async fn raw_card_numbers_are_accepted_but_never_stored_or_returned(app: &TestApp) {
    let pi = app.create_intent(700, json!({})).await;
    let (s, body) = app
        .post(
            &format!("/v1/payment_intents/{}/confirm", id(&pi)),
            json!({"payment_method_data": {"type": "card", "card": {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["payment_method"]["last4"], "4242");
    assert_eq!(body["payment_method"]["brand"], "visa");
    assert!(!body.to_string().contains("4242424242424242"));
    if app.db == common::Db::Sqlite {
        // Nothing in the database file holds the full number or the CVC.
        let path = app.database_url.trim_start_matches("sqlite://");
        let mut all = std::fs::read(path).unwrap();
        if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
            all.extend(wal);
        }
        let hay = String::from_utf8_lossy(&all);
        assert!(!hay.contains("4242424242424242"));
        assert!(!hay.contains("4242 4242 4242 4242"));
    }
    let (s, bad) = app
        .post(
            &format!("/v1/payment_intents/{}/confirm", id(&app.create_intent(1, json!({})).await)),
            json!({"payment_method_data": {"type": "card", "card": {"number": "4242424242424241", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    assert!(!bad.to_string().contains("4242424242424241"));
}

/// An authorization waits 7 days for its capture, then Kassa releases it: voided, cancelled
/// as `automatic`, with a `payment_intent.canceled` event; it can no longer be captured. A
/// captured one has no deadline.
async fn an_uncaptured_authorization_is_released_after_seven_days(app: &TestApp) {
    let day = 86_400_000;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let pi = app
            .create_intent(1000, json!({"capture_method": "manual"}))
            .await;
        let (s, pi) = app
            .post(
                &format!("/v1/payment_intents/{}/confirm", id(&pi)),
                json!({"payment_method": "pm_card_visa"}),
            )
            .await;
        assert_eq!(
            (s, &pi["status"]),
            (StatusCode::OK, &json!("requires_capture"))
        );
        ids.push(id(&pi));
    }
    let held = app
        .svc
        .payments()
        .intent(&app.scope(), &ids[0])
        .await
        .unwrap();
    let deadline = held.capture_before.expect("a capture deadline");
    assert!(
        (deadline - held.updated - 7 * day).abs() < 1_000,
        "{deadline}"
    );
    assert_eq!(
        app.svc.payments().expire_authorizations(50).await.unwrap(),
        0,
        "not yet"
    );

    // The second is captured in time; then both deadlines are made to pass.
    let (s, _) = app
        .post(
            &format!("/v1/payment_intents/{}/capture", ids[1]),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    for id in &ids {
        let mut tx = app.svc.store.begin().await.unwrap();
        let mut pi = tx.intent(&app.scope(), id).await.unwrap().unwrap();
        assert_eq!(pi.capture_before.is_some(), id == &ids[0]);
        pi.capture_before = Some(1);
        tx.update_intent(&mut pi).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(
        app.svc.payments().expire_authorizations(50).await.unwrap(),
        1
    );
    assert_eq!(
        app.svc.payments().expire_authorizations(50).await.unwrap(),
        0,
        "once"
    );
    let (_, released) = app.get(&format!("/v1/payment_intents/{}", ids[0])).await;
    assert_eq!(
        (
            &released["status"],
            &released["cancellation_reason"],
            &released["amount_capturable"]
        ),
        (&json!("canceled"), &json!("automatic"), &json!(0)),
        "{released}"
    );
    let (_, captured) = app.get(&format!("/v1/payment_intents/{}", ids[1])).await;
    assert_eq!(captured["status"], "succeeded");
    let (s, e) = app
        .post(
            &format!("/v1/payment_intents/{}/capture", ids[0]),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (_, events) = app.get("/v1/events?limit=100").await;
    let canceled: Vec<&Value> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "payment_intent.canceled")
        .collect();
    assert_eq!(canceled.len(), 1, "{events}");
    assert_eq!(canceled[0]["data"]["object"]["id"], json!(ids[0]));
    assert_eq!(
        canceled[0]["data"]["object"]["cancellation_reason"],
        "automatic"
    );
    // `automatic` is Kassa's own reason: a merchant cannot give it.
    let pi = app.create_intent(500, json!({})).await;
    let (s, e) = app
        .post(
            &format!("/v1/payment_intents/{}/cancel", id(&pi)),
            json!({"cancellation_reason": "automatic"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
}

/// A native payment held for a risk review (the sandbox holds CVC 555 and 556) is reviewed like
/// any face's: accepted, an automatic-capture payment is captured; declined, it is cancelled as
/// `fraudulent`; a manual-capture one, accepted, waits for the merchant's capture.
async fn a_held_native_payment_gets_its_risk_review(app: &TestApp) {
    let mut ids = Vec::new();
    for (cvc, capture) in [
        ("555", "automatic"),
        ("556", "automatic"),
        ("555", "manual"),
    ] {
        let pi = app
            .create_intent(1200, json!({"capture_method": capture}))
            .await;
        let (s, pi) = app
            .post(
                &format!("/v1/payment_intents/{}/confirm", id(&pi)),
                json!({"payment_method_data": {"type": "card", "card": {
                    "number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": cvc}}}),
            )
            .await;
        assert_eq!(
            (s, &pi["status"]),
            (StatusCode::OK, &json!("requires_capture")),
            "{pi}"
        );
        let held = app
            .svc
            .payments()
            .intent(&app.scope(), &id(&pi))
            .await
            .unwrap();
        assert!(held.under_review(), "{cvc} {capture}");
        ids.push(id(&pi));
    }
    assert_eq!(
        app.svc.payments().decide_reviews(50).await.unwrap(),
        0,
        "not due yet"
    );
    for id in &ids {
        let mut tx = app.svc.store.begin().await.unwrap();
        let mut pi = tx.intent(&app.scope(), id).await.unwrap().unwrap();
        pi.review_at = Some(1);
        tx.update_intent(&mut pi).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(app.svc.payments().decide_reviews(50).await.unwrap(), 3);
    assert_eq!(
        app.svc.payments().decide_reviews(50).await.unwrap(),
        0,
        "once"
    );
    let (_, accepted) = app.get(&format!("/v1/payment_intents/{}", ids[0])).await;
    assert_eq!(
        (&accepted["status"], &accepted["amount_received"]),
        (&json!("succeeded"), &json!(1200)),
        "{accepted}"
    );
    let (_, declined) = app.get(&format!("/v1/payment_intents/{}", ids[1])).await;
    assert_eq!(
        (&declined["status"], &declined["cancellation_reason"]),
        (&json!("canceled"), &json!("fraudulent")),
        "{declined}"
    );
    let (_, manual) = app.get(&format!("/v1/payment_intents/{}", ids[2])).await;
    assert_eq!(manual["status"], "requires_capture", "{manual}");
    let manual = app
        .svc
        .payments()
        .intent(&app.scope(), &ids[2])
        .await
        .unwrap();
    assert!(!manual.under_review() && manual.capture_before.is_some());
    let (s, captured) = app
        .post(
            &format!("/v1/payment_intents/{}/capture", ids[2]),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, &captured["status"]),
        (StatusCode::OK, &json!("succeeded"))
    );
}

async fn manual_capture_may_be_partial_and_only_once(app: &TestApp) {
    let pi = app
        .create_intent(1000, json!({"capture_method": "manual"}))
        .await;
    let (s, pi) = app
        .post(
            &format!("/v1/payment_intents/{}/confirm", id(&pi)),
            json!({"payment_method": "pm_card_visa"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(pi["status"], "requires_capture");
    assert_eq!(pi["amount_capturable"], 1000);
    let (s, e) = app
        .post(
            &format!("/v1/payment_intents/{}/capture", id(&pi)),
            json!({"amount_to_capture": 1001}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e["error"]["param"], "amount_to_capture");
    let (s, pi) = app
        .post(
            &format!("/v1/payment_intents/{}/capture", id(&pi)),
            json!({"amount_to_capture": 600}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{pi}");
    assert_eq!(pi["status"], "succeeded");
    assert_eq!(pi["amount_received"], 600);
    let (s, _) = app
        .post(
            &format!("/v1/payment_intents/{}/capture", id(&pi)),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Only what was captured can be refunded.
    let (s, e) = app
        .post(
            "/v1/refunds",
            json!({"payment_intent": id(&pi), "amount": 601}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
}

async fn cancel_works_before_capture_and_not_after_payment(app: &TestApp) {
    let pi = app.create_intent(1000, json!({})).await;
    let (s, c) = app
        .post(
            &format!("/v1/payment_intents/{}/cancel", id(&pi)),
            json!({"cancellation_reason": "abandoned"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["status"], "canceled");
    assert_eq!(c["cancellation_reason"], "abandoned");
    let (s, _) = app
        .post(
            &format!("/v1/payment_intents/{}/confirm", id(&pi)),
            json!({"payment_method": "pm_card_visa"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let auth = app
        .create_intent(1000, json!({"capture_method": "manual"}))
        .await;
    app.post(
        &format!("/v1/payment_intents/{}/confirm", id(&auth)),
        json!({"payment_method": "pm_card_visa"}),
    )
    .await;
    let (s, c) = app
        .post(
            &format!("/v1/payment_intents/{}/cancel", id(&auth)),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["status"], "canceled");
    assert_eq!(c["amount_capturable"], 0);

    let paid = app.paid_intent(1000).await;
    let (s, e) = app
        .post(
            &format!("/v1/payment_intents/{}/cancel", id(&paid)),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (s, e) = app
        .post(
            &format!("/v1/payment_intents/{}/cancel", id(&paid)),
            json!({"cancellation_reason": "bored"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["param"], "cancellation_reason");
}

async fn refunds_are_full_or_partial_and_never_exceed_the_payment(app: &TestApp) {
    let pi = app.paid_intent(1000).await;
    let (s, r1) = app
        .post(
            "/v1/refunds",
            json!({"payment_intent": id(&pi), "amount": 300, "reason": "requested_by_customer"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r1}");
    assert_eq!(r1["status"], "succeeded");
    assert!(id(&r1).starts_with("re_"));
    let (s, r2) = app
        .post("/v1/refunds", json!({"payment_intent": id(&pi)}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r2["amount"], 700, "defaults to the rest");
    let (s, e) = app
        .post(
            "/v1/refunds",
            json!({"payment_intent": id(&pi), "amount": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (_, got) = app.get(&format!("/v1/payment_intents/{}", id(&pi))).await;
    assert_eq!(got["amount_refunded"], 1000);
    let (s, r) = app.get(&format!("/v1/refunds/{}", id(&r1))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["amount"], 300);
    let (_, list) = app
        .get(&format!("/v1/refunds?payment_intent={}", id(&pi)))
        .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    // An unpaid intent cannot be refunded.
    let unpaid = app.create_intent(10, json!({})).await;
    let (s, _) = app
        .post("/v1/refunds", json!({"payment_intent": id(&unpaid)}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

async fn concurrent_refunds_never_add_up_to_more_than_was_captured(app: &TestApp) {
    let pi = app.paid_intent(1000).await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let http = app.http.clone();
        let url = app.url("/v1/refunds");
        let sk = app.sk.clone();
        let body = json!({"payment_intent": id(&pi), "amount": 300});
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .bearer_auth(sk)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let status = t.await.unwrap();
        assert!(
            status == 200 || status == 400 || status == 409,
            "status {status}"
        );
        if status == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 3, "exactly three refunds of 300 fit in 1000");
    let (_, got) = app.get(&format!("/v1/payment_intents/{}", id(&pi))).await;
    assert_eq!(got["amount_refunded"], 900);
}

async fn an_idempotency_key_replays_the_first_response(app: &TestApp) {
    let body = json!({"amount": 1234, "currency": "eur"});
    let (s1, a) = app
        .post_as(
            &app.sk,
            "/v1/payment_intents",
            body.clone(),
            Some("order-1"),
        )
        .await;
    let (s2, b) = app
        .post_as(
            &app.sk,
            "/v1/payment_intents",
            body.clone(),
            Some("order-1"),
        )
        .await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(a, b, "the replay is the same response");
    let (_, list) = app.get("/v1/payment_intents?limit=100").await;
    assert_eq!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["amount"] == 1234)
            .count(),
        1
    );
    // Same key, other body.
    let (s, e) = app
        .post_as(
            &app.sk,
            "/v1/payment_intents",
            json!({"amount": 1, "currency": "eur"}),
            Some("order-1"),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    // A replayed decline is still the decline, and nothing is charged twice.
    let pi = app.create_intent(50, json!({})).await;
    let path = format!("/v1/payment_intents/{}/confirm", id(&pi));
    let (s1, d1) = app
        .post_as(
            &app.sk,
            &path,
            json!({"payment_method": "pm_card_chargeDeclined"}),
            Some("c-1"),
        )
        .await;
    let (s2, d2) = app
        .post_as(
            &app.sk,
            &path,
            json!({"payment_method": "pm_card_chargeDeclined"}),
            Some("c-1"),
        )
        .await;
    assert_eq!(
        (s1, s2),
        (StatusCode::PAYMENT_REQUIRED, StatusCode::PAYMENT_REQUIRED)
    );
    assert_eq!(d1, d2);
    // Concurrent duplicates: one intent at most, others replay or are told to retry.
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let http = app.http.clone();
        let url = app.url("/v1/payment_intents");
        let sk = app.sk.clone();
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(url)
                .bearer_auth(sk)
                .header("Idempotency-Key", "burst")
                .json(&json!({"amount": 777, "currency": "usd"}))
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap())
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        let (s, v) = t.await.unwrap();
        assert!(s == 200 || s == 409, "{s} {v}");
        if s == 200 {
            ids.insert(id(&v));
        }
    }
    assert_eq!(ids.len(), 1, "one intent for one key");
    let (_, list) = app.get("/v1/payment_intents?limit=100").await;
    assert_eq!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["amount"] == 777)
            .count(),
        1
    );
    // Malformed keys are refused.
    let (s, _) = app
        .post_as(&app.sk, "/v1/payment_intents", body, Some(&"k".repeat(300)))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

async fn bad_input_gets_a_clear_4xx_and_never_a_500(app: &TestApp) {
    let (s, e) = app
        .post(
            "/v1/payment_intents",
            json!({"amount": 100, "currency": "usd", "colour": "red"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["param"], "colour");
    assert_eq!(e["error"]["type"], "invalid_request_error");
    let (s, e) = app
        .post(
            "/v1/payment_intents",
            json!({"amount": 100, "currency": "xyz"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["param"], "currency");
    let (s, e) = app
        .post(
            "/v1/payment_intents",
            json!({"amount": 0, "currency": "usd"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["param"], "amount");
    let (s, e) = app
        .post("/v1/payment_intents", json!({"currency": "usd"}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["param"], "amount");
    let (s, _) = app
        .post(
            "/v1/payment_intents",
            json!({"amount": 9.99, "currency": "usd"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, e) = app
        .post(
            "/v1/payment_intents",
            json!({"amount": 100, "currency": "usd", "return_url": "javascript:alert(1)"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["param"], "return_url");
    let weird: [&[u8]; 8] = [
        b"{",
        b"[]",
        b"null",
        b"\"x\"",
        b"{\"amount\":1e400}",
        b"\xff\xfe",
        b"{\"amount\":-5,\"currency\":\"usd\"}",
        b"{\"amount\":99999999999999999999,\"currency\":\"usd\"}",
    ];
    for body in weird {
        let r = app
            .http
            .post(app.url("/v1/payment_intents"))
            .bearer_auth(&app.sk)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            400,
            "{:?}",
            String::from_utf8_lossy(body)
        );
        let v: Value = r.json().await.unwrap();
        assert!(v["error"]["message"].is_string());
    }
    // Auth.
    let r = app
        .http
        .get(app.url("/v1/payment_intents"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let (s, _) = app.get_as("sk_test_nope", "/v1/payment_intents").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Unknown objects and routes.
    let (s, e) = app.get("/v1/payment_intents/pi_doesnotexist").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(e["error"]["code"], "resource_missing");
    let (s, _) = app.get("/v1/payment_intents/'; DROP TABLE x").await;
    assert!(s == StatusCode::NOT_FOUND || s == StatusCode::BAD_REQUEST);
    let (s, _) = app.get("/v1/nothing").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.get("/v1/payment_intents?limit=1000").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app.get("/v1/payment_intents?starting_after=pi_nope").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app.get("/v1/payment_intents?limit=abc").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app
        .post(
            "/v1/payment_intents/pi_x/confirm",
            json!({"payment_method": "pm_card_nope"}),
        )
        .await;
    assert!(s == StatusCode::BAD_REQUEST || s == StatusCode::NOT_FOUND);
    let big = "x".repeat(200_000);
    let r = app
        .http
        .post(app.url("/v1/payment_intents"))
        .bearer_auth(&app.sk)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
}

async fn merchants_never_see_each_others_objects(app: &TestApp) {
    let other = app.other_merchant_key().await;
    let pi = app.paid_intent(1000).await;
    let (s, _) = app
        .get_as(&other, &format!("/v1/payment_intents/{}", id(&pi)))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .post_as(
            &other,
            "/v1/refunds",
            json!({"payment_intent": id(&pi)}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app
        .post_as(
            &other,
            &format!("/v1/payment_intents/{}/cancel", id(&pi)),
            json!({}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = app.get_as(&other, "/v1/payment_intents").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    let (_, events) = app.get_as(&other, "/v1/events").await;
    assert_eq!(events["data"].as_array().unwrap().len(), 0);
    let (_, mine) = app.get("/v1/events").await;
    let ev = id(&mine["data"][0]);
    let (s, _) = app.get_as(&other, &format!("/v1/events/{ev}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn a_publishable_key_may_only_do_what_a_checkout_page_needs(app: &TestApp) {
    let pi = app.create_intent(1000, json!({})).await;
    let (s, _) = app
        .post_as(
            &app.pk,
            "/v1/payment_intents",
            json!({"amount": 1, "currency": "usd"}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.get_as(&app.pk, "/v1/payment_intents").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .post_as(
            &app.pk,
            "/v1/refunds",
            json!({"payment_intent": id(&pi)}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .get_as(&app.pk, &format!("/v1/payment_intents/{}", id(&pi)))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "needs the client secret");
    let secret = pi["client_secret"].as_str().unwrap();
    let (s, got) = app
        .get_as(
            &app.pk,
            &format!("/v1/payment_intents/{}?client_secret={secret}", id(&pi)),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["id"], pi["id"]);
    let (s, _) = app
        .post_as(
            &app.pk,
            &format!("/v1/payment_intents/{}/confirm", id(&pi)),
            json!({"payment_method": "pm_card_visa", "client_secret": "wrong"}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, paid) = app
        .post_as(
            &app.pk,
            &format!("/v1/payment_intents/{}/confirm", id(&pi)),
            json!({"payment_method": "pm_card_visa", "client_secret": secret}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(paid["status"], "succeeded");
}

async fn operations_endpoints_answer(app: &TestApp) {
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers().get("x-request-id").is_some());
    app.paid_intent(100).await;
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "kassa_http_request_duration_seconds",
        "kassa_payments_total",
        "kassa_outbox_pending",
        "kassa_outbox_oldest_due_age_ms",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    assert!(metrics.contains("route=\"/v1/payment_intents/{id}/confirm\""));
    let doc: Value = app
        .http
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/payment_intents",
        "/v1/payment_intents/{id}/confirm",
        "/v1/refunds",
        "/v1/webhook_endpoints",
        "/v1/events/{id}/resend",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
}

/// A process that dies between claiming an intent (`processing`) and recording the processor's
/// answer leaves the intent stuck; the recovery sweep asks the processor and settles it.
async fn an_interrupted_confirmation_is_settled_and_the_customer_can_retry(app: &TestApp) {
    use kassa::reexport::store::{now_ms, PaymentAttempt};
    let pi = app.create_intent(1000, json!({})).await;
    let svc = &app.svc;
    let mut tx = svc.store.begin().await.unwrap();
    let mut stuck = tx.intent(&app.scope(), &id(&pi)).await.unwrap().unwrap();
    let long_ago = now_ms() - 10 * 60 * 1000;
    stuck.begin_confirm(long_ago).unwrap();
    tx.update_intent(&mut stuck).await.unwrap();
    tx.insert_attempt(&PaymentAttempt {
        id: kassa_core::ids::new_id("pa"),
        payment_intent_id: id(&pi),
        status: AttemptStatus::Processing,
        payment_method: None,
        processor_ref: None,
        challenge_state: None,
        error: None,
        created_at: long_ago,
        updated_at: long_ago,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (_, now) = app.get(&format!("/v1/payment_intents/{}", id(&pi))).await;
    assert_eq!(now["status"], "processing");
    let (s, _) = app
        .post(
            &format!("/v1/payment_intents/{}/confirm", id(&pi)),
            json!({"payment_method": "pm_card_visa"}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "a processing intent cannot be confirmed again"
    );
    // A fresh attempt is left alone; a stale one is settled (the sandbox has no record of it).
    assert_eq!(
        svc.payments()
            .recover_interrupted(60 * 60 * 1000)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        svc.payments()
            .recover_interrupted(5 * 60 * 1000)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        svc.payments()
            .recover_interrupted(5 * 60 * 1000)
            .await
            .unwrap(),
        0,
        "settled once"
    );
    let (_, now) = app.get(&format!("/v1/payment_intents/{}", id(&pi))).await;
    assert_eq!(now["status"], "requires_payment_method");
    assert_eq!(now["last_payment_error"]["code"], "processing_error");
    let (_, events) = app.get("/v1/events?limit=5").await;
    assert!(events["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "payment_intent.payment_failed"
            && e["data"]["object"]["id"] == pi["id"]));
    let (s, paid) = app
        .post(
            &format!("/v1/payment_intents/{}/confirm", id(&pi)),
            json!({"payment_method": "pm_card_visa"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(paid["status"], "succeeded");
}

on_both!(
    an_interrupted_confirmation_is_settled_and_the_customer_can_retry,
    a_created_intent_can_be_retrieved_and_listed_page_by_page,
    test_cards_give_their_documented_outcomes,
    raw_card_numbers_are_accepted_but_never_stored_or_returned,
    manual_capture_may_be_partial_and_only_once,
    an_uncaptured_authorization_is_released_after_seven_days,
    a_held_native_payment_gets_its_risk_review,
    cancel_works_before_capture_and_not_after_payment,
    refunds_are_full_or_partial_and_never_exceed_the_payment,
    concurrent_refunds_never_add_up_to_more_than_was_captured,
    an_idempotency_key_replays_the_first_response,
    bad_input_gets_a_clear_4xx_and_never_a_500,
    merchants_never_see_each_others_objects,
    a_publishable_key_may_only_do_what_a_checkout_page_needs,
    operations_endpoints_answer,
);
