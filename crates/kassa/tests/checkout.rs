//! The hosted checkout over plain HTTP, as a browser without JavaScript would use it: CSRF
//! cookie and field, redirects, 3-D Secure, declines, and never charging twice.

mod common;

use common::TestApp;
use serde_json::{json, Value};

use common::{element_text, hidden};

/// The intent's machine status, kept in `#status`'s `data-status` (the payer reads a label).
fn data_status(html: &str) -> Option<String> {
    let at = html.find("id=\"status\" data-status=\"")? + "id=\"status\" data-status=\"".len();
    Some(html[at..].split('"').next()?.to_string())
}

struct Browser {
    http: reqwest::Client,
}

impl Browser {
    fn new() -> Self {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    async fn get(&self, url: &str) -> (u16, reqwest::header::HeaderMap, String) {
        let r = self.http.get(url).send().await.unwrap();
        (
            r.status().as_u16(),
            r.headers().clone(),
            r.text().await.unwrap(),
        )
    }

    async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> (u16, String) {
        let r = self.http.post(url).form(form).send().await.unwrap();
        let loc = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (r.status().as_u16(), loc)
    }
}

fn absolute(app: &TestApp, loc: &str) -> String {
    if loc.starts_with("http") {
        loc.to_string()
    } else {
        app.url(loc)
    }
}

async fn pay(app: &TestApp, b: &Browser, checkout: &str, number: &str) -> (u16, String, String) {
    let (_, _, page) = b.get(checkout).await;
    let csrf = hidden(&page, "csrf");
    let nonce = hidden(&page, "nonce");
    let (status, loc) = b
        .post_form(
            &format!("{checkout}/pay"),
            &[
                ("csrf", &csrf),
                ("nonce", &nonce),
                ("number", number),
                ("exp", "12/34"),
                ("cvc", "123"),
                ("name", "Ada Lovelace"),
            ],
        )
        .await;
    let _ = app;
    (status, loc, nonce)
}

async fn a_customer_pays_on_the_hosted_page_and_is_sent_back(app: &TestApp) {
    let pi = app
        .create_intent(
            2500,
            json!({"return_url": "https://shop.example/done?order=7", "description": "Two books"}),
        )
        .await;
    let checkout = pi["checkout_url"].as_str().unwrap().to_string();
    let b = Browser::new();
    let (status, headers, page) = b.get(&checkout).await;
    assert_eq!(status, 200);
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(page.contains("Demo Shop"));
    assert!(page.contains("25.00"));
    assert!(page.contains("Two books"));
    let (status, loc, _) = pay(app, &b, &checkout, "4242 4242 4242 4242").await;
    assert_eq!(status, 303);
    let (_, _, done) = b.get(&absolute(app, &loc)).await;
    assert_eq!(data_status(&done).as_deref(), Some("succeeded"));
    assert_eq!(element_text(&done, "status").as_deref(), Some("Paid"));
    assert!(
        done.contains("https://shop.example/done?order=7&amp;payment_intent=")
            || done.contains("https://shop.example/done?order=7&payment_intent="),
        "return link: {done}"
    );
    let (_, got) = app
        .get(&format!(
            "/v1/payment_intents/{}",
            pi["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(got["status"], "succeeded");
    assert_eq!(got["payment_method"]["last4"], "4242");
}

async fn a_decline_shows_the_reason_and_another_card_can_be_tried(app: &TestApp) {
    let pi = app.create_intent(1000, json!({})).await;
    let checkout = pi["checkout_url"].as_str().unwrap().to_string();
    let b = Browser::new();
    let (_, _, page) = b.get(&checkout).await;
    // The decline answers the POST with the form again: every field but the CVC kept (echoed,
    // never stored, never cached), the decline's alert first.
    let r = b
        .http
        .post(format!("{checkout}/pay"))
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("nonce", hidden(&page, "nonce").as_str()),
            ("number", "4000 0000 0000 9995"),
            ("exp", "12/34"),
            ("cvc", "123"),
            ("name", "Ada Lovelace"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let page = r.text().await.unwrap();
    let err = element_text(&page, "error").unwrap();
    assert!(err.contains("insufficient funds"), "{err}");
    assert!(page.contains(r#"role="alert" tabindex="-1""#), "{page}");
    for kept in [
        r#"value="4000 0000 0000 9995""#,
        r#"value="12/34""#,
        r#"value="Ada Lovelace""#,
    ] {
        assert!(page.contains(kept), "{kept} in {page}");
    }
    let cvc = &page[page.find(r#"id="cvc""#).unwrap()..];
    assert!(
        !cvc[..cvc.find('>').unwrap()].contains("value="),
        "the CVC is never echoed"
    );
    // Loading the page again shows the decline, with an empty form.
    let (_, _, again) = b.get(&checkout).await;
    assert!(element_text(&again, "error")
        .unwrap()
        .contains("insufficient funds"));
    assert!(
        !again.contains("9995\""),
        "the number only answers the POST"
    );
    let (_, loc, _) = pay(app, &b, &checkout, "5555555555554444").await;
    let (_, _, page) = b.get(&absolute(app, &loc)).await;
    assert_eq!(data_status(&page).as_deref(), Some("succeeded"));
}

async fn three_d_secure_is_approved_or_failed_on_the_bank_page(app: &TestApp) {
    for (card, action, want) in [
        ("4000002500003155", "approve", "succeeded"),
        ("4000000000003220", "fail", "requires_payment_method"),
        ("4000008400001629", "approve", "requires_payment_method"),
    ] {
        let pi = app.create_intent(1000, json!({})).await;
        let checkout = pi["checkout_url"].as_str().unwrap().to_string();
        let b = Browser::new();
        let (status, loc, _) = pay(app, &b, &checkout, card).await;
        assert_eq!(status, 303);
        assert!(loc.contains("/sandbox/3ds/pa_"), "{card}: {loc}");
        let bank = absolute(app, &loc);
        let (_, _, page) = b.get(&bank).await;
        assert!(page.contains(&card[12..]), "the bank page shows the last 4");
        let csrf = hidden(&page, "csrf");
        let (status, back) = b
            .post_form(&bank, &[("csrf", &csrf), ("action", action)])
            .await;
        assert_eq!(status, 303);
        let (_, _, page) = b.get(&absolute(app, &back)).await;
        let (_, got) = app
            .get(&format!(
                "/v1/payment_intents/{}",
                pi["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(got["status"], want, "{card} {action}");
        if want == "succeeded" {
            assert_eq!(data_status(&page).as_deref(), Some("succeeded"));
        } else {
            assert!(
                element_text(&page, "error").is_some(),
                "{card}: the failure is explained"
            );
        }
        // Answering the challenge again changes nothing.
        let (status, _) = b
            .post_form(&bank, &[("csrf", &csrf), ("action", "approve")])
            .await;
        assert_eq!(status, 303);
        let (_, again) = app
            .get(&format!(
                "/v1/payment_intents/{}",
                pi["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(again["status"], want);
    }
}

async fn a_resubmitted_or_double_clicked_form_charges_once(app: &TestApp) {
    let rx = common::Receiver::start().await;
    app.post("/v1/webhook_endpoints", json!({"url": rx.url, "enabled_events": ["payment_intent.succeeded", "payment_intent.payment_failed"]})).await;
    let pi = app.create_intent(4200, json!({})).await;
    let checkout = pi["checkout_url"].as_str().unwrap().to_string();
    let b = Browser::new();
    let (_, _, page) = b.get(&checkout).await;
    let csrf = hidden(&page, "csrf");
    let nonce = hidden(&page, "nonce");
    let form = [
        ("csrf", csrf.as_str()),
        ("nonce", nonce.as_str()),
        ("number", "4242424242424242"),
        ("exp", "12/34"),
        ("cvc", "123"),
        ("name", ""),
    ];
    let url = format!("{checkout}/pay");
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let http = b.http.clone();
        let url = url.clone();
        let form: Vec<(String, String)> = form
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .form(&form)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 303);
    }
    // And the back button: the same form once more, later.
    let (status, _) = b.post_form(&url, &form).await;
    assert_eq!(status, 303);
    rx.wait_for("the success event", |g| !g.is_empty()).await;
    app.drained().await;
    assert_eq!(rx.all().len(), 1, "one payment, one event");
    let (_, events) = app.get("/v1/events?limit=100").await;
    let succeeded = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["type"] == "payment_intent.succeeded" && e["data"]["object"]["id"] == pi["id"]
        })
        .count();
    assert_eq!(succeeded, 1);
}

async fn forged_or_malformed_forms_are_refused_without_charging(app: &TestApp) {
    let pi = app.create_intent(1000, json!({})).await;
    let checkout = pi["checkout_url"].as_str().unwrap().to_string();
    let b = Browser::new();
    let (_, _, page) = b.get(&checkout).await;
    let nonce = hidden(&page, "nonce");
    // A cross-site post has no cookie: refused.
    let stranger = Browser::new();
    let (status, _) = stranger
        .post_form(
            &format!("{checkout}/pay"),
            &[
                ("csrf", &hidden(&page, "csrf")),
                ("nonce", &nonce),
                ("number", "4242424242424242"),
                ("exp", "12/34"),
                ("cvc", "123"),
                ("name", ""),
            ],
        )
        .await;
    assert_eq!(status, 403);
    // A bad card number is a form error, not a charge, and is not echoed back.
    let csrf = hidden(&page, "csrf");
    let r = b
        .http
        .post(format!("{checkout}/pay"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("nonce", nonce.as_str()),
            ("number", "4242424242424241"),
            ("exp", "12/34"),
            ("cvc", "123"),
            ("name", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(!r.text().await.unwrap().contains("4242424242424241"));
    let r = b
        .http
        .post(format!("{checkout}/pay"))
        .body("garbage=%ZZ&&&")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let (status, _, _) = b.get(&app.url("/checkout/cs_doesnotexist")).await;
    assert_eq!(status, 404);
    let (status, _, _) = b.get(&app.url("/sandbox/3ds/pa_doesnotexist")).await;
    assert_eq!(status, 404);
    let (_, got): (_, Value) = app
        .get(&format!(
            "/v1/payment_intents/{}",
            pi["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(got["status"], "requires_payment_method");
}

on_both!(
    a_customer_pays_on_the_hosted_page_and_is_sent_back,
    a_decline_shows_the_reason_and_another_card_can_be_tried,
    three_d_secure_is_approved_or_failed_on_the_bank_page,
    a_resubmitted_or_double_clicked_form_charges_once,
    forged_or_malformed_forms_are_refused_without_charging,
);
