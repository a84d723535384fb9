//! Saved cards and off-session charges over HTTP, on SQLite and PostgreSQL: a payment that asks
//! (`setup_future_usage` with a customer) saves its card, through the API or the hosted checkout
//! (which says so, or offers a box when saving is optional); the merchant lists the customer's
//! cards and charges one without the customer (`off_session`), in one request; a card that
//! insists on authentication declines with `authentication_required`; detaching (or deleting the
//! customer) ends a card's use; every rule refuses before anything is written; merchants and
//! keys are kept apart; the events each change writes.

mod common;

use axum::http::StatusCode;
use common::{hidden, TestApp};
use serde_json::{json, Value};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

/// A browser without JavaScript: cookies kept, redirects not followed.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Fills the checkout's card form (ticking "save this card" when `tick`), answering a 3-D
/// Secure challenge with approval; returns the page's HTML before paying.
async fn pay_on_page(app: &TestApp, checkout: &str, number: &str, tick: bool) -> String {
    let b = browser();
    let page = b.get(checkout).send().await.unwrap().text().await.unwrap();
    let (csrf, nonce) = (hidden(&page, "csrf"), hidden(&page, "nonce"));
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("nonce", nonce.as_str()),
        ("number", number),
        ("exp", "12/34"),
        ("cvc", "123"),
        ("name", "Ada Lovelace"),
    ];
    if tick {
        form.push(("save", "1"));
    }
    let r = b
        .post(format!("{checkout}/pay"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    if loc.contains("/sandbox/3ds/") {
        let bank = if loc.starts_with("http") {
            loc
        } else {
            app.url(&loc)
        };
        let bank_page = b.get(&bank).send().await.unwrap().text().await.unwrap();
        let csrf = hidden(&bank_page, "csrf");
        let r = b
            .post(&bank)
            .form(&[("csrf", csrf.as_str()), ("action", "approve")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 303);
    }
    page
}

async fn customer(app: &TestApp) -> String {
    let (s, c) = app
        .post("/v1/customers", json!({"email": "ada@example.com"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    id(&c)
}

async fn methods_of(app: &TestApp, cus: &str) -> Vec<Value> {
    let (s, page) = app
        .get(&format!("/v1/customers/{cus}/payment_methods"))
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["url"], format!("/v1/customers/{cus}/payment_methods"));
    page["data"].as_array().unwrap().clone()
}

/// The types of the merchant's events about `object_id`, oldest first.
async fn events_of(app: &TestApp, object_id: &str) -> Vec<String> {
    let (s, page) = app.get("/v1/events?limit=100").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let mut types: Vec<String> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["object"]["id"] == object_id)
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    types.reverse();
    types
}

/// An off-session charge of `amount` on the saved method, in one request.
async fn charge(app: &TestApp, cus: &str, pm: &str, amount: i64) -> (StatusCode, Value) {
    app.post(
        "/v1/payment_intents",
        json!({"amount": amount, "currency": "usd", "customer": cus, "payment_method": pm,
               "off_session": true, "confirm": true}),
    )
    .await
}

async fn intent_count(app: &TestApp) -> usize {
    let (_, page) = app.get("/v1/payment_intents?limit=100").await;
    page["data"].as_array().unwrap().len()
}

/// The subscription path: the hosted checkout says the card is kept, the payment saves it, and
/// the merchant charges it later without the customer.
async fn a_card_saved_on_the_hosted_page_pays_off_session(app: &TestApp) {
    let cus = customer(app).await;
    let pi = app
        .create_intent(
            1500,
            json!({"customer": cus, "setup_future_usage": "off_session"}),
        )
        .await;
    assert_eq!(
        (&pi["customer"], &pi["setup_future_usage"]),
        (&json!(cus), &json!("off_session"))
    );
    let page = pay_on_page(
        app,
        pi["checkout_url"].as_str().unwrap(),
        "4242424242424242",
        false,
    )
    .await;
    assert!(
        page.contains("id=\"save-notice\""),
        "the page says the card is kept"
    );
    assert!(page.contains("Demo Shop to keep this card"), "{page}");
    assert!(
        !page.contains("id=\"save\""),
        "no box: the merchant needs the card"
    );

    let (_, paid) = app.get(&format!("/v1/payment_intents/{}", id(&pi))).await;
    assert_eq!(paid["status"], "succeeded");
    let methods = methods_of(app, &cus).await;
    assert_eq!(methods.len(), 1, "{methods:?}");
    let pm = &methods[0];
    let pm_id = id(pm);
    assert!(pm_id.starts_with("pm_") && pm_id.len() == 27, "{pm_id}");
    assert_eq!(
        (
            &pm["object"],
            &pm["type"],
            &pm["customer"],
            &pm["allow_redisplay"]
        ),
        (
            &json!("payment_method"),
            &json!("card"),
            &json!(cus),
            &json!("always")
        )
    );
    assert_eq!(
        (
            &pm["card"]["brand"],
            &pm["card"]["last4"],
            &pm["card"]["exp_month"],
            &pm["card"]["exp_year"]
        ),
        (&json!("visa"), &json!("4242"), &json!(12), &json!(2034))
    );
    assert!(
        !pm.to_string().contains("sbx_"),
        "no processor reference: {pm}"
    );
    assert_eq!(
        paid["payment_method"]["id"], pm_id,
        "the payment names the card it saved"
    );
    let (s, got) = app.get(&format!("/v1/payment_methods/{pm_id}")).await;
    assert_eq!((s, &got), (StatusCode::OK, pm));
    assert_eq!(events_of(app, &pm_id).await, ["payment_method.attached"]);

    // Later: two renewals without the customer, each its own payment.
    let mut renewals = Vec::new();
    for amount in [1500, 1700] {
        let (s, r) = charge(app, &cus, &pm_id, amount).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(
            (
                &r["status"],
                &r["amount_received"],
                &r["customer"],
                &r["payment_method"]["id"]
            ),
            (
                &json!("succeeded"),
                &json!(amount),
                &json!(cus),
                &json!(pm_id)
            )
        );
        assert_eq!(r["payment_method"]["last4"], "4242");
        renewals.push(id(&r));
        assert_eq!(
            events_of(app, &id(&r)).await,
            ["payment_intent.created", "payment_intent.succeeded"]
        );
    }
    assert_ne!(renewals[0], renewals[1]);
    // A renewal is an ordinary payment: it refunds.
    let (s, re) = app
        .post(
            "/v1/refunds",
            json!({"payment_intent": renewals[1], "amount": 200}),
        )
        .await;
    assert_eq!(
        (s, &re["status"]),
        (StatusCode::OK, &json!("succeeded")),
        "{re}"
    );
    assert_eq!(
        methods_of(app, &cus).await.len(),
        1,
        "renewals save nothing new"
    );
}

/// `on_session`: the page offers a box; only a ticked one saves the card.
async fn an_optional_save_is_the_customers_choice(app: &TestApp) {
    let cus = customer(app).await;
    for tick in [false, true] {
        let pi = app
            .create_intent(
                900,
                json!({"customer": cus, "setup_future_usage": "on_session"}),
            )
            .await;
        let page = pay_on_page(
            app,
            pi["checkout_url"].as_str().unwrap(),
            "5555555555554444",
            tick,
        )
        .await;
        assert!(
            page.contains("type=\"checkbox\" id=\"save\" name=\"save\" value=\"1\">"),
            "an unticked box: {page}"
        );
        assert!(page.contains(
            "<label for=\"save\">Save this card for my next payments to Demo Shop</label>"
        ));
        let (_, paid) = app.get(&format!("/v1/payment_intents/{}", id(&pi))).await;
        assert_eq!(paid["status"], "succeeded");
        let methods = methods_of(app, &cus).await;
        if tick {
            assert_eq!(methods.len(), 1, "{methods:?}");
            assert_eq!(methods[0]["allow_redisplay"], "limited");
            assert_eq!(methods[0]["card"]["brand"], "mastercard");
            assert_eq!(paid["setup_future_usage"], "on_session");
        } else {
            assert!(methods.is_empty(), "not ticked, not saved: {methods:?}");
            assert_eq!(
                paid["setup_future_usage"],
                Value::Null,
                "the refusal is recorded"
            );
            assert_eq!(paid["payment_method"].get("id"), None);
        }
    }
    // A page without a customer, or without setup_future_usage, says nothing about saving.
    for extra in [json!({}), json!({"customer": cus})] {
        let pi = app.create_intent(100, extra).await;
        let page = browser()
            .get(pi["checkout_url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!page.contains("id=\"save"), "{page}");
    }
}

/// A card that asks for 3-D Secure every time is saved after its challenge, but a charge
/// without the customer declines with `authentication_required`; the 0341 card's renewals
/// decline; the customer can then pay on-session.
async fn off_session_declines_say_why(app: &TestApp) {
    let cus = customer(app).await;
    let pi = app
        .create_intent(
            1000,
            json!({"customer": cus, "setup_future_usage": "off_session"}),
        )
        .await;
    let (s, challenged) = app
        .post(
            &format!("/v1/payment_intents/{}/confirm", id(&pi)),
            json!({"payment_method": "pm_card_authenticationRequired"}),
        )
        .await;
    assert_eq!(
        (s, &challenged["status"]),
        (StatusCode::OK, &json!("requires_action"))
    );
    assert!(
        methods_of(app, &cus).await.is_empty(),
        "not saved before the challenge"
    );
    pay_on_page_challenge(app, &challenged).await;
    let methods = methods_of(app, &cus).await;
    assert_eq!(methods.len(), 1, "saved once authenticated");
    let auth_pm = id(&methods[0]);
    let (s, e) = charge(app, &cus, &auth_pm, 1000).await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED, "{e}");
    assert_eq!(
        (
            &e["error"]["type"],
            &e["error"]["code"],
            &e["error"]["decline_code"]
        ),
        (
            &json!("card_error"),
            &json!("authentication_required"),
            &json!("authentication_required")
        )
    );
    let failed = &e["error"]["payment_intent"];
    assert_eq!(failed["status"], "requires_payment_method");
    assert_eq!(
        failed["last_payment_error"]["code"],
        "authentication_required"
    );
    // The customer comes back and pays on-session with the card itself.
    let (s, back) = app
        .post(
            &format!(
                "/v1/payment_intents/{}/confirm",
                failed["id"].as_str().unwrap()
            ),
            json!({"payment_method": "pm_card_visa"}),
        )
        .await;
    assert_eq!(
        (s, &back["status"]),
        (StatusCode::OK, &json!("succeeded")),
        "{back}"
    );

    // 0341: the first payment goes through, every renewal declines.
    let pi = app
        .create_intent(
            1000,
            json!({"customer": cus, "setup_future_usage": "off_session"}),
        )
        .await;
    pay_on_page(
        app,
        pi["checkout_url"].as_str().unwrap(),
        "4000000000000341",
        false,
    )
    .await;
    let methods = methods_of(app, &cus).await;
    assert_eq!(methods.len(), 2);
    assert_eq!(methods[0]["card"]["last4"], "0341", "newest first");
    let (s, e) = charge(app, &cus, &id(&methods[0]), 1000).await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED, "{e}");
    assert_eq!(e["error"]["code"], "card_declined");
}

/// Completes the 3-D Secure challenge of an intent in `requires_action` with approval.
async fn pay_on_page_challenge(app: &TestApp, pi: &Value) {
    let url = pi["next_action"]["redirect_to_url"]["url"]
        .as_str()
        .unwrap();
    let b = browser();
    let page = b.get(url).send().await.unwrap().text().await.unwrap();
    let csrf = hidden(&page, "csrf");
    let r = b
        .post(url)
        .form(&[("csrf", csrf.as_str()), ("action", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let (_, now) = app.get(&format!("/v1/payment_intents/{}", id(pi))).await;
    assert_eq!(now["status"], "succeeded", "{now}");
}

/// Saving through the API, and every rule refusing before anything is written.
async fn the_rules_refuse_before_anything_is_written(app: &TestApp) {
    let cus = customer(app).await;
    let other_cus = customer(app).await;
    // Saved through /confirm's own setup_future_usage.
    let pi = app.create_intent(800, json!({"customer": cus})).await;
    let (s, paid) = app
        .post(
            &format!("/v1/payment_intents/{}/confirm", id(&pi)),
            json!({"payment_method": "pm_card_visa", "setup_future_usage": "off_session"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{paid}");
    let pm = paid["payment_method"]["id"].as_str().unwrap().to_string();
    assert_eq!(methods_of(app, &cus).await.len(), 1);

    let before = intent_count(app).await;
    let refused: Vec<(Value, &str)> = vec![
        (
            json!({"amount": 100, "currency": "usd", "setup_future_usage": "off_session"}),
            "setup_future_usage",
        ),
        (
            json!({"amount": 100, "currency": "usd", "customer": "cus_nope"}),
            "customer",
        ),
        (
            json!({"amount": 100, "currency": "usd", "customer": "not an id"}),
            "customer",
        ),
        (
            json!({"amount": 100, "currency": "usd", "setup_future_usage": "later", "customer": cus}),
            "",
        ),
        (
            json!({"amount": 100, "currency": "usd", "customer": cus, "payment_method": pm}),
            "payment_method",
        ),
        (
            json!({"amount": 100, "currency": "usd", "customer": cus, "off_session": true}),
            "off_session",
        ),
        (
            json!({"amount": 100, "currency": "usd", "customer": other_cus, "payment_method": pm,
                   "off_session": true, "confirm": true}),
            "payment_method",
        ),
        (
            json!({"amount": 100, "currency": "usd", "payment_method": pm, "confirm": true}),
            "payment_method",
        ),
        (
            json!({"amount": 100, "currency": "usd", "customer": cus, "payment_method": pm,
                   "confirm": true, "capture_method": "manual"}),
            "payment_method",
        ),
        (
            json!({"amount": 100, "currency": "usd", "customer": cus, "confirm": true,
                   "payment_method": "pm_AAAAAAAAAAAAAAAAAAAAAAAA"}),
            "payment_method",
        ),
        (
            json!({"amount": 100, "currency": "usd", "confirm": true, "payment_method": "pm_card_nope"}),
            "payment_method",
        ),
    ];
    for (body, param) in refused {
        let (s, e) = app.post("/v1/payment_intents", body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {e}");
        if !param.is_empty() {
            assert_eq!(e["error"]["param"], param, "{body}: {e}");
        }
    }
    assert_eq!(intent_count(app).await, before, "no intent left behind");
    // /confirm: a test token with off_session, another customer's card, setup without customer.
    let open = app.create_intent(100, json!({"customer": other_cus})).await;
    let bare = app.create_intent(100, json!({})).await;
    for (intent, body, param) in [
        (
            &open,
            json!({"payment_method": "pm_card_visa", "off_session": true}),
            "off_session",
        ),
        (&open, json!({"payment_method": pm}), "payment_method"),
        (&bare, json!({"payment_method": pm}), "payment_method"),
        (
            &bare,
            json!({"payment_method": "pm_card_visa", "setup_future_usage": "off_session"}),
            "setup_future_usage",
        ),
    ] {
        let (s, e) = app
            .post(
                &format!("/v1/payment_intents/{}/confirm", id(intent)),
                body.clone(),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {e}");
        assert_eq!(e["error"]["param"], param, "{body}: {e}");
        let (_, still) = app
            .get(&format!("/v1/payment_intents/{}", id(intent)))
            .await;
        assert_eq!(still["status"], "requires_payment_method", "{body}");
    }
    // A wallet or a plain payment without setup saves nothing.
    assert_eq!(methods_of(app, &other_cus).await.len(), 0);
}

/// Detaching ends a card's use for good; deleting the customer detaches all of theirs.
async fn detached_cards_pay_nothing(app: &TestApp) {
    let cus = customer(app).await;
    let mut pms = Vec::new();
    for _ in 0..2 {
        let pi = app
            .create_intent(
                500,
                json!({"customer": cus, "setup_future_usage": "off_session"}),
            )
            .await;
        let (s, paid) = app
            .post(
                &format!("/v1/payment_intents/{}/confirm", id(&pi)),
                json!({"payment_method": "pm_card_visa"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{paid}");
        pms.push(paid["payment_method"]["id"].as_str().unwrap().to_string());
    }
    // Pages of one.
    let (_, first) = app
        .get(&format!("/v1/customers/{cus}/payment_methods?limit=1"))
        .await;
    assert_eq!(
        (first["has_more"].as_bool(), id(&first["data"][0])),
        (Some(true), pms[1].clone())
    );
    let (_, second) = app
        .get(&format!(
            "/v1/customers/{cus}/payment_methods?limit=1&starting_after={}",
            pms[1]
        ))
        .await;
    assert_eq!(
        (second["has_more"].as_bool(), id(&second["data"][0])),
        (Some(false), pms[0].clone())
    );
    let (_, wallets) = app
        .get(&format!(
            "/v1/customers/{cus}/payment_methods?type=sepa_debit"
        ))
        .await;
    assert_eq!(wallets["data"], json!([]));

    let (s, d) = app
        .post(&format!("/v1/payment_methods/{}/detach", pms[0]), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!((&d["id"], &d["customer"]), (&json!(pms[0]), &Value::Null));
    let (s, e) = app
        .post(&format!("/v1/payment_methods/{}/detach", pms[0]), json!({}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "detached once only: {e}");
    let (s, e) = charge(app, &cus, &pms[0], 500).await;
    assert_eq!(
        (s, &e["error"]["param"]),
        (StatusCode::BAD_REQUEST, &json!("payment_method")),
        "{e}"
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("detached"),
        "{e}"
    );
    assert_eq!(
        events_of(app, &pms[0]).await,
        ["payment_method.attached", "payment_method.detached"]
    );
    assert_eq!(methods_of(app, &cus).await.len(), 1);

    let r = app
        .http
        .delete(app.url(&format!("/v1/customers/{cus}")))
        .bearer_auth(&app.sk)
        .send()
        .await
        .unwrap();
    let s = StatusCode::from_u16(r.status().as_u16()).unwrap();
    assert_eq!(s, StatusCode::OK);
    let (_, gone) = app.get(&format!("/v1/payment_methods/{}", pms[1])).await;
    assert_eq!(
        gone["customer"],
        Value::Null,
        "deleting the customer detached it"
    );
    assert_eq!(
        events_of(app, &pms[1]).await,
        ["payment_method.attached", "payment_method.detached"]
    );
    let (s, _) = app
        .get(&format!("/v1/customers/{cus}/payment_methods"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// Another merchant sees none of it; a publishable key may not list or detach; an off-session
/// charge retried with its Idempotency-Key charges once.
async fn merchants_keys_and_retries(app: &TestApp) {
    let cus = customer(app).await;
    let pi = app
        .create_intent(
            500,
            json!({"customer": cus, "setup_future_usage": "off_session"}),
        )
        .await;
    let (_, paid) = app
        .post(
            &format!("/v1/payment_intents/{}/confirm", id(&pi)),
            json!({"payment_method": "pm_card_visa"}),
        )
        .await;
    let pm = paid["payment_method"]["id"].as_str().unwrap().to_string();
    let other = app.other_merchant_key().await;
    for path in [
        format!("/v1/payment_methods/{pm}"),
        format!("/v1/customers/{cus}/payment_methods"),
        "/v1/payment_methods/pm_card_visa".to_string(),
    ] {
        let (s, e) = app.get_as(&other, &path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {e}");
    }
    let (s, e) = app
        .post_as(
            &other,
            &format!("/v1/payment_methods/{pm}/detach"),
            json!({}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    let (s, e) = app
        .post_as(
            &other,
            "/v1/payment_intents",
            json!({"amount": 100, "currency": "usd", "payment_method": pm, "confirm": true}),
            None,
        )
        .await;
    assert_eq!(
        (s, &e["error"]["param"]),
        (StatusCode::BAD_REQUEST, &json!("payment_method")),
        "{e}"
    );
    for path in [
        format!("/v1/payment_methods/{pm}"),
        format!("/v1/customers/{cus}/payment_methods"),
    ] {
        let (s, _) = app.get_as(&app.pk, &path).await;
        assert!(
            s == StatusCode::FORBIDDEN || s == StatusCode::UNAUTHORIZED,
            "{path}: {s}"
        );
    }
    let (_, still) = app.get(&format!("/v1/payment_methods/{pm}")).await;
    assert_eq!(still["customer"], json!(cus), "untouched by the others");

    let body = json!({"amount": 2100, "currency": "usd", "customer": cus, "payment_method": pm,
                      "off_session": true, "confirm": true});
    let before = intent_count(app).await;
    let (s1, a) = app
        .post_as(
            &app.sk,
            "/v1/payment_intents",
            body.clone(),
            Some("renewal-2026-12"),
        )
        .await;
    let (s2, b) = app
        .post_as(
            &app.sk,
            "/v1/payment_intents",
            body,
            Some("renewal-2026-12"),
        )
        .await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK), "{a} {b}");
    assert_eq!(a, b, "the replay answers the first charge");
    assert_eq!(intent_count(app).await, before + 1, "charged once");
}

on_both!(
    a_card_saved_on_the_hosted_page_pays_off_session,
    an_optional_save_is_the_customers_choice,
    off_session_declines_say_why,
    the_rules_refuse_before_anything_is_written,
    detached_cards_pay_nothing,
    merchants_keys_and_retries,
);
