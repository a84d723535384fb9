//! The first hour of a developer: failed deliveries show up in the log, `/` says what this
//! server is and unknown paths are 404s, errors name their field in plain words, and
//! form-encoded bodies (what `curl -d` sends) work wherever JSON does.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Db, Receiver, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_kassa");

/// Removes ANSI colour sequences, in case the log writer colours its output.
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The real `kassa serve` with a webhook endpoint whose receiver answers 500: every failed
/// attempt (three automatic ones, then a manual resend) writes exactly one WARN line with the
/// host, channel, status and attempt number, and never the body, the secret or a signature.
async fn every_failed_delivery_attempt_writes_one_warn_line(db: Db) {
    let Some((url, guard)) = common::fresh_database(db).await else {
        return;
    };
    let rx = Receiver::start().await;
    rx.fail_next(1000);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &url,
        ])
        .env("KASSA_MASTER_KEY", common::MASTER_KEY)
        .env("KASSA_WEBHOOK_RETRY_SCHEDULE", "200ms,300ms")
        .env("KASSA_WEBHOOK_JITTER", "false")
        .env("KASSA_WEBHOOK_POLL_INTERVAL_MS", "50")
        .env("KASSA_LOG_FORMAT", "text")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let stderr = child.stderr.take().unwrap();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(plain(&line));
        }
    });
    let sk = common::read_secret_key(&mut child);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    // Registered form-encoded, as the README shows it.
    let ep: Value = http
        .post(format!("{base}/v1/webhook_endpoints"))
        .bearer_auth(&sk)
        .form(&[
            ("url", rx.url.as_str()),
            ("enabled_events[]", "payment_intent.created"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = ep["secret"]
        .as_str()
        .expect("the endpoint's secret")
        .to_string();
    assert!(secret.starts_with("whsec_"), "{ep}");
    let pi: Value = http
        .post(format!("{base}/v1/payment_intents"))
        .bearer_auth(&sk)
        .form(&[
            ("amount", "1000"),
            ("currency", "usd"),
            ("description", "log-test-body-marker"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(pi["id"].as_str().unwrap().starts_with("pi_"), "{pi}");

    // 1 + 2 retries, then the delivery gives up.
    rx.wait_for("three attempts", |got| got.len() >= 3).await;
    common::wait_settled(&url).await;
    let events: Value = http
        .get(format!("{base}/v1/events"))
        .bearer_auth(&sk)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event_id = events["data"][0]["id"].as_str().unwrap().to_string();
    let deliveries_url = format!("{base}/v1/events/{event_id}/deliveries");
    let d: Value = http
        .get(&deliveries_url)
        .bearer_auth(&sk)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let delivery = if d["data"][0]["attempts"].as_array().map_or(0, Vec::len) >= 3 {
        d["data"][0].clone()
    } else {
        Value::Null
    };
    assert!(!delivery.is_null(), "three attempts were recorded");
    let delivery_id = delivery["id"].as_str().unwrap().to_string();

    // A manual resend that fails is logged too.
    let resend = http
        .post(format!("{base}/v1/events/{event_id}/resend"))
        .bearer_auth(&sk)
        .form(&[("webhook_endpoint", ep["id"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(resend.status(), 200, "{:?}", resend.text().await);
    common::wait_settled(&url).await;
    let received = rx.all();
    assert_eq!(received.len(), 4, "three automatic attempts and one resend");

    unsafe_free_kill(&mut child);
    let log = log.lock().unwrap().clone();
    let warns: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("notification delivery attempt failed"))
        .collect();
    assert_eq!(warns.len(), 4, "one WARN line per failed attempt: {log:#?}");
    eprintln!(
        "the WARN lines:\n{}",
        warns
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let host = rx
        .url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap();
    for (i, line) in warns.iter().enumerate() {
        assert!(line.contains("WARN"), "{line}");
        assert!(line.contains(&format!("host={host}")), "{line}");
        assert!(line.contains("channel=webhook"), "{line}");
        assert!(line.contains("status=500"), "{line}");
        assert!(line.contains("reason=HTTP 500"), "{line}");
        assert!(line.contains(&format!("delivery={delivery_id}")), "{line}");
        assert!(line.contains(&format!("event={event_id}")), "{line}");
        let (attempt, trigger) = if i < 3 {
            (i + 1, "automatic")
        } else {
            (4, "manual")
        };
        assert!(line.contains(&format!("attempt={attempt}")), "{line}");
        assert!(line.contains(&format!("trigger={trigger}")), "{line}");
        assert!(!line.contains("/hook"), "no path: {line}");
    }
    assert!(warns[2].contains("gave up"), "{}", warns[2]);
    // Nothing secret or private anywhere in the log.
    let all = log.join("\n");
    assert!(!all.contains("not now"), "no response excerpt in the log");
    assert!(!all.contains("whsec_"), "no secret in the log");
    assert!(
        !all.contains(&secret["whsec_".len()..]),
        "no secret in the log"
    );
    assert!(!all.contains("log-test-body-marker"), "no body in the log");
    for r in &received {
        let sig = r.header("webhook-signature");
        let sig = sig.trim_start_matches("v1,");
        assert!(!sig.is_empty());
        assert!(!all.contains(sig), "no signature in the log");
    }
    guard.drop_database().await;
}

fn unsafe_free_kill(child: &mut std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
    // Let the log thread drain what was written before the exit.
    std::thread::sleep(Duration::from_millis(200));
}

for_both_databases!(every_failed_delivery_attempt_writes_one_warn_line);

/// `/` is a small page that says what this server is; unknown paths are 404 without a key,
/// known `/v1` routes still want one.
async fn the_start_page_and_unknown_paths(app: &TestApp) {
    let resp = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("script-src"),
        "{csp}"
    );
    let html = resp.text().await.unwrap();
    for needle in [
        "<title>Kassa ",
        env!("CARGO_PKG_VERSION"),
        "/v1/openapi.json",
        "<code>/v1</code>",
        "Paymentwall",
        "Paymob",
        "README",
        &app.base,
    ] {
        assert!(html.contains(needle), "{needle} in {html}");
    }
    assert!(!html.contains("<script"), "no script");
    assert!(!html.contains("style="), "no inline style");
    // Its stylesheet is served from Kassa's own origin.
    let css = app
        .http
        .get(app.url("/assets/home.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));

    for path in ["/v1/nope", "/v1", "/v1/payment_intents/pi_x/nope"] {
        let resp = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "url_invalid", "{path}: {body}");
    }
    let resp = app
        .http
        .post(app.url("/v1/nope"))
        .bearer_auth(&app.sk)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    for path in ["/nope", "/favicon.ico", "/checkout", "/api/nope/deeper"] {
        let resp = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(resp.headers().contains_key("content-security-policy"));
        let html = resp.text().await.unwrap();
        assert!(html.contains("Not found"), "{html}");
        assert!(!html.contains("<script"));
    }
    // Known routes still need a key.
    for path in ["/v1/payment_intents", "/v1/events", "/v1/webhook_endpoints"] {
        let resp = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "api_key_missing");
    }
    let resp = app
        .http
        .post(app.url("/v1/payment_intents"))
        .form(&[("amount", "1000")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // The OpenAPI document needs none.
    let resp = app
        .http
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // ... and says that bodies may be form-encoded.
    let doc: Value = resp.json().await.unwrap();
    let content = &doc["paths"]["/v1/payment_intents"]["post"]["requestBody"]["content"];
    assert_eq!(
        content["application/x-www-form-urlencoded"], content["application/json"],
        "{content}"
    );
}

/// An amount sent as a decimal string (or a float) names the field and explains minor units
/// in the request's currency; a card number of the wrong type is never echoed.
async fn errors_name_the_field_in_plain_words(app: &TestApp) {
    let (s, e) = app
        .post(
            "/v1/payment_intents",
            json!({"amount": "10.00", "currency": "usd"}),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["error"]["param"], "amount");
    assert_eq!(
        e["error"]["message"],
        "amount must be a whole number of the currency's minor unit: 1000 means USD 10.00."
    );
    let (s, e) = app
        .post(
            "/v1/payment_intents",
            json!({"amount": 10.5, "currency": "JPY"}),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["error"]["param"], "amount");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .ends_with("1000 means JPY 1000."));

    let pi = app
        .create_intent(1000, json!({"capture_method": "manual"}))
        .await;
    let id = pi["id"].as_str().unwrap();
    let (s, e) = app
        .post(
            &format!("/v1/payment_intents/{id}/capture"),
            json!({"amount_to_capture": "5.00"}),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["error"]["param"], "amount_to_capture");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("amount_to_capture must be a whole number of the currency's minor unit"));

    let paid = app.paid_intent(1000).await;
    let (s, e) = app
        .post(
            "/v1/refunds",
            json!({"payment_intent": paid["id"], "amount": "1.00"}),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["error"]["param"], "amount");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("whole number of the currency's minor unit"));

    // A card number as a JSON number, an expiry month as a string holding a card number.
    let other = app.create_intent(500, json!({})).await;
    let confirm = format!(
        "/v1/payment_intents/{}/confirm",
        other["id"].as_str().unwrap()
    );
    let (s, e) = app
        .post(
            &confirm,
            json!({"payment_method_data": {"type": "card", "card": {
                "number": 4242424242424242u64, "exp_month": 12, "exp_year": 2040, "cvc": "123"}}}),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["error"]["param"], "payment_method_data[card][number]");
    assert!(!e.to_string().contains("4242"), "{e}");
    let resp = app
        .http
        .post(app.url(&confirm))
        .bearer_auth(&app.sk)
        .form(&[
            ("payment_method_data[type]", "card"),
            ("payment_method_data[card][number]", "4242 4242 4242 4242"),
            ("payment_method_data[card][exp_month]", "4242424242424242x"),
            ("payment_method_data[card][exp_year]", "2040"),
            ("payment_method_data[card][cvc]", "123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["error"]["param"], "payment_method_data[card][exp_month]");
    assert!(!e.to_string().contains("4242"), "{e}");
    let (s, e) = app
        .post(
            "/v1/payment_intents",
            json!({"amount": 1, "currency": "usd", "capture_method": "4242424242424242"}),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["error"]["param"], "capture_method");
    assert!(!e.to_string().contains("4242"), "{e}");
    let (s, e) = app
        .post("/v1/payment_intents", json!({"currency": "usd"}))
        .await;
    assert_eq!(s, 400);
    assert_eq!(e["error"]["param"], "amount");
    assert_eq!(e["error"]["message"], "Missing required param: amount.");
}

fn without_volatile(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    for k in ["id", "created", "client_secret", "checkout_url"] {
        o.remove(k);
    }
    v
}

async fn post_form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let resp = app
        .http
        .post(app.url(path))
        .bearer_auth(&app.sk)
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

/// A Stripe-trained developer's `curl -d` works: form-encoded bodies with bracketed nested
/// fields give the same objects as JSON.
async fn form_encoded_bodies_work_like_json(app: &TestApp) {
    let (s, from_json) = app
        .post(
            "/v1/payment_intents",
            json!({"amount": 1000, "currency": "usd", "description": "Order 42",
                   "metadata": {"order": "42", "note": "gift & wrap"},
                   "capture_method": "manual", "return_url": "https://example.com/done"}),
        )
        .await;
    assert_eq!(s, 200, "{from_json}");
    let (s, from_form) = post_form(
        app,
        "/v1/payment_intents",
        &[
            ("amount", "1000"),
            ("currency", "usd"),
            ("description", "Order 42"),
            ("metadata[order]", "42"),
            ("metadata[note]", "gift & wrap"),
            ("capture_method", "manual"),
            ("return_url", "https://example.com/done"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{from_form}");
    assert_ne!(from_form["id"], from_json["id"]);
    let checkout = from_form["checkout_url"].as_str().map(str::to_string);
    assert_eq!(
        without_volatile(from_form.clone()),
        without_volatile(from_json)
    );

    // Confirm and capture form-encoded, with a nested card and an integer amount.
    let id = from_form["id"].as_str().unwrap();
    let (s, pi) = post_form(
        app,
        &format!("/v1/payment_intents/{id}/confirm"),
        &[
            ("payment_method_data[type]", "card"),
            ("payment_method_data[card][number]", "4242424242424242"),
            ("payment_method_data[card][exp_month]", "12"),
            ("payment_method_data[card][exp_year]", "2040"),
            ("payment_method_data[card][cvc]", "123"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{pi}");
    assert_eq!(pi["status"], "requires_capture", "{pi} ({checkout:?})");
    let (s, pi) = post_form(
        app,
        &format!("/v1/payment_intents/{id}/capture"),
        &[("amount_to_capture", "600")],
    )
    .await;
    assert_eq!(s, 200, "{pi}");
    assert_eq!(pi["amount_received"], 600, "{pi}");
    let (s, refund) = post_form(
        app,
        "/v1/refunds",
        &[
            ("payment_intent", id),
            ("amount", "100"),
            ("metadata[why]", "test"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{refund}");
    assert_eq!(refund["amount"], 100);
    assert_eq!(refund["metadata"]["why"], "test");

    // Webhook endpoints: `enabled_events[]=…` and `enabled_events[0]=…`, booleans.
    let (s, ep) = post_form(
        app,
        "/v1/webhook_endpoints",
        &[
            ("url", "https://merchant.example/hooks"),
            ("enabled_events[]", "payment_intent.succeeded"),
            ("enabled_events[]", "refund.created"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{ep}");
    assert_eq!(
        ep["enabled_events"],
        json!(["payment_intent.succeeded", "refund.created"])
    );
    assert!(ep["secret"].as_str().unwrap().starts_with("whsec_"));
    let (s, ep2) = post_form(
        app,
        "/v1/webhook_endpoints",
        &[
            ("url", "https://merchant.example/all"),
            ("enabled_events[0]", "*"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{ep2}");
    assert_eq!(ep2["enabled_events"], json!(["*"]));
    let (s, upd) = post_form(
        app,
        &format!("/v1/webhook_endpoints/{}", ep2["id"].as_str().unwrap()),
        &[("disabled", "true")],
    )
    .await;
    assert_eq!(s, 200, "{upd}");
    assert_eq!(upd["status"], "disabled", "{upd}");

    // Bad form values name their field.
    let (s, e) = post_form(
        app,
        "/v1/payment_intents",
        &[("amount", "10.00"), ("currency", "eur")],
    )
    .await;
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["error"]["param"], "amount");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .ends_with("1000 means EUR 10.00."));
    let (s, e) = post_form(
        app,
        "/v1/payment_intents",
        &[("amount", "1000"), ("currency", "usd"), ("colour", "red")],
    )
    .await;
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["error"]["param"], "colour");
    let (s, e) = post_form(
        app,
        &format!("/v1/webhook_endpoints/{}", ep2["id"].as_str().unwrap()),
        &[("disabled", "maybe")],
    )
    .await;
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["error"]["param"], "disabled");
    let (s, e) = post_form(
        app,
        "/v1/webhook_endpoints",
        &[("url", "https://merchant.example/none")],
    )
    .await;
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["error"]["param"], "enabled_events");

    // Idempotency works on form bodies: the same key and body replay.
    let send = |body: &'static str| {
        app.http
            .post(app.url("/v1/payment_intents"))
            .bearer_auth(&app.sk)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("idempotency-key", "form-key-1")
            .body(body)
            .send()
    };
    let first = send("amount=700&currency=usd").await.unwrap();
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let again = send("amount=700&currency=usd").await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    let other = send("amount=701&currency=usd").await.unwrap();
    assert_eq!(other.status(), 422);
}

/// The README's examples, as a developer pastes them (`curl -d` is form-encoded unless a
/// Content-Type says otherwise).
async fn the_readme_examples_work(app: &TestApp) {
    // Quick start (JSON with its Content-Type).
    let (s, pi) = app
        .post(
            "/v1/payment_intents",
            json!({"amount":1000,"currency":"usd","return_url":"https://example.com/done"}),
        )
        .await;
    assert_eq!(s, 200, "{pi}");
    assert!(pi["checkout_url"].as_str().is_some());
    // JSON pasted after `curl -d` without a Content-Type (curl labels it form-encoded).
    let resp = app
        .http
        .post(app.url("/v1/payment_intents"))
        .bearer_auth(&app.sk)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(r#" {"amount":1000,"currency":"usd","metadata":{"order":"7"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let pi: Value = resp.json().await.unwrap();
    assert_eq!(pi["metadata"]["order"], "7");
    // The same with `-d amount=1000 -d currency=usd -d return_url=…`.
    let (s, pi) = post_form(
        app,
        "/v1/payment_intents",
        &[
            ("amount", "1000"),
            ("currency", "usd"),
            ("return_url", "https://example.com/done"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{pi}");
    // Webhook endpoint, form-encoded: `-d url=… -d 'enabled_events[]=*'`.
    let (s, ep) = post_form(
        app,
        "/v1/webhook_endpoints",
        &[
            ("url", "https://your-server.example/webhooks"),
            ("enabled_events[]", "*"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{ep}");
    assert_eq!(ep["enabled_events"], json!(["*"]));
    // Paymentwall project and Paymob profile examples (JSON).
    let (s, p) = app
        .post(
            "/v1/paymentwall/projects",
            json!({"name":"My game","api_type":"digital_goods","pingback_url":"https://shop.example/pingback"}),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    let (s, p) = app
        .post(
            "/v1/paymob/profiles",
            json!({"name":"Cairo Books","country":"egy","integrations":[
                {"kind":"card","processed_callback_url":"https://shop.example/paymob/callback",
                 "response_callback_url":"https://shop.example/paymob/return"},
                {"kind":"wallet"},{"kind":"kiosk"},{"kind":"card_auth"},{"kind":"moto"},{"kind":"cash"}]}),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    // The Paymob profile form-encoded too, with a list of objects.
    let (s, p) = post_form(
        app,
        "/v1/paymob/profiles",
        &[
            ("name", "Cairo Books 2"),
            ("country", "egy"),
            ("integrations[0][kind]", "card"),
            ("integrations[0][three_d_secure]", "false"),
            ("integrations[1][kind]", "wallet"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{p}");
}

on_both!(
    the_start_page_and_unknown_paths,
    errors_name_the_field_in_plain_words,
    form_encoded_bodies_work_like_json,
    the_readme_examples_work,
);
