//! Paymentwall dialect, black-box through HTTP on SQLite and PostgreSQL: signed links open the
//! payment page, customers pay with every sandbox method, pingbacks arrive signed as the SDKs
//! check them (types 0, 2, 12, 13, 14, 200, 201, 202), the REST APIs answer, and a failing
//! pingback receiver gets the byte-identical query until it answers OK.

mod common;

use axum::http::StatusCode;
use common::{fresh_database, test_config, Db, Receiver, TestApp};
use kassa::reexport::service::paymentwall::ProjectInput;
use kassa_paymentwall::{parse_query, sign_widget, verify_pingback, ApiType, SignVersion};
use serde_json::Value;

/// The pingback queries `rx` got, in order.
fn queries(rx: &Receiver) -> Vec<String> {
    rx.all().into_iter().map(|r| r.query).collect()
}

/// Waits until `n` pingbacks arrived (or fails after 10 s), returning them parsed.
async fn pingbacks(rx: &Receiver, n: usize) -> Vec<Vec<(String, String)>> {
    rx.wait_for_count(n)
        .await
        .iter()
        .map(|r| parse_query(&r.query).unwrap())
        .collect()
}

fn get<'a>(p: &'a [(String, String)], k: &str) -> &'a str {
    p.iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {k} in {p:?}"))
}

fn has(p: &[(String, String)], k: &str) -> bool {
    p.iter().any(|(n, _)| n == k)
}

struct Project {
    key: String,
    secret: String,
    id: String,
    api: ApiType,
}

async fn project(app: &TestApp, api_type: &str, pingback_url: &str, extra: Value) -> Project {
    let mut input = serde_json::json!({
        "name": "Game shop",
        "api_type": api_type,
        "pingback_url": pingback_url,
    });
    if let (Some(obj), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            obj.insert(k.clone(), v.clone());
        }
    }
    let input: ProjectInput = serde_json::from_value(input).unwrap();
    let p = app
        .svc
        .paymentwall()
        .create_project(&app.merchant_id, input)
        .await
        .unwrap();
    Project {
        key: p.row.project_key.clone(),
        secret: p.secret.clone(),
        id: p.row.id.clone(),
        api: match api_type {
            "cart" => ApiType::Cart,
            "virtual_currency" => ApiType::VirtualCurrency,
            _ => ApiType::DigitalGoods,
        },
    }
}

/// A signed link the way the SDKs build it (flat ordering, `sign_version` signed).
fn link(p: &Project, path: &str, params: &[(&str, &str)], version: SignVersion) -> String {
    let mut all: Vec<(String, String)> = vec![
        ("key".into(), p.key.clone()),
        ("uid".into(), "user40012".into()),
        ("widget".into(), "p1_1".into()),
    ];
    for (k, v) in params {
        all.push((k.to_string(), v.to_string()));
    }
    if version != SignVersion::V1 {
        all.push(("sign_version".into(), version.as_u8().to_string()));
    }
    let sign = sign_widget(&all, &p.secret, version);
    all.push(("sign".into(), sign));
    format!("{path}?{}", kassa_paymentwall::encode_query(&all))
}

const FIXED: &[(&str, &str)] = &[
    ("amount", "9.99"),
    ("currencyCode", "USD"),
    ("ag_name", "Gold Membership"),
    ("ag_external_id", "product301"),
    ("ag_type", "fixed"),
    ("success_url", "https://merchant.example/ok?t=$ref"),
];

/// Opens a link and returns the order page path it redirects to.
async fn open(app: &TestApp, link: &str) -> String {
    let r = app.http.get(app.url(link)).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    r.headers()["location"].to_str().unwrap().to_string()
}

async fn page(app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = app.http.get(app.url(path)).send().await.unwrap();
    let status = r.status();
    (status, r.text().await.unwrap())
}

fn attr(html: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let i = html
        .find(&needle)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + needle.len();
    html[i..].split('"').next().unwrap().to_string()
}

/// Submits the page's form at `path` (`pay` or `action`) with `fields`; follows the redirect.
async fn submit(app: &TestApp, order: &str, form: &str, fields: &[(&str, &str)]) -> String {
    let (_, html) = page(app, order).await;
    let mut body: Vec<(String, String)> = vec![("token".into(), attr(&html, "token"))];
    if form == "pay" {
        body.push(("nonce".into(), attr(&html, "nonce")));
        body.push(("ps".into(), attr(&html, "ps")));
    }
    for (k, v) in fields {
        body.push((k.to_string(), v.to_string()));
    }
    let target = order.split('?').next().unwrap();
    let r = app
        .http
        .post(app.url(&format!("{target}/{form}")))
        .form(&body)
        .send()
        .await
        .unwrap();
    // A decline answers the POST itself with the form again (the typed fields but the CVC
    // kept, never cached); every other answer is one redirect.
    if form == "pay" && r.status() == StatusCode::OK {
        assert_eq!(r.headers()["cache-control"], "no-store");
        let html = r.text().await.unwrap();
        assert!(html.contains(r#"id="decline""#), "{html}");
        return html;
    }
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    page(app, &loc).await.1
}

fn card(cvc: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("number", "4242 4242 4242 4242"),
        ("exp", "12/34"),
        ("cvc", cvc),
        ("name", "Jo Doe"),
    ]
}

fn assert_valid(p: &Project, pb: &[(String, String)]) {
    assert!(
        verify_pingback(&pb.to_vec(), &p.secret, p.api),
        "pingback signature does not verify: {pb:?}"
    );
}

async fn one_time_card_payment_refund_and_apis(app: &TestApp) {
    let rx = Receiver::pingbacks().await;
    let p = project(app, "digital_goods", &rx.url, Value::Null).await;
    let l = link(&p, "/api/subscription", FIXED, SignVersion::V3);
    let order = open(app, &l).await;
    // Opening the same link again finds the same unpaid order.
    assert_eq!(open(app, &l).await, order);
    let (status, html) = page(app, &order).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Select payment method"), "{html}");
    assert!(html.contains("$9.99") && html.contains("Gold Membership"));
    for ps in ["cc", "sandboxwallet", "sandboxbank", "sandboxcash", "test"] {
        assert!(html.contains(&format!("id=\"ps-{ps}\"")), "{ps} missing");
    }
    // Choose the card; a declined CVC shows the message and lets the customer retry.
    let order_cc = format!("{order}?ps=cc");
    let html = submit(app, &order_cc, "pay", &card("222")).await;
    assert!(html.contains("insufficient balance"), "{html}");
    for kept in [
        r#"value="4242 4242 4242 4242""#,
        r#"value="12/34""#,
        r#"value="Jo Doe""#,
    ] {
        assert!(html.contains(kept), "{kept} kept after the decline: {html}");
    }
    assert!(!html.contains(r#"value="222""#), "the CVC is never echoed");
    let html = submit(app, &order_cc, "pay", &card("123")).await;
    assert!(html.contains("Thank you"), "{html}");

    let pbs = pingbacks(&rx, 1).await;
    let pb = &pbs[0];
    assert_valid(&p, pb);
    assert_eq!(get(pb, "type"), "0");
    assert_eq!(get(pb, "uid"), "user40012");
    assert_eq!(get(pb, "goodsid"), "product301");
    assert_eq!(get(pb, "slength"), "");
    assert_eq!(get(pb, "speriod"), "");
    assert_eq!(get(pb, "sign_version"), "3");
    assert!(!has(pb, "is_test"));
    let r = get(pb, "ref").to_string();
    assert!(r.starts_with('b') && r.len() == 11, "{r}");
    // The thank-you page links to success_url with $ref replaced and carries the payment.
    let (_, html) = page(app, &order).await;
    assert!(
        html.contains(&format!("https://merchant.example/ok?t={r}")),
        "{html}"
    );
    assert!(
        html.contains("&quot;payment_system&quot;:&quot;cc&quot;"),
        "{html}"
    );

    // Payment Status API.
    let mut q: Vec<(String, String)> = vec![
        ("key".into(), p.key.clone()),
        ("ref".into(), r.clone()),
        ("sign_version".into(), "3".into()),
    ];
    q.push(("sign".into(), sign_widget(&q, &p.secret, SignVersion::V3)));
    let status: Value = app
        .http
        .get(app.url(&format!(
            "/api/rest/payment?{}",
            kassa_paymentwall::encode_query(&q)
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["id"], r.as_str());
    assert_eq!(status["amount"], "9.99");
    assert_eq!(status["refunded"], false);
    assert_eq!(status["product_id"], "product301");
    // A wrong signature is refused.
    q.last_mut().unwrap().1 = "0".repeat(64);
    let bad = app
        .http
        .get(app.url(&format!(
            "/api/rest/payment?{}",
            kassa_paymentwall::encode_query(&q)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::FORBIDDEN);

    // Delivery Confirmation API with the secret as X-ApiKey.
    let d = app
        .http
        .post(app.url("/api/delivery"))
        .header("X-ApiKey", &p.secret)
        .form(&[
            ("payment_id", r.as_str()),
            ("type", "digital"),
            ("status", "delivered"),
            ("merchant_reference_id", "o-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(d.status(), StatusCode::OK);
    assert_eq!(d.json::<Value>().await.unwrap()["success"], 1);
    let stored = app
        .svc
        .paymentwall()
        .delivery_confirmations(&app.scope(), &p.id, &r)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].status, "delivered");
    let wrong_key = app
        .http
        .post(app.url("/api/delivery"))
        .header("X-ApiKey", "0".repeat(32))
        .form(&[("payment_id", r.as_str()), ("status", "delivered")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_key.status(), StatusCode::UNAUTHORIZED);

    // Refund through the Cancellation API: type 2, same ref, reason 9.
    let mut t: Vec<(String, String)> = vec![
        ("key".into(), p.key.clone()),
        ("ref".into(), r.clone()),
        ("uid".into(), "user40012".into()),
        ("type".into(), "1".into()),
        ("message".into(), "cancelled order".into()),
        ("sign_version".into(), "3".into()),
    ];
    t.push(("sign".into(), sign_widget(&t, &p.secret, SignVersion::V3)));
    let resp = app
        .http
        .post(app.url("/developers/api/ticket"))
        .form(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["result"], 1);
    let pbs = pingbacks(&rx, 2).await;
    let refund = &pbs[1];
    assert_valid(&p, refund);
    assert_eq!(get(refund, "type"), "2");
    assert_eq!(get(refund, "ref"), r);
    assert_eq!(get(refund, "reason"), "9");
    // A second full refund is refused.
    let again = app
        .http
        .post(app.url("/developers/api/ticket"))
        .form(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
}

async fn refused_links(app: &TestApp) {
    let p = project(app, "digital_goods", "http://127.0.0.1:9/pb", Value::Null).await;
    // Tampered amount.
    let l = link(&p, "/api/subscription", FIXED, SignVersion::V3).replace("9.99", "0.99");
    let (status, html) = page(app, &l).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        html.contains("not authorized to view this content"),
        "{html}"
    );
    // Test mode tells the developer which check failed and what Kassa signed (the tampered
    // amount included), never the secret key.
    assert!(
        html.contains("does not match a sign_version 3 signature"),
        "{html}"
    );
    assert!(html.contains("amount=0.99"), "{html}");
    assert!(html.contains("uid=user40012"), "{html}");
    assert!(!html.contains(&p.secret), "the secret key is never shown");
    // A link without sign, and an expired one, say so.
    let unsigned = l
        .split('&')
        .filter(|kv| !kv.starts_with("sign="))
        .collect::<Vec<_>>()
        .join("&");
    let (status, html) = page(app, &unsigned).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("the link has no sign parameter"), "{html}");
    let (status, html) = page(
        app,
        &link(
            &p,
            "/api/subscription",
            &[FIXED, &[("timestamp", "1000000000")]].concat(),
            SignVersion::V3,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("timestamp is older than"), "{html}");
    // Unknown key.
    let other = Project {
        key: "0".repeat(32),
        secret: p.secret.clone(),
        id: String::new(),
        api: p.api,
    };
    let (status, html) = page(
        app,
        &link(&other, "/api/subscription", FIXED, SignVersion::V3),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("no project has this key"), "{html}");
    // Wrong path for the API type.
    let (status, html) = page(app, &link(&p, "/api/cart", FIXED, SignVersion::V2)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains(
            "This application is using Digital Goods API. The Widget URL should be different"
        ),
        "{html}"
    );
    // /api/ is accepted for every type (SDK routing quirks), with or without a trailing slash.
    assert_eq!(
        app.http
            .get(app.url(&link(&p, "/api/", FIXED, SignVersion::V2)))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.http
            .get(app.url(&link(&p, "/api/subscription/", FIXED, SignVersion::V2)))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::SEE_OTHER
    );
    // Missing uid.
    let (status, html) = page(app, &format!("/api/subscription?key={}&widget=p1_1", p.key)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("Parameter key or uid is missing (error code 05)"));
    // v1 protects only uid: a price under v1 is refused.
    let (status, html) = page(app, &link(&p, "/api/subscription", FIXED, SignVersion::V1)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("requires sign_version 2 or 3"), "{html}");
    // Values that do not parse are refused even when signed.
    let bad = [
        ("amount", "9.999"),
        ("currencyCode", "USD"),
        ("ag_external_id", "x"),
    ];
    let (status, _) = page(app, &link(&p, "/api/subscription", &bad, SignVersion::V3)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // An email the core refuses (no dotted domain) is dropped; the payment keeps its metadata.
    let mut odd = FIXED.to_vec();
    odd.push(("email", "buyer@localhost"));
    let order = open(app, &link(&p, "/api/subscription", &odd, SignVersion::V3)).await;
    let view = app
        .svc
        .paymentwall()
        .order_view(order.rsplit('/').next().unwrap())
        .await
        .unwrap();
    assert_eq!(view.intent.receipt_email, None);
    assert_eq!(view.intent.metadata.get("paymentwall_project"), Some(&p.id));
    // An expired timestamp.
    let mut old = FIXED.to_vec();
    old.push(("timestamp", "1500000000"));
    let (status, _) = page(app, &link(&p, "/api/subscription", &old, SignVersion::V3)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn test_method_and_other_methods(app: &TestApp) {
    let rx = Receiver::pingbacks().await;
    let p = project(
        app,
        "digital_goods",
        &rx.url,
        serde_json::json!({"pingback_sign_version": 2}),
    )
    .await;
    // ps=test goes straight to the Test method: one click, a test pingback with ref t<unix>.
    let mut params = FIXED.to_vec();
    params.push(("ps", "test"));
    params.push(("test_mode", "1"));
    let order = open(
        app,
        &link(&p, "/api/subscription", &params, SignVersion::V2),
    )
    .await;
    let html = submit(app, &order, "pay", &[]).await;
    assert!(html.contains("Thank you"), "{html}");
    let pb = &pingbacks(&rx, 1).await[0];
    assert_valid(&p, pb);
    assert_eq!(get(pb, "is_test"), "1");
    assert_eq!(get(pb, "sign_version"), "2");
    let r = get(pb, "ref");
    let t: i64 = r.strip_prefix('t').unwrap().parse().unwrap();
    assert!((t - kassa_store_now() / 1000).abs() < 120, "{r}");

    // Mobile wallet: phone, then the one-time code (a wrong code declines).
    let mut w = FIXED.to_vec();
    w.push(("ag_external_id", "wallet-item"));
    w.retain(|(k, v)| *k != "ag_external_id" || *v == "wallet-item");
    let order = open(app, &link(&p, "/api/subscription", &w, SignVersion::V2)).await;
    let o = format!("{order}?ps=sandboxwallet");
    let html = submit(app, &o, "pay", &[("phone", "+49 170 1234567")]).await;
    assert!(html.contains("Enter the code we sent"), "{html}");
    let html = submit(
        app,
        &order,
        "action",
        &[("action", "otp"), ("otp", "000000")],
    )
    .await;
    assert!(html.contains("confirmation code is incorrect"), "{html}");
    submit(app, &o, "pay", &[("phone", "+49 170 1234567")]).await;
    let html = submit(
        app,
        &order,
        "action",
        &[("action", "otp"), ("otp", "123456")],
    )
    .await;
    assert!(html.contains("Thank you"), "{html}");

    // Bank redirect: the simulated bank page approves.
    let mut b = FIXED.to_vec();
    b.retain(|(k, _)| *k != "ag_external_id");
    b.push(("ag_external_id", "bank-item"));
    let order = open(app, &link(&p, "/api/subscription", &b, SignVersion::V2)).await;
    let html = submit(
        app,
        &format!("{order}?ps=sandboxbank"),
        "pay",
        &[("bank", "sandbox_bank")],
    )
    .await;
    assert!(html.contains("Authorize transfer"), "{html}");
    let html = submit(app, &order, "action", &[("action", "approve")]).await;
    assert!(html.contains("Thank you"), "{html}");

    // Cash voucher: shown now, paid later at the store.
    let mut v = FIXED.to_vec();
    v.retain(|(k, _)| *k != "ag_external_id");
    v.push(("ag_external_id", "voucher-item"));
    let order = open(app, &link(&p, "/api/subscription", &v, SignVersion::V2)).await;
    let html = submit(app, &format!("{order}?ps=sandboxcash"), "pay", &[]).await;
    assert!(html.contains("Your cash voucher"), "{html}");
    let html = submit(app, &order, "action", &[("action", "approve")]).await;
    assert!(html.contains("Thank you"), "{html}");

    let pbs = pingbacks(&rx, 4).await;
    let goods: Vec<&str> = pbs.iter().map(|pb| get(pb, "goodsid")).collect();
    for g in ["wallet-item", "bank-item", "voucher-item"] {
        assert!(goods.contains(&g), "{goods:?}");
    }
    for pb in &pbs {
        assert_valid(&p, pb);
        assert_eq!(get(pb, "type"), "0");
    }
}

fn kassa_store_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

const DAY: i64 = 86_400;

async fn subscription_renews_is_cancelled_and_expires(app: &TestApp) {
    let rx = Receiver::pingbacks().await;
    let p = project(app, "digital_goods", &rx.url, Value::Null).await;
    let params = [
        ("amount", "9.99"),
        ("currencyCode", "USD"),
        ("ag_name", "Gold Membership"),
        ("ag_external_id", "product301"),
        ("ag_type", "subscription"),
        ("ag_period_length", "1"),
        ("ag_period_type", "month"),
        ("ag_recurring", "1"),
        ("ps", "test"),
    ];
    let order = open(
        app,
        &link(&p, "/api/subscription", &params, SignVersion::V3),
    )
    .await;
    submit(app, &order, "pay", &[]).await;
    let first = pingbacks(&rx, 1).await[0].clone();
    assert_valid(&p, &first);
    assert_eq!(get(&first, "type"), "0");
    assert_eq!(get(&first, "slength"), "1");
    assert_eq!(get(&first, "speriod"), "month");
    let subs = app
        .svc
        .paymentwall()
        .subscriptions_of_project(&app.scope(), &p.id)
        .await
        .unwrap();
    assert_eq!(subs.len(), 1);
    let sub = subs[0].id.clone();
    // Nothing is due yet.
    app.svc.billing().run_due_subscriptions(50).await.unwrap();
    app.drained().await;
    assert_eq!(rx.all().len(), 1);
    // A month later (test clock): the renewal is charged, with a new ref.
    app.svc
        .paymentwall()
        .advance_clock(&app.scope(), &sub, 32 * DAY)
        .await
        .unwrap();
    app.svc.billing().run_due_subscriptions(50).await.unwrap();
    let renewal = pingbacks(&rx, 2).await[1].clone();
    assert_valid(&p, &renewal);
    assert_eq!(get(&renewal, "type"), "0");
    assert_ne!(get(&renewal, "ref"), get(&first, "ref"));
    assert_eq!(get(&renewal, "goodsid"), "product301");
    // Running again does not charge the same period twice.
    app.svc.billing().run_due_subscriptions(50).await.unwrap();
    app.drained().await;
    assert_eq!(rx.all().len(), 2);
    // Cancellation API type 2: type 12 at once.
    let mut t: Vec<(String, String)> = vec![
        ("key".into(), p.key.clone()),
        ("ref".into(), get(&first, "ref").to_string()),
        ("type".into(), "2".into()),
        ("sign_version".into(), "2".into()),
    ];
    t.push(("sign".into(), sign_widget(&t, &p.secret, SignVersion::V2)));
    let resp = app
        .http
        .post(app.url("/developers/api/ticket"))
        .form(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cancelled = pingbacks(&rx, 3).await[2].clone();
    assert_valid(&p, &cancelled);
    assert_eq!(get(&cancelled, "type"), "12");
    // The paid month runs out: type 13, and no more renewals.
    app.svc
        .paymentwall()
        .advance_clock(&app.scope(), &sub, 32 * DAY)
        .await
        .unwrap();
    app.svc.billing().run_due_subscriptions(50).await.unwrap();
    let expired = pingbacks(&rx, 4).await[3].clone();
    assert_valid(&p, &expired);
    assert_eq!(get(&expired, "type"), "13");
    app.svc
        .paymentwall()
        .advance_clock(&app.scope(), &sub, 64 * DAY)
        .await
        .unwrap();
    app.svc.billing().run_due_subscriptions(50).await.unwrap();
    app.drained().await;
    assert_eq!(rx.all().len(), 4);
}

async fn failed_renewals_stop_the_subscription(app: &TestApp) {
    let rx = Receiver::pingbacks().await;
    let p = project(
        app,
        "digital_goods",
        &rx.url,
        serde_json::json!({"settings": {"renewal_retry_seconds": 3600}}),
    )
    .await;
    let params = [
        ("amount", "0.99"),
        ("currencyCode", "USD"),
        ("ag_name", "Trial"),
        ("ag_external_id", "trial301"),
        ("ag_type", "subscription"),
        ("ag_period_length", "7"),
        ("ag_period_type", "day"),
        ("ag_recurring", "1"),
        ("ag_trial", "1"),
        ("ag_post_trial_external_id", "product301"),
        ("ag_post_trial_period_length", "1"),
        ("ag_post_trial_period_type", "month"),
        ("ag_post_trial_name", "Gold Membership"),
        ("post_trial_amount", "9.99"),
        ("post_trial_currencyCode", "USD"),
        ("test_mode", "1"),
        ("ps", "cc"),
    ];
    let order = open(
        app,
        &link(&p, "/api/subscription", &params, SignVersion::V3),
    )
    .await;
    let (_, html) = page(app, &order).await;
    assert!(
        html.contains("Trial for 7 days, then $9.99 every month"),
        "{html}"
    );
    // A card whose renewals are declined.
    let html = submit(
        app,
        &order,
        "pay",
        &[
            ("number", "4000000000000341"),
            ("exp", "12/34"),
            ("cvc", "123"),
        ],
    )
    .await;
    assert!(html.contains("Thank you"), "{html}");
    let first = pingbacks(&rx, 1).await[0].clone();
    assert_valid(&p, &first);
    assert_eq!(get(&first, "goodsid"), "trial301");
    assert_eq!(get(&first, "slength"), "7");
    assert_eq!(get(&first, "speriod"), "day");
    let sub = app
        .svc
        .paymentwall()
        .subscriptions_of_project(&app.scope(), &p.id)
        .await
        .unwrap()[0]
        .id
        .clone();
    // Three attempts an hour apart, then type 14.
    for _ in 0..3 {
        app.svc
            .paymentwall()
            .advance_clock(&app.scope(), &sub, 8 * DAY)
            .await
            .unwrap();
        app.svc.billing().run_due_subscriptions(50).await.unwrap();
    }
    let failed = pingbacks(&rx, 2).await[1].clone();
    assert_valid(&p, &failed);
    assert_eq!(get(&failed, "type"), "14");
    let s = app
        .svc
        .paymentwall()
        .subscription(&app.scope(), &sub)
        .await
        .unwrap();
    assert_eq!(s.status, "failed");
    assert_eq!(s.failed_attempts, 3);
    app.drained().await;
    assert_eq!(rx.all().len(), 2);
}

async fn risk_review_then_accept_or_decline(app: &TestApp) {
    let rx = Receiver::pingbacks().await;
    let p = project(
        app,
        "digital_goods",
        &rx.url,
        serde_json::json!({"settings": {"risk_review_delay_seconds": 0}}),
    )
    .await;
    for (cvc, verdict, item) in [
        ("555", "201", "accept-item"),
        ("556", "202", "decline-item"),
    ] {
        let mut params = FIXED.to_vec();
        params.retain(|(k, _)| *k != "ag_external_id");
        params.push(("ag_external_id", item));
        params.push(("ps", "cc"));
        let order = open(
            app,
            &link(&p, "/api/subscription", &params, SignVersion::V3),
        )
        .await;
        let before = rx.all().len();
        let html = submit(app, &order, "pay", &card(cvc)).await;
        assert!(
            html.contains("Payment under review")
                || html.contains("Thank you")
                || html.contains("declined after review"),
            "{html}"
        );
        // The core decides every held authorization's review (the project's delay is 0).
        app.svc.payments().decide_reviews(50).await.unwrap();
        // 200 is queued first; the two may arrive in either order.
        let got = pingbacks(&rx, before + 2).await[before..].to_vec();
        let pending = got
            .iter()
            .find(|pb| get(pb, "type") == "200")
            .unwrap()
            .clone();
        let decided = got
            .iter()
            .find(|pb| get(pb, "type") != "200")
            .unwrap()
            .clone();
        assert_valid(&p, &decided);
        assert_eq!(get(&decided, "type"), verdict);
        assert_eq!(get(&decided, "ref"), get(&pending, "ref"));
        let (_, html) = page(app, &order).await;
        if verdict == "201" {
            assert!(html.contains("Thank you"), "{html}");
        } else {
            assert!(html.contains("declined after review"), "{html}");
        }
    }
}

async fn cart_and_virtual_currency(app: &TestApp) {
    let rx = Receiver::pingbacks().await;
    let cart = project(app, "cart", &rx.url, Value::Null).await;
    let items = [
        ("external_ids[0]", "product301"),
        ("prices[0]", "3.33"),
        ("currencies[0]", "EUR"),
        ("external_ids[1]", "product607"),
        ("prices[1]", "7.77"),
        ("currencies[1]", "EUR"),
        ("ps", "cc"),
    ];
    let order = open(app, &link(&cart, "/api/cart", &items, SignVersion::V2)).await;
    let html = submit(app, &order, "pay", &card("123")).await;
    assert!(
        html.contains("Thank you") && html.contains("€11.10"),
        "{html}"
    );
    let pb = pingbacks(&rx, 1).await[0].clone();
    assert_valid(&cart, &pb);
    assert_eq!(get(&pb, "goodsid[0]"), "product301");
    assert_eq!(get(&pb, "goodsid[1]"), "product607");
    assert_eq!(get(&pb, "sign_version"), "2");

    let vc = project(app, "virtual_currency", &rx.url, Value::Null).await;
    let l = link(
        &vc,
        "/api/ps",
        &[("amount", "4.99"), ("currencyCode", "USD"), ("ps", "cc")],
        SignVersion::V3,
    );
    let order = open(app, &l).await;
    submit(app, &order, "pay", &card("123")).await;
    let pb = pingbacks(&rx, 2).await[1].clone();
    assert_valid(&vc, &pb);
    assert_eq!(get(&pb, "currency"), "499");
}

async fn payment_systems_by_country(app: &TestApp) {
    let p = project(
        app,
        "digital_goods",
        "http://127.0.0.1:9/pb",
        serde_json::json!({"payment_systems": {"DE": ["cc", "sandboxbank"], "*": ["cc"]}, "test_method": false}),
    )
    .await;
    let call = |country: &str| {
        let mut q: Vec<(String, String)> = vec![
            ("key".into(), p.key.clone()),
            ("country_code".into(), country.into()),
            ("sign_version".into(), "2".into()),
        ];
        q.push(("sign".into(), sign_widget(&q, &p.secret, SignVersion::V2)));
        app.url(&format!(
            "/api/payment-systems/?{}",
            kassa_paymentwall::encode_query(&q)
        ))
    };
    let de: Value = app
        .http
        .get(call("DE"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = de
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cc", "sandboxbank"]);
    assert_eq!(de[1]["ps_type_id"], 2);
    let logo = de[0]["img_url"].as_str().unwrap().to_string();
    let r = app.http.get(&logo).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    let us: Value = app
        .http
        .get(call("US"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(us.as_array().unwrap().len(), 1);
    // The page follows country_code too.
    let mut params = FIXED.to_vec();
    params.push(("country_code", "DE"));
    let order = open(
        app,
        &link(&p, "/api/subscription", &params, SignVersion::V3),
    )
    .await;
    let (_, html) = page(app, &order).await;
    assert!(html.contains("id=\"ps-sandboxbank\"") && !html.contains("id=\"ps-sandboxwallet\""));
    // A method not offered in the country is refused on the link.
    let mut params = FIXED.to_vec();
    params.push(("country_code", "US"));
    params.push(("ps", "sandboxbank"));
    let (status, _) = page(
        app,
        &link(&p, "/api/subscription", &params, SignVersion::V3),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Refunds through the native API and the sandbox chargeback helper reach the Paymentwall
/// merchant as type 2 pingbacks: partial refund `reason=10`, chargeback `reason=1`. What makes
/// a chargeback is the refund's kind, which only the chargeback command sets: metadata a
/// merchant sends (once Kassa's own marker) changes nothing.
async fn native_refunds_and_chargebacks(app: &TestApp) {
    let rx = Receiver::pingbacks().await;
    let p = project(app, "digital_goods", &rx.url, Value::Null).await;
    let mut refs = Vec::new();
    for item in ["r1", "r2"] {
        let mut params = FIXED.to_vec();
        params.retain(|(k, _)| *k != "ag_external_id");
        params.push(("ag_external_id", item));
        params.push(("ps", "cc"));
        let order = open(
            app,
            &link(&p, "/api/subscription", &params, SignVersion::V3),
        )
        .await;
        submit(app, &order, "pay", &card("123")).await;
        let n = refs.len();
        refs.push(get(&pingbacks(&rx, n + 1).await[n], "ref").to_string());
    }
    let (status, payment) = app
        .get(&format!(
            "/v1/paymentwall/projects/{}/payments/{}",
            p.id, refs[0]
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{payment}");
    let pi = payment["payment_intent"].as_str().unwrap();
    let (status, refund) = app
        .post(
            "/v1/refunds",
            serde_json::json!({"payment_intent": pi, "amount": 100,
                               "metadata": {"paymentwall_reason": "1"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refund}");
    let stored = app
        .svc
        .payments()
        .refund(&app.scope(), refund["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(stored.kind, kassa_core::intent::RefundKind::Refund);
    let partial = pingbacks(&rx, 3).await[2].clone();
    assert_valid(&p, &partial);
    assert_eq!(get(&partial, "type"), "2");
    assert_eq!(get(&partial, "reason"), "10");
    assert_eq!(get(&partial, "ref"), refs[0]);
    let (status, chargeback) = app
        .post(
            &format!(
                "/v1/paymentwall/projects/{}/payments/{}/chargeback",
                p.id, refs[1]
            ),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{chargeback}");
    let stored = app
        .svc
        .payments()
        .refund(&app.scope(), chargeback["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        stored.kind,
        kassa_core::intent::RefundKind::Chargeback { reason: 1 }
    );
    assert!(
        stored.metadata.is_empty(),
        "no marker: {:?}",
        stored.metadata
    );
    let cb = pingbacks(&rx, 4).await[3].clone();
    assert_valid(&p, &cb);
    assert_eq!(get(&cb, "reason"), "1");
    assert_eq!(get(&cb, "ref"), refs[1]);
}

on_both!(
    native_refunds_and_chargebacks,
    one_time_card_payment_refund_and_apis,
    refused_links,
    test_method_and_other_methods,
    subscription_renews_is_cancelled_and_expires,
    failed_renewals_stop_the_subscription,
    risk_review_then_accept_or_decline,
    cart_and_virtual_currency,
    payment_systems_by_country,
);

/// A receiver that fails twice then answers OK gets exactly the same query three times.
async fn pingback_retries_are_byte_identical(db: Db) {
    let Some((url, guard)) = fresh_database(db).await else {
        return;
    };
    let mut cfg = test_config(&url);
    cfg.webhooks.pingback_retry_schedule = Some("200ms,200ms,200ms,200ms".into());
    let app = TestApp::start(db, cfg).await;
    let rx = Receiver::pingbacks().await;
    rx.fail_next(2);
    let p = project(&app, "digital_goods", &rx.url, Value::Null).await;
    let mut params = FIXED.to_vec();
    params.push(("ps", "cc"));
    let order = open(
        &app,
        &link(&p, "/api/subscription", &params, SignVersion::V3),
    )
    .await;
    submit(&app, &order, "pay", &card("123")).await;
    pingbacks(&rx, 3).await;
    app.settled().await;
    let all = queries(&rx);
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all.iter().all(|q| *q == all[0]), "{all:?}");
    assert_valid(&p, &parse_query(&all[0]).unwrap());
    app.stop().await;
    guard.drop_database().await;
}

for_both_databases!(pingback_retries_are_byte_identical);

/// Without `country_code`, the page's methods follow the customer's IP through the configured
/// MaxMind-format database, read from a trusted proxy header when one is configured.
async fn methods_follow_the_ip_country(db: Db) {
    let Some((url, guard)) = fresh_database(db).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mmdb = dir.path().join("country.mmdb");
    kassa_paymentwall::write_test_country_db(
        &mmdb,
        &[("127.0.0.0/8", "DE"), ("203.0.113.0/24", "FR")],
    )
    .unwrap();
    let mut cfg = test_config(&url);
    cfg.country_db = Some(mmdb);
    cfg.client_ip_header = Some("x-forwarded-for".into());
    let app = TestApp::start(db, cfg).await;
    let p = project(
        &app,
        "digital_goods",
        "http://127.0.0.1:9/pb",
        serde_json::json!({
            "payment_systems": {"DE": ["sandboxbank"], "FR": ["sandboxwallet"], "*": ["cc"]},
            "test_method": false
        }),
    )
    .await;
    let l = link(&p, "/api/subscription", FIXED, SignVersion::V3);
    // The TCP peer is 127.0.0.1 → DE.
    let order = open(&app, &l).await;
    let (_, html) = page(&app, &order).await;
    assert!(html.contains("Online bank transfer"), "{html}");
    assert!(!html.contains("id=\"ps-cc\"") && !html.contains("id=\"ps-sandboxwallet\""));
    // Behind the trusted proxy the last forwarded address counts → FR (a new link: the
    // country is fixed when an order is opened).
    let mut params = FIXED.to_vec();
    params.push(("email", "buyer@example.com"));
    let l = link(&p, "/api/subscription", &params, SignVersion::V3);
    let r = app
        .http
        .get(app.url(&l))
        .header("x-forwarded-for", "198.51.100.7, 203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let order = r.headers()["location"].to_str().unwrap().to_string();
    let (_, html) = page(&app, &order).await;
    assert!(
        html.contains("Mobile wallet") && !html.contains("id=\"ps-sandboxbank\""),
        "{html}"
    );
    app.stop().await;
    guard.drop_database().await;
}

for_both_databases!(methods_follow_the_ip_country);
