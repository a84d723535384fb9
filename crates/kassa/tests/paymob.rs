//! The Paymob-compatible API through HTTP, on SQLite and PostgreSQL: intentions and their
//! errors, the legacy flow with every credential carrier, payments by card (3-D Secure),
//! saved card, wallet, kiosk and cash, signed callbacks and redirects, refund/void/capture
//! rules, callback retries, subscriptions on a test clock, and tenant isolation.

mod common;

use axum::http::StatusCode;
use common::{Answer, Receiver, TestApp};
use kassa_http::native::schemas::paymob as schemas;
use kassa_paymob::hmac;
use serde_json::{json, Value};

/// Paymob callbacks on the shared receiver, read as (query with `hmac=`, JSON body) pairs.
trait Callbacks {
    /// Every callback received so far.
    fn callbacks(&self) -> Vec<(String, Value)>;
    /// Waits (at most 10 s) until `pred` holds for some callback's body, and returns it.
    async fn wait_callback(&self, what: &str, pred: impl Fn(&Value) -> bool) -> (String, Value);
}

impl Callbacks for Receiver {
    fn callbacks(&self) -> Vec<(String, Value)> {
        self.all()
            .into_iter()
            .map(|r| (r.query.clone(), r.json_or_null()))
            .collect()
    }

    async fn wait_callback(&self, what: &str, pred: impl Fn(&Value) -> bool) -> (String, Value) {
        let r = self
            .wait_for_one(&format!("a callback for {what}"), |r| {
                pred(&r.json_or_null())
            })
            .await;
        (r.query.clone(), r.json_or_null())
    }
}

/// A receiver for Paymob callbacks (`/cb`).
async fn callback_receiver() -> Receiver {
    Receiver::start_at("/cb").await
}

fn query_pairs(q: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(p: &'a [(String, String)], k: &str) -> &'a str {
    p.iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {k} in {p:?}"))
}

/// Checks a processed or token callback's `hmac` query against its body.
fn assert_signed(secret: &str, (q, body): &(String, Value)) {
    let given = query_pairs(q)
        .into_iter()
        .find(|(k, _)| k == "hmac")
        .map(|(_, v)| v)
        .expect("hmac in the query");
    let expected = if body["type"] == "TOKEN" {
        hmac::token_hmac(secret, &body["obj"])
    } else {
        hmac::transaction_hmac(secret, &body["obj"])
    };
    assert_eq!(given, expected, "callback HMAC for {body}");
    if body["type"] == "TRANSACTION" {
        // The transaction object the native API documents (sandbox_settle answers it).
        pinned::<schemas::PmTransactionObject>(&body["obj"]);
    }
    for f in hmac::TRANSACTION_FIELDS {
        if body["type"] == "TRANSACTION" {
            let v = f.split('.').fold(&body["obj"], |v, k| &v[k]);
            assert!(!v.is_null(), "signed field {f} is null in {body}");
        }
    }
}

/// Checks a response-callback redirect's signature; returns its parameters.
/// `v` read as the documented schema `T` (no undocumented field).
fn pinned<T: serde::de::DeserializeOwned>(v: &Value) -> T {
    serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("{} does not describe {v}: {e}", std::any::type_name::<T>()))
}

fn assert_signed_redirect(secret: &str, location: &str) -> Vec<(String, String)> {
    let q = location.split_once('?').expect("a query").1;
    let pairs = query_pairs(q);
    let given = param(&pairs, "hmac").to_string();
    let signed: Vec<(String, String)> =
        pairs.iter().filter(|(k, _)| k != "hmac").cloned().collect();
    assert_eq!(
        hmac::query_hmac(secret, &signed),
        given,
        "redirect HMAC of {location}"
    );
    pairs
}

struct Profile {
    id: i64,
    sk: String,
    pk: String,
    hmac: String,
    api_key: String,
    iframe: i64,
    integrations: Vec<Value>,
}

impl Profile {
    fn integration(&self, name: &str) -> i64 {
        self.integrations
            .iter()
            .find(|i| i["name"] == name)
            .unwrap_or_else(|| panic!("no integration {name}"))["id"]
            .as_i64()
            .unwrap()
    }
}

async fn profile(app: &TestApp, cb: &Receiver, extra: Value) -> Profile {
    let mut integrations = vec![
        json!({"kind": "card", "processed_callback_url": cb.url, "response_callback_url": "https://shop.example/done"}),
        json!({"kind": "card", "name": "card-plain", "three_d_secure": false, "processed_callback_url": cb.url, "response_callback_url": "https://shop.example/done"}),
        json!({"kind": "card_auth", "three_d_secure": false, "processed_callback_url": cb.url}),
        json!({"kind": "moto", "processed_callback_url": cb.url}),
        json!({"kind": "wallet", "processed_callback_url": cb.url, "response_callback_url": "https://shop.example/done"}),
        json!({"kind": "kiosk", "processed_callback_url": cb.url}),
        json!({"kind": "cash", "processed_callback_url": cb.url}),
    ];
    if let Some(more) = extra.as_array() {
        integrations.extend(more.iter().cloned());
    }
    let (s, p) = app
        .post(
            "/v1/paymob/profiles",
            json!({"name": "Nile Shop", "integrations": integrations}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let created: schemas::PmProfileObject = pinned(&p);
    assert!(
        created.secret_key.is_some() && created.hmac_secret.is_some() && created.api_key.is_some()
    );
    Profile {
        id: p["id"].as_i64().unwrap(),
        sk: p["secret_key"].as_str().unwrap().into(),
        pk: p["public_key"].as_str().unwrap().into(),
        hmac: p["hmac_secret"].as_str().unwrap().into(),
        api_key: p["api_key"].as_str().unwrap().into(),
        iframe: p["iframe_id"].as_i64().unwrap(),
        integrations: p["integrations"].as_array().unwrap().clone(),
    }
}

/// A Paymob API call: `auth` is the whole Authorization header value, if any.
async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = app.http.request(method, app.url(path));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn billing() -> Value {
    json!({"first_name": "Mona", "last_name": "Adel", "email": "mona@example.com",
           "phone_number": "+201001234567"})
}

async fn intention(app: &TestApp, p: &Profile, body: Value) -> Value {
    let (s, i) = call(
        app,
        reqwest::Method::POST,
        "/v1/intention/",
        Some(&format!("Token {}", p.sk)),
        Some(body),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{i}");
    i
}

fn card(number: &str, cvn: &str) -> Value {
    json!({"subtype": "CARD", "identifier": number, "sourceholder_name": "Test Account",
           "expiry_month": "01", "expiry_year": "39", "cvn": cvn})
}

async fn pay(app: &TestApp, token: &str, source: Value) -> (StatusCode, Value) {
    call(
        app,
        reqwest::Method::POST,
        "/api/acceptance/payments/pay",
        None,
        Some(json!({"source": source, "payment_token": token})),
    )
    .await
}

/// Answers the 3-D Secure (or wallet) page; returns where the customer is sent.
async fn answer_page(app: &TestApp, url: &str, form: &[(&str, &str)]) -> String {
    let r = app.http.post(url).form(form).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303, "{url}");
    r.headers()["location"].to_str().unwrap().to_string()
}

fn key_for(i: &Value, integration: i64) -> String {
    i["payment_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["integration"] == integration)
        .unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string()
}

// ---- scenarios ----

async fn intentions_validate_like_paymob(app: &TestApp) {
    let cb = callback_receiver().await;
    let p = profile(app, &cb, json!([])).await;
    let card_id = p.integration("card");
    let good = json!({"amount": 10000, "currency": "EGP", "payment_methods": [card_id, "wallet"],
        "items": [{"name": "Mug", "amount": 10000, "quantity": 1}], "billing_data": billing(),
        "special_reference": "order-77", "extras": {"cart": 9}});
    let post = |auth: Option<String>, body: Value| {
        let auth = auth.clone();
        async move {
            call(
                app,
                reqwest::Method::POST,
                "/v1/intention/",
                auth.as_deref(),
                Some(body),
            )
            .await
        }
    };
    let (s, b) = post(None, good.clone()).await;
    assert_eq!(
        (s, b),
        (
            StatusCode::UNAUTHORIZED,
            json!({"detail": "Authentication credentials were not provided."})
        )
    );
    let (s, _) = post(Some(format!("Token {}_x", p.sk)), good.clone()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let mut b = good.clone();
    b.as_object_mut().unwrap().remove("amount");
    let (s, e) = post(Some(format!("Token {}", p.sk)), b).await;
    assert_eq!(
        (s, e),
        (
            StatusCode::BAD_REQUEST,
            json!({"amount": ["This field is required."]})
        )
    );
    let mut b = good.clone();
    b["billing_data"]["phone_number"] = json!("");
    let (s, e) = post(Some(format!("Bearer {}", p.sk)), b).await;
    assert_eq!(
        (s, e),
        (
            StatusCode::BAD_REQUEST,
            json!({"billing_data": {"phone_number": ["This field may not be blank."]}})
        )
    );
    let mut b = good.clone();
    b["payment_methods"] = json!([999]);
    let (s, e) = post(Some(format!("Token {}", p.sk)), b).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(e["detail"]
        .as_str()
        .unwrap()
        .starts_with("Integration ID/Name does not exist"));
    let mut b = good.clone();
    b["amount"] = json!(12000);
    let (s, _) = post(Some(format!("Token {}", p.sk)), b).await;
    assert_eq!(s, StatusCode::NOT_ACCEPTABLE, "unmatched_item_prices");

    let i = intention(app, &p, good.clone()).await;
    assert_eq!(i["status"], "intended");
    assert_eq!(i["object"], "paymentintention");
    assert!(i["id"].as_str().unwrap().starts_with("pi_test_"));
    assert!(i["client_secret"]
        .as_str()
        .unwrap()
        .starts_with("egy_csk_test_"));
    assert_eq!(i["payment_keys"].as_array().unwrap().len(), 2);
    assert!(i["payment_keys"][0]["key"]
        .as_str()
        .unwrap()
        .starts_with("ZXlK"));
    assert_eq!(
        i["intention_detail"]["billing_data"]
            .as_object()
            .unwrap()
            .len(),
        13
    );
    assert_eq!(
        i["extras"]["creation_extras"]["merchant_order_id"],
        "order-77"
    );
    // special_reference is unique.
    let (s, e) = post(Some(format!("Token {}", p.sk)), good.clone()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");

    // The public element Pixel reads: keys by method name.
    let cs = i["client_secret"].as_str().unwrap();
    let (s, el) = call(
        app,
        reqwest::Method::GET,
        &format!("/v1/intention/element/{}/{cs}/", p.pk),
        None,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(el["payment_keys"]["card"]
        .as_str()
        .unwrap()
        .starts_with("ZXlK"));
    assert!(el["payment_keys"]["wallet"].is_string());
    assert_eq!(el["intention_detail"]["amount"], 10000);
    assert_eq!(el["paid"], false);
    assert_eq!(el["merchant_name"], "Nile Shop");
    let (s, _) = call(
        app,
        reqwest::Method::GET,
        &format!("/v1/intention/element/{}x/{cs}/", p.pk),
        None,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Update: accept_order_id required; the amount and keys change.
    let path = format!("/v1/intention/{cs}");
    let (s, e) = call(
        app,
        reqwest::Method::PUT,
        &path,
        Some(&format!("Token {}", p.sk)),
        Some(json!({"amount": 5000, "items": []})),
    )
    .await;
    assert_eq!(
        (s, e),
        (
            StatusCode::BAD_REQUEST,
            json!({"accept_order_id": ["This field is required."]})
        )
    );
    let (s, u) = call(
        app,
        reqwest::Method::PUT,
        &path,
        Some(&format!("Token {}", p.sk)),
        Some(json!({"accept_order_id": i["intention_order_id"], "amount": 5000, "items": []})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["intention_detail"]["amount"], 5000);
    // A key from before the update no longer pays.
    let (s, e) = pay(app, &key_for(&i, card_id), card("5123456789012346", "123")).await;
    assert_eq!(
        (s, e),
        (StatusCode::BAD_REQUEST, json!({"message": "Session Error"}))
    );
}

async fn card_with_3ds_signs_callbacks_and_redirect(app: &TestApp) {
    let cb = callback_receiver().await;
    let p = profile(app, &cb, json!([])).await;
    let card_id = p.integration("card");
    let i = intention(
        app,
        &p,
        json!({"amount": 25050, "currency": "EGP", "payment_methods": ["card"],
        "billing_data": billing(), "special_reference": "inv-1", "extras": {"basket": "b1"}}),
    )
    .await;
    let key = key_for(&i, card_id);
    let (s, r) = pay(app, &key, card("5123456789012346", "123")).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    // String booleans, pending on the 3-D Secure page.
    assert_eq!(
        (
            r["pending"].clone(),
            r["success"].clone(),
            r["is_3d_secure"].clone()
        ),
        (json!("true"), json!("false"), json!("true"))
    );
    let acs = r["redirect_url"].as_str().unwrap().to_string();
    assert!(acs.contains("/api/acceptance/challenge/"), "{acs}");
    let page = app
        .http
        .get(&acs)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        // The amount as CLDR writes it in English (no Accept-Language: English).
        page.contains("EGP\u{a0}250.50") && page.contains("2346"),
        "{page}"
    );
    assert!(!page.contains("5123456789012346"));
    // A wrong signature is not the customer's page.
    let (s, _) = call(
        app,
        reqwest::Method::GET,
        &format!("{}0", acs.trim_start_matches(&app.base)),
        None,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let location = answer_page(app, &acs, &[("action", "approve")]).await;
    assert!(
        location.starts_with("https://shop.example/done?"),
        "{location}"
    );
    let q = assert_signed_redirect(&p.hmac, &location);
    assert_eq!(param(&q, "success"), "true");
    assert_eq!(param(&q, "order"), i["intention_order_id"].to_string());
    assert_eq!(param(&q, "merchant_order_id"), "inv-1");
    assert_eq!(param(&q, "source_data.pan"), "2346");
    assert_eq!(param(&q, "source_data.sub_type"), "MasterCard");
    assert_eq!(param(&q, "txn_response_code"), "APPROVED");

    let c = cb
        .wait_callback("the payment", |b| b["obj"]["success"] == true)
        .await;
    assert_signed(&p.hmac, &c);
    let obj = &c.1["obj"];
    assert_eq!(c.1["type"], "TRANSACTION");
    assert_eq!(obj["order"]["id"], i["intention_order_id"]);
    assert_eq!(obj["order"]["merchant_order_id"], "inv-1");
    assert_eq!(obj["payment_key_claims"]["extra"], json!({"basket": "b1"}));
    assert_eq!(obj["payment_key_claims"]["next_payment_intention"], i["id"]);
    assert_eq!(obj["owner"], p.id);
    assert_eq!(obj["is_3d_secure"], true);
    assert_eq!(obj["amount_cents"], 25050);
    // Nothing with the card number was stored or sent.
    assert!(!c.1.to_string().contains("5123456789012346"));

    // Paid: the intention says so and cannot be paid twice.
    let cs = i["client_secret"].as_str().unwrap();
    let (_, el) = call(
        app,
        reqwest::Method::GET,
        &format!("/v1/intention/element/{}/{cs}/", p.pk),
        None,
        None,
    )
    .await;
    assert_eq!(el["paid"], true);
    let (s, e) = pay(app, &key, card("5123456789012346", "123")).await;
    assert_eq!(
        (s, e),
        (
            StatusCode::BAD_REQUEST,
            json!({"message": "Order has already been paid."})
        )
    );

    // Inquiry by merchant order id, retrieval and the HMAC helper agree with the callback.
    let auth = format!("Token {}", p.sk);
    let (s, t) = call(
        app,
        reqwest::Method::POST,
        "/api/ecommerce/orders/transaction_inquiry",
        Some(&auth),
        Some(json!({"merchant_order_id": "inv-1"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t["id"], obj["id"]);
    let (_, calc) = call(
        app,
        reqwest::Method::GET,
        &format!("/api/acceptance/transactions/{}/hmac_calc", obj["id"]),
        Some(&auth),
        None,
    )
    .await;
    assert_eq!(
        calc["hmac"].as_str().unwrap(),
        hmac::transaction_hmac(&p.hmac, obj)
    );
    assert_eq!(
        calc["hmac_string"].as_str().unwrap(),
        hmac::transaction_message(obj)
    );
}

async fn declines_wallet_kiosk_and_cash(app: &TestApp) {
    let cb = callback_receiver().await;
    let p = profile(app, &cb, json!([])).await;
    let plain = p.integration("card-plain");
    let (wallet, kiosk, cash) = (
        p.integration("wallet"),
        p.integration("kiosk"),
        p.integration("cash"),
    );
    let i = intention(
        app,
        &p,
        json!({"amount": 5000, "currency": "EGP",
        "payment_methods": [plain, wallet, kiosk, cash], "billing_data": billing()}),
    )
    .await;

    // A declined card: final, signed, and the order stays payable.
    let (_, r) = pay(app, &key_for(&i, plain), card("4000000000000002", "123")).await;
    assert_eq!(
        (r["success"].clone(), r["pending"].clone()),
        (json!("false"), json!("false"))
    );
    let q = assert_signed_redirect(&p.hmac, r["redirection_url"].as_str().unwrap());
    assert_eq!(param(&q, "success"), "false");
    let c = cb
        .wait_callback("the decline", |b| {
            b["obj"]["success"] == false && b["obj"]["pending"] == false
        })
        .await;
    assert_signed(&p.hmac, &c);
    assert_eq!(c.1["obj"]["data"]["txn_response_code"], "DECLINED");
    // Security code 222: insufficient funds.
    let (_, r) = pay(app, &key_for(&i, plain), card("4111111111111111", "222")).await;
    assert_eq!(r["data"]["txn_response_code"], "INSUFFICIENT_FUNDS");

    // Wallet: MPIN and one-time code on the wallet page.
    let (_, r) = pay(
        app,
        &key_for(&i, wallet),
        json!({"subtype": "WALLET", "identifier": "01010101010"}),
    )
    .await;
    assert_eq!(r["pending"], "true");
    let wp = r["redirect_url"].as_str().unwrap().to_string();
    let loc = answer_page(
        app,
        &wp,
        &[("action", "approve"), ("mpin", "123456"), ("otp", "654321")],
    )
    .await;
    assert_eq!(
        param(&assert_signed_redirect(&p.hmac, &loc), "success"),
        "false",
        "a wrong code declines"
    );
    let (_, r) = pay(
        app,
        &key_for(&i, wallet),
        json!({"subtype": "WALLET", "identifier": "01010101010"}),
    )
    .await;
    let loc = answer_page(
        app,
        r["redirect_url"].as_str().unwrap(),
        &[("action", "approve"), ("mpin", "123456"), ("otp", "123456")],
    )
    .await;
    let q = assert_signed_redirect(&p.hmac, &loc);
    assert_eq!(
        (param(&q, "success"), param(&q, "source_data.type")),
        ("true", "wallet")
    );
    let c = cb
        .wait_callback("the wallet payment", |b| {
            b["obj"]["success"] == true && b["obj"]["source_data"]["type"] == "wallet"
        })
        .await;
    assert_signed(&p.hmac, &c);
    assert!(
        !c.1.to_string().contains("01010101010"),
        "the wallet number is not sent in full"
    );

    // Kiosk and cash: pending with a bill reference until the sandbox settles them (a new
    // intention: the first one is paid).
    let i = intention(app, &p, json!({"amount": 7000, "currency": "EGP", "payment_methods": [kiosk, cash], "billing_data": billing()})).await;
    let (_, r) = pay(
        app,
        &key_for(&i, kiosk),
        json!({"subtype": "AGGREGATOR", "identifier": "AGGREGATOR"}),
    )
    .await;
    assert_eq!(r["pending"], "true");
    let reference = r["data"]["bill_reference"].as_str().unwrap().to_string();
    assert!(!reference.is_empty());
    let c = cb
        .wait_callback("the kiosk reference", |b| {
            b["obj"]["data"]["bill_reference"] == reference.as_str() && b["obj"]["pending"] == true
        })
        .await;
    assert_signed(&p.hmac, &c);
    assert_eq!(
        c.1["obj"]["source_data"],
        json!({"type": "aggregator", "sub_type": "AGGREGATOR", "pan": ""})
    );
    let id = r["id"].as_i64().unwrap();
    let (s, t) = app
        .post(
            &format!("/v1/paymob/transactions/{id}/sandbox_settle"),
            json!({"paid": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["success"], true);
    pinned::<schemas::PmTransactionObject>(&t);
    let c = cb
        .wait_callback("the kiosk payment", |b| {
            b["obj"]["id"] == id && b["obj"]["success"] == true
        })
        .await;
    assert_signed(&p.hmac, &c);
    // Settling again is refused.
    let (s, _) = app
        .post(
            &format!("/v1/paymob/transactions/{id}/sandbox_settle"),
            json!({"paid": true}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // The order is paid: the cash key cannot pay it again.
    let (s, _) = pay(
        app,
        &key_for(&i, cash),
        json!({"subtype": "CASH", "identifier": "cash"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // A card source on a wallet integration is refused before anything is charged.
    let i = intention(app, &p, json!({"amount": 100, "currency": "EGP", "payment_methods": [wallet], "billing_data": billing()})).await;
    let (s, _) = pay(app, &key_for(&i, wallet), card("4111111111111111", "123")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

/// A kiosk reference nobody pays is payable for 48 hours (Paymob's window, kept by the core):
/// then the scheduler declines it as expired, the merchant gets the failed callback, a late
/// settlement is refused, and the order can be paid again another way.
async fn an_unpaid_kiosk_reference_expires_after_48_hours(app: &TestApp) {
    let cb = callback_receiver().await;
    let p = profile(app, &cb, json!([])).await;
    let (kiosk, cash) = (p.integration("kiosk"), p.integration("cash"));
    let i = intention(app, &p, json!({"amount": 4000, "currency": "EGP", "payment_methods": [kiosk, cash], "billing_data": billing()})).await;
    let (_, r) = pay(
        app,
        &key_for(&i, kiosk),
        json!({"subtype": "AGGREGATOR", "identifier": "AGGREGATOR"}),
    )
    .await;
    assert_eq!(r["pending"], "true", "{r}");
    let id = r["id"].as_i64().unwrap();
    // The reference's printed expiry is the payment's own deadline, 48 hours on.
    let intent_id = app
        .svc
        .store
        .pm_transaction(id)
        .await
        .unwrap()
        .unwrap()
        .intent_id
        .unwrap();
    let pi = app
        .svc
        .payments()
        .intent(&app.scope(), &intent_id)
        .await
        .unwrap();
    let deadline = pi.pay_before.expect("a payment deadline");
    assert!(
        (deadline - pi.updated - 48 * 3_600_000).abs() < 1_000,
        "{deadline}"
    );
    assert_eq!(
        app.svc
            .payments()
            .expire_offline_payments(50)
            .await
            .unwrap(),
        0,
        "not yet"
    );

    // The deadline passes.
    let mut tx = app.svc.store.begin().await.unwrap();
    let mut held = tx.intent(&app.scope(), &intent_id).await.unwrap().unwrap();
    held.pay_before = Some(1);
    tx.update_intent(&mut held).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        app.svc
            .payments()
            .expire_offline_payments(50)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        app.svc
            .payments()
            .expire_offline_payments(50)
            .await
            .unwrap(),
        0,
        "once"
    );
    let c = cb
        .wait_callback("the expired reference's callback", |b| {
            b["obj"]["id"] == id && b["obj"]["pending"] == false
        })
        .await;
    assert_signed(&p.hmac, &c);
    assert_eq!(c.1["obj"]["success"], false, "{}", c.1);
    let (_, now) = app.get(&format!("/v1/payment_intents/{intent_id}")).await;
    assert_eq!(
        (&now["status"], &now["last_payment_error"]["code"]),
        (&json!("requires_payment_method"), &json!("voucher_expired")),
        "{now}"
    );
    let (s, _) = app
        .post(
            &format!("/v1/paymob/transactions/{id}/sandbox_settle"),
            json!({"paid": true}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a late settlement is refused");
    // The order can still be paid, another way.
    let (s, r) = pay(
        app,
        &key_for(&i, cash),
        json!({"subtype": "CASH", "identifier": "cash"}),
    )
    .await;
    assert_eq!((s, &r["pending"]), (StatusCode::OK, &json!("true")), "{r}");
}

async fn refund_void_and_capture_follow_the_rules(app: &TestApp) {
    let cb = callback_receiver().await;
    let p = profile(app, &cb, json!([])).await;
    let plain = p.integration("card-plain");
    let auth_id = p.integration("card-auth");
    let sk = format!("Token {}", p.sk);
    let i = intention(app, &p, json!({"amount": 10000, "currency": "EGP", "payment_methods": [plain], "billing_data": billing()})).await;
    let (_, r) = pay(app, &key_for(&i, plain), card("4111111111111111", "123")).await;
    assert_eq!(r["success"], "true");
    let txn = r["id"].as_i64().unwrap();

    let refund = |body: Value| {
        call(
            app,
            reqwest::Method::POST,
            "/api/acceptance/void_refund/refund",
            Some(&sk),
            Some(body),
        )
    };
    let (s, child) = refund(json!({"transaction_id": txn, "amount_cents": 3000})).await;
    assert_eq!(s, StatusCode::OK, "{child}");
    assert_eq!(
        (
            child["is_refund"].clone(),
            child["parent_transaction"].clone(),
            child["amount_cents"].clone()
        ),
        (json!(true), json!(txn), json!(3000))
    );
    let c = cb
        .wait_callback("the refund", |b| b["obj"]["is_refund"] == true)
        .await;
    assert_signed(&p.hmac, &c);
    let (s, e) = refund(json!({"transaction_id": txn, "amount_cents": 7001})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (s, _) = refund(json!({"transaction_id": txn, "amount_cents": "7000"})).await;
    assert_eq!(s, StatusCode::OK, "numbers as strings");
    let (_, parent) = call(
        app,
        reqwest::Method::GET,
        &format!("/api/acceptance/transactions/{txn}"),
        Some(&sk),
        None,
    )
    .await;
    assert_eq!(
        (
            parent["is_refunded"].clone(),
            parent["refunded_amount_cents"].clone()
        ),
        (json!(true), json!(10000))
    );
    // Fully refunded: a void has nothing left to give back.
    let (s, _) = call(
        app,
        reqwest::Method::POST,
        "/api/acceptance/void_refund/void",
        Some(&sk),
        Some(json!({"transaction_id": txn})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Same-day void of a captured sale.
    let i = intention(app, &p, json!({"amount": 4000, "currency": "EGP", "payment_methods": [plain], "billing_data": billing()})).await;
    let (_, r) = pay(app, &key_for(&i, plain), card("4111111111111111", "123")).await;
    let txn = r["id"].as_i64().unwrap();
    let (s, v) = call(
        app,
        reqwest::Method::POST,
        "/api/acceptance/void_refund/void",
        Some(&sk),
        Some(json!({"transaction_id": txn})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["is_void"].clone(), v["amount_cents"].clone()),
        (json!(true), json!(4000))
    );
    let c = cb
        .wait_callback("the void", |b| {
            b["obj"]["is_void"] == true && b["obj"]["parent_transaction"] == txn
        })
        .await;
    assert_signed(&p.hmac, &c);

    // Authorise, capture at most the authorised amount, once.
    let i = intention(app, &p, json!({"amount": 9000, "currency": "EGP", "payment_methods": [auth_id], "billing_data": billing()})).await;
    let (_, r) = pay(app, &key_for(&i, auth_id), card("5123450000000008", "123")).await;
    assert_eq!(
        (r["success"].clone(), r["is_auth"].clone()),
        (json!("true"), json!("true"))
    );
    let txn = r["id"].as_i64().unwrap();
    let capture = |body: Value| {
        call(
            app,
            reqwest::Method::POST,
            "/api/acceptance/capture",
            Some(&sk),
            Some(body),
        )
    };
    let (s, _) = refund(json!({"transaction_id": txn, "amount_cents": 100})).await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "an uncaptured authorisation is voided, not refunded"
    );
    let (s, _) = capture(json!({"transaction_id": txn, "amount_cents": 9001})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, c) = capture(json!({"transaction_id": txn, "amount_cents": 8000})).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(
        (c["is_capture"].clone(), c["amount_cents"].clone()),
        (json!(true), json!(8000))
    );
    let (s, _) = capture(json!({"transaction_id": txn, "amount_cents": 1000})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, r2) = refund(json!({"transaction_id": txn, "amount_cents": 8000})).await;
    assert_eq!(s, StatusCode::OK, "{r2}");

    // An authorisation left uncaptured is voided by itself after 14 days (the core's capture
    // window, which Paymob sets to 14 days for its payments).
    let i = intention(app, &p, json!({"amount": 1500, "currency": "EGP", "payment_methods": [auth_id], "billing_data": billing()})).await;
    let (_, r) = pay(app, &key_for(&i, auth_id), card("5123450000000008", "123")).await;
    let txn = r["id"].as_i64().unwrap();
    let t = app.svc.store.pm_transaction(txn).await.unwrap().unwrap();
    let intent_id = t.intent_id.clone().expect("the transaction's payment");
    let pi = app
        .svc
        .payments()
        .intent(&app.scope(), &intent_id)
        .await
        .unwrap();
    let due = pi.capture_before.expect("a capture deadline");
    assert!((due - t.created_at - 14 * 86_400_000).abs() < 5_000);
    assert_eq!(
        app.svc.payments().expire_authorizations(50).await.unwrap(),
        0,
        "not yet"
    );
    let mut tx = app.svc.store.begin().await.unwrap();
    let mut cur = tx.intent(&app.scope(), &intent_id).await.unwrap().unwrap();
    cur.capture_before = Some(1);
    tx.update_intent(&mut cur).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        app.svc.payments().expire_authorizations(50).await.unwrap(),
        1
    );
    let pi = app
        .svc
        .payments()
        .intent(&app.scope(), &intent_id)
        .await
        .unwrap();
    assert_eq!(
        (pi.status.as_str(), pi.cancellation_reason.as_deref()),
        ("canceled", Some("automatic"))
    );
    let c = cb
        .wait_callback("the auto-void", |b| {
            b["obj"]["is_void"] == true && b["obj"]["parent_transaction"] == txn
        })
        .await;
    assert_signed(&p.hmac, &c);
    let (s, _) = capture(json!({"transaction_id": txn, "amount_cents": 100})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // A void is the refund's kind, set only by Paymob's void command: a native refund whose
    // metadata carries the old marker is a refund to Paymob's merchant too.
    let i = intention(app, &p, json!({"amount": 5000, "currency": "EGP", "payment_methods": [plain], "billing_data": billing()})).await;
    let (_, r) = pay(app, &key_for(&i, plain), card("4111111111111111", "123")).await;
    let txn = r["id"].as_i64().unwrap();
    let pi = app
        .svc
        .store
        .pm_transaction(txn)
        .await
        .unwrap()
        .unwrap()
        .intent_id
        .expect("the transaction's payment");
    let (s, refund) = app
        .post(
            "/v1/refunds",
            json!({"payment_intent": pi, "amount": 5000, "metadata": {"paymob_void": "1"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{refund}");
    let c = cb
        .wait_callback("the native refund's callback", |b| {
            b["obj"]["parent_transaction"] == txn
        })
        .await;
    assert_signed(&p.hmac, &c);
    assert_eq!(
        (
            c.1["obj"]["is_refund"].clone(),
            c.1["obj"]["is_void"].clone()
        ),
        (json!(true), json!(false)),
        "{}",
        c.1
    );
    let (_, parent) = call(
        app,
        reqwest::Method::GET,
        &format!("/api/acceptance/transactions/{txn}"),
        Some(&sk),
        None,
    )
    .await;
    assert_eq!(
        (parent["is_refunded"].clone(), parent["is_voided"].clone()),
        (json!(true), json!(false)),
        "{parent}"
    );
}

async fn legacy_flow_takes_every_credential_carrier(app: &TestApp) {
    let cb = callback_receiver().await;
    let p = profile(app, &cb, json!([])).await;
    let plain = p.integration("card-plain");
    let (s, e) = call(
        app,
        reqwest::Method::POST,
        "/api/auth/tokens",
        None,
        Some(json!({"api_key": "ZXlKbm9wZQ=="})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    let (s, t) = call(
        app,
        reqwest::Method::POST,
        "/api/auth/tokens",
        None,
        Some(json!({"api_key": p.api_key})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let token = t["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("ZXlK"));
    assert_eq!(t["profile"]["id"], p.id);

    // Order: amounts as strings, the token in the body.
    let (s, o) = call(app, reqwest::Method::POST, "/api/ecommerce/orders", None, Some(json!({"auth_token": token,
        "delivery_needed": "false", "amount_cents": "15000", "currency": "EGP", "merchant_order_id": 5531,
        "items": [{"name": "Tea", "amount_cents": "15000", "description": "Green", "quantity": "1"}]}))).await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    assert_eq!(
        (o["amount_cents"].clone(), o["merchant_order_id"].clone()),
        (json!(15000), json!("5531"))
    );
    let (s, d) = call(
        app,
        reqwest::Method::POST,
        "/api/ecommerce/orders",
        Some(&format!("Bearer {token}")),
        Some(json!({"amount_cents": 100, "merchant_order_id": "5531"})),
    )
    .await;
    assert_eq!(
        (s, d),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": "duplicate"})
        )
    );

    // Payment key: every billing field required; the token as a raw header.
    let full_billing = json!({"apartment": "NA", "email": "mona@example.com", "floor": "NA", "first_name": "Mona",
        "street": "NA", "building": "NA", "phone_number": "+201001234567", "shipping_method": "NA",
        "postal_code": "NA", "city": "Cairo", "country": "EG", "last_name": "Adel", "state": "NA"});
    let mut partial = full_billing.clone();
    partial.as_object_mut().unwrap().remove("floor");
    let body = |b: Value| {
        json!({"amount_cents": "15000", "expiration": 3600, "order_id": o["id"], "billing_data": b,
        "currency": "EGP", "integration_id": plain.to_string(), "lock_order_when_paid": "false"})
    };
    let (s, e) = call(
        app,
        reqwest::Method::POST,
        "/api/acceptance/payment_keys",
        Some(&token),
        Some(body(partial)),
    )
    .await;
    assert_eq!(
        (s, e),
        (
            StatusCode::BAD_REQUEST,
            json!({"billing_data": {"floor": ["This field is required."]}})
        )
    );
    let (s, k) = call(
        app,
        reqwest::Method::POST,
        &format!("/api/acceptance/payment_keys?token={token}"),
        None,
        Some(body(full_billing.clone())),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let key = k["token"].as_str().unwrap().to_string();
    // Not without a credential, and not with someone else's.
    let (s, _) = call(
        app,
        reqwest::Method::POST,
        "/api/acceptance/payment_keys",
        None,
        Some(body(full_billing.clone())),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // The iframe page and its data.
    let r = app
        .http
        .get(app.url(&format!(
            "/api/acceptance/iframes/{}?payment_token={key}",
            p.iframe
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    let (s, info) = call(
        app,
        reqwest::Method::GET,
        &format!(
            "/api/acceptance/iframes/{}/info?payment_token={key}",
            p.iframe
        ),
        None,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{info}");
    assert_eq!(info["intention_detail"]["amount"], 15000);
    assert_eq!(info["payment_methods"][0]["subtype"], "CARD");
    let (s, _) = call(
        app,
        reqwest::Method::GET,
        &format!(
            "/api/acceptance/iframes/{}/info?payment_token={key}",
            p.iframe + 1
        ),
        None,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, r) = pay(app, &key, card("4111111111111111", "123")).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["success"], "true");
    assert_eq!(r["order"]["merchant_order_id"], "5531");
    // A tampered payment key is refused.
    let mut bad = key.clone();
    bad.replace_range(20..21, if &key[20..21] == "A" { "B" } else { "A" });
    let (s, _) = pay(app, &bad, card("4111111111111111", "123")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Retrieval with the token as Bearer; inquiry by order id.
    let (s, t) = call(
        app,
        reqwest::Method::GET,
        &format!("/api/acceptance/transactions/{}", r["id"]),
        Some(&format!("Bearer {token}")),
        None,
    )
    .await;
    assert_eq!((s, t["success"].clone()), (StatusCode::OK, json!(true)));
    let (s, t) = call(
        app,
        reqwest::Method::POST,
        "/api/ecommerce/orders/transaction_inquiry",
        None,
        Some(json!({"auth_token": token, "order_id": o["id"]})),
    )
    .await;
    assert_eq!((s, t["id"].clone()), (StatusCode::OK, r["id"].clone()));
}

async fn saved_cards_pay_without_the_customer(app: &TestApp) {
    let cb = callback_receiver().await;
    let p = profile(app, &cb, json!([])).await;
    let plain = p.integration("card-plain");
    let moto = p.integration("moto");
    let i = intention(app, &p, json!({"amount": 2000, "currency": "EGP", "payment_methods": [plain], "billing_data": billing()})).await;
    let mut src = card("5123456789012346", "123");
    src["save_card"] = json!(true);
    let (_, r) = pay(app, &key_for(&i, plain), src).await;
    assert_eq!(r["success"], "true");
    let t = cb
        .wait_callback("the token", |b| b["type"] == "TOKEN")
        .await;
    assert_signed(&p.hmac, &t);
    let tok = &t.1["obj"];
    assert_eq!(tok["masked_pan"], "xxxx-xxxx-xxxx-2346");
    assert_eq!(tok["order_id"], i["intention_order_id"].to_string());
    let token = tok["token"].as_str().unwrap().to_string();
    // The token is not stored in the clear.
    let row = app
        .svc
        .store
        .pm_card_token(tok["id"].as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!row.token_enc.contains(&token) && !row.obj.contains(&token));
    // Nor in the outbox that delivered its callback.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    let bodies: Vec<String> = sqlx::query_scalar(
        "SELECT request_body FROM deliveries WHERE channel = 'paymob' AND request_body IS NOT NULL",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert!(bodies.len() >= 2, "{bodies:?}");
    assert!(bodies.iter().all(|b| !b.contains(&token)));

    // MIT: an intention on the MOTO integration, paid with the token.
    let i = intention(app, &p, json!({"amount": 3300, "currency": "EGP", "payment_methods": [moto], "billing_data": billing()})).await;
    let (s, r) = pay(
        app,
        &key_for(&i, moto),
        json!({"subtype": "TOKEN", "identifier": token}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (r["success"].clone(), r["is_3d_secure"].clone()),
        (json!("true"), json!("false"))
    );
    let (s, _) = pay(
        app,
        &key_for(&i, moto),
        json!({"subtype": "TOKEN", "identifier": "0".repeat(56)}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // CIT: the element lists the saved card.
    let i = intention(app, &p, json!({"amount": 100, "currency": "EGP", "payment_methods": [plain], "billing_data": billing(), "card_tokens": [token]})).await;
    let (_, el) = call(
        app,
        reqwest::Method::GET,
        &format!(
            "/v1/intention/element/{}/{}/",
            p.pk,
            i["client_secret"].as_str().unwrap()
        ),
        None,
        None,
    )
    .await;
    assert_eq!(el["card_tokens"][0]["masked_pan"], "xxxx-xxxx-xxxx-2346");
}

async fn callbacks_retry_identically_and_resend(app: &TestApp) {
    let cb = callback_receiver().await;
    let p = profile(app, &cb, json!([])).await;
    let plain = p.integration("card-plain");
    cb.fail_next_with(2, Answer::new(503, ""));
    let i = intention(app, &p, json!({"amount": 800, "currency": "EGP", "payment_methods": [plain], "billing_data": billing()})).await;
    let (_, r) = pay(app, &key_for(&i, plain), card("4111111111111111", "123")).await;
    let id = r["id"].clone();
    let of_payment = |g: &[common::Received]| {
        g.iter()
            .filter(|r| r.json_or_null()["obj"]["id"] == id)
            .count()
    };
    cb.wait_for("three callbacks", |g| of_payment(g) >= 3).await;
    app.settled().await;
    let got: Vec<_> = cb
        .callbacks()
        .into_iter()
        .filter(|(_, b)| b["obj"]["id"] == id)
        .collect();
    assert_eq!(got.len(), 3, "two failures then success");
    assert!(
        got.windows(2).all(|w| w[0] == w[1]),
        "every retry is identical"
    );
    assert_signed(&p.hmac, &got[0]);

    // The native event behind it, resent by hand to the profile.
    let id_text = id.to_string();
    let (_, events) = app.get("/v1/events?limit=100").await;
    let ev = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["type"] == "payment_intent.succeeded"
                && e["data"]["object"]["metadata"]["paymob_transaction"] == id_text.as_str()
        })
        .expect("a native event for the payment")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, d) = app
        .post(
            &format!("/v1/events/{ev}/resend"),
            json!({"webhook_endpoint": format!("pmp_{}", p.id)}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    cb.wait_for("the resent callback", |g| of_payment(g) >= 4)
        .await;
    app.drained().await;
    assert_eq!(
        cb.callbacks()
            .iter()
            .filter(|(_, b)| b["obj"]["id"] == id)
            .count(),
        4
    );
}

/// The subscription callbacks of `sub` received so far, by trigger, in order.
fn sub_triggers(cb: &Receiver, sub: i64) -> Vec<String> {
    cb.callbacks()
        .iter()
        .filter(|(_, b)| b["subscription_data"]["id"] == sub)
        .map(|(_, b)| b["trigger_type"].as_str().unwrap().to_string())
        .collect()
}

/// Waits until `sub` has had `n` callbacks and the outbox is drained; checks each one's HMAC;
/// returns their triggers.
async fn sub_callbacks(
    app: &TestApp,
    cb: &Receiver,
    p: &Profile,
    sub: i64,
    n: usize,
) -> Vec<String> {
    cb.wait_for(&format!("{n} callbacks of subscription {sub}"), |g| {
        g.iter()
            .filter(|r| r.json_or_null()["subscription_data"]["id"] == sub)
            .count()
            >= n
    })
    .await;
    app.drained().await;
    for (_, b) in cb
        .callbacks()
        .iter()
        .filter(|(_, b)| b["subscription_data"]["id"] == sub)
    {
        let trigger = b["trigger_type"].as_str().unwrap();
        assert_eq!(b["hmac"], hmac::subscription_hmac(&p.hmac, trigger, sub));
    }
    let got = sub_triggers(cb, sub);
    assert_eq!(got.len(), n, "{got:?}");
    got
}

/// Pays an intention's first payment with `number` (through 3-D Secure when asked); returns
/// the new subscription's id.
async fn subscribe(app: &TestApp, cb: &Receiver, p: &Profile, plan: &Value, number: &str) -> i64 {
    let card_id = p.integration("card");
    let i = intention(
        app,
        p,
        json!({"amount": plan["amount_cents"], "currency": "EGP", "payment_methods": [card_id],
        "billing_data": billing(), "subscription_plan_id": plan["id"]}),
    )
    .await;
    let (_, r) = pay(app, &key_for(&i, card_id), card(number, "123")).await;
    if let Some(url) = r["redirect_url"].as_str().filter(|u| !u.is_empty()) {
        answer_page(app, url, &[("action", "approve")]).await;
    }
    let (_, created) = cb
        .wait_callback("the subscription", |b| {
            b["trigger_type"] == "created"
                && b["subscription_data"]["initial_transaction"] == r["id"]
        })
        .await;
    assert_eq!(created["subscription_data"]["state"], "active");
    created["subscription_data"]["id"].as_i64().unwrap()
}

async fn advance(app: &TestApp, sub: i64, seconds: i64) -> Value {
    let (s, clock) = app
        .post(
            &format!("/v1/paymob/subscriptions/{sub}/advance_clock"),
            json!({"seconds": seconds}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{clock}");
    pinned::<schemas::PmSubscriptionObject>(&clock);
    clock
}

async fn subscriptions_renew_on_the_test_clock(app: &TestApp) {
    let cb = callback_receiver().await;
    let p = profile(app, &cb, json!([])).await;
    let card_id = p.integration("card");
    let moto = p.integration("moto");
    let sk = format!("Token {}", p.sk);
    let (s, e) = call(app, reqwest::Method::POST, "/api/acceptance/subscription-plans", Some(&sk),
        Some(json!({"frequency": 30, "name": "Monthly", "amount_cents": 5000, "integration": card_id}))).await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "a plan needs a MOTO integration: {e}"
    );
    // Three payments in all: the first and two renewals, then it ends by itself.
    let (s, plan) = call(app, reqwest::Method::POST, "/api/acceptance/subscription-plans", Some(&sk),
        Some(json!({"frequency": 30, "name": "Monthly", "reminder_days": 3, "retrial_days": 1, "plan_type": "rent",
            "number_of_deductions": 3, "amount_cents": 5000, "use_transaction_amount": false, "is_active": true,
            "integration": moto, "webhook_url": cb.url}))).await;
    assert_eq!(s, StatusCode::CREATED, "{plan}");
    let sub = subscribe(app, &cb, &p, &plan, "5123456789012346").await;
    let get = |path: String| {
        let sk = sk.clone();
        async move {
            call(app, reqwest::Method::GET, &path, Some(&sk), None)
                .await
                .1
        }
    };
    let first = get(format!("/api/acceptance/subscriptions/{sub}")).await;
    assert!(first["ends_at"].is_string(), "{first}");
    assert_eq!(first["amount_cents"], 5000);

    // 31 days later the renewal was charged on the saved card, once.
    let clock = advance(app, sub, 31 * 86400).await;
    assert_eq!(clock["state"], "active");
    let c = cb
        .wait_callback("the renewal payment", |b| {
            b["obj"]["api_source"] == "SUBSCRIPTION"
        })
        .await;
    assert_signed(&p.hmac, &c);
    assert_eq!(
        (
            c.1["obj"]["success"].clone(),
            c.1["obj"]["integration_id"].clone()
        ),
        (json!(true), json!(moto))
    );
    advance(app, sub, 1).await;
    assert_eq!(
        sub_callbacks(app, &cb, &p, sub, 2).await,
        ["created", "successful_transaction"],
        "one renewal per period"
    );
    let txns = get(format!("/api/acceptance/subscriptions/{sub}/transactions")).await;
    assert_eq!(txns["count"], 2);

    // A new price, a suspension inside the paid period and a resume that charges nothing.
    let (s, b) = call(
        app,
        reqwest::Method::PUT,
        &format!("/api/acceptance/subscriptions/{sub}"),
        Some(&sk),
        Some(json!({"amount_cents": 6000})),
    )
    .await;
    assert_eq!(
        (s, b["amount_cents"].clone()),
        (StatusCode::OK, json!(6000))
    );
    for (action, state) in [("suspend", "suspended"), ("resume", "active")] {
        let (s, b) = call(
            app,
            reqwest::Method::POST,
            &format!("/api/acceptance/subscriptions/{sub}/{action}"),
            Some(&sk),
            None,
        )
        .await;
        assert_eq!((s, b["state"].clone()), (StatusCode::OK, json!(state)));
    }
    assert_eq!(
        sub_callbacks(app, &cb, &p, sub, 5).await[2..],
        ["updated", "suspended", "resumed"]
    );
    // The second renewal at the new price; then the end, at ends_at.
    advance(app, sub, 30 * 86400).await;
    let ended = advance(app, sub, 30 * 86400).await;
    assert_eq!(ended["state"], "canceled");
    assert_eq!(ended["ends_at"], first["ends_at"]);
    assert_eq!(
        sub_callbacks(app, &cb, &p, sub, 7).await[5..],
        ["successful_transaction", "canceled"]
    );
    let txns = get(format!("/api/acceptance/subscriptions/{sub}/transactions")).await;
    assert_eq!(txns["count"], 3);
    assert_eq!(txns["results"][0]["amount_cents"], 6000);
    let (s, _) = call(
        app,
        reqwest::Method::POST,
        &format!("/api/acceptance/subscriptions/{sub}/resume"),
        Some(&sk),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // A card whose renewals decline: retried daily for the plan's two retrial days, then
    // suspended; a resume retries at once; a cancel ends it.
    let (_, weekly) = call(
        app,
        reqwest::Method::POST,
        "/api/acceptance/subscription-plans",
        Some(&sk),
        Some(
            json!({"frequency": 7, "name": "Weekly", "retrial_days": 2, "amount_cents": 900,
            "integration": moto, "webhook_url": cb.url}),
        ),
    )
    .await;
    let sub = subscribe(app, &cb, &p, &weekly, "4000000000000341").await;
    advance(app, sub, 7 * 86400 + 60).await;
    let failed = cb
        .wait_callback("the declined renewal", |b| {
            b["obj"]["api_source"] == "SUBSCRIPTION" && b["obj"]["success"] == json!(false)
        })
        .await;
    assert_signed(&p.hmac, &failed);
    advance(app, sub, 86400).await;
    let suspended = advance(app, sub, 86400).await;
    assert_eq!(suspended["state"], "suspended");
    assert!(suspended["suspended_at"].is_string());
    assert_eq!(
        sub_callbacks(app, &cb, &p, sub, 4).await,
        [
            "created",
            "failed_transaction",
            "failed_transaction",
            "suspended"
        ]
    );
    let txns = get(format!("/api/acceptance/subscriptions/{sub}/transactions")).await;
    assert_eq!(
        txns["count"], 4,
        "the first payment and three declined tries"
    );
    for (action, state) in [("resume", "suspended"), ("cancel", "canceled")] {
        let (s, b) = call(
            app,
            reqwest::Method::POST,
            &format!("/api/acceptance/subscriptions/{sub}/{action}"),
            Some(&sk),
            None,
        )
        .await;
        assert_eq!((s, b["state"].clone()), (StatusCode::OK, json!(state)));
    }
    assert_eq!(
        sub_callbacks(app, &cb, &p, sub, 7).await[4..],
        ["resumed", "suspended", "canceled"]
    );
    // The engine's native objects behind it: the subscription and its invoices.
    let (_, subs) = app.get("/v1/subscriptions?limit=100").await;
    let core = subs["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["items"]["data"][0]["price"]["product_data"]["name"] == "Weekly")
        .expect("the core subscription")
        .clone();
    assert_eq!(core["status"], "canceled");
    assert_eq!(core["retry_policy"]["final_action"], "pause");
}

async fn a_retried_payment_cancels_the_abandoned_attempt(app: &TestApp) {
    let cb = callback_receiver().await;
    let p = profile(app, &cb, json!([])).await;
    let card_id = p.integration("card");
    let i = intention(app, &p, json!({"amount": 6000, "currency": "EGP", "payment_methods": [card_id], "billing_data": billing()})).await;
    let key = key_for(&i, card_id);
    // The customer leaves the first 3-D Secure page open and starts again.
    let (_, first) = pay(app, &key, card("5123456789012346", "123")).await;
    let (_, second) = pay(app, &key, card("4111111111111111", "123")).await;
    assert_eq!(second["pending"], "true");
    let sk = format!("Token {}", p.sk);
    let (_, old) = call(
        app,
        reqwest::Method::GET,
        &format!("/api/acceptance/transactions/{}", first["id"]),
        Some(&sk),
        None,
    )
    .await;
    assert_eq!(
        (old["pending"].clone(), old["success"].clone()),
        (json!(false), json!(false))
    );
    // Approving the abandoned page now charges nothing.
    let loc = answer_page(
        app,
        first["redirect_url"].as_str().unwrap(),
        &[("action", "approve")],
    )
    .await;
    assert_eq!(
        param(&assert_signed_redirect(&p.hmac, &loc), "success"),
        "false"
    );
    let loc = answer_page(
        app,
        second["redirect_url"].as_str().unwrap(),
        &[("action", "approve")],
    )
    .await;
    assert_eq!(
        param(&assert_signed_redirect(&p.hmac, &loc), "success"),
        "true"
    );
    // One payment, one native succeeded intent.
    let (_, events) = app.get("/v1/events?limit=100").await;
    let paid: Vec<_> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["type"] == "payment_intent.succeeded"
                && e["data"]["object"]["metadata"]["paymob_order"]
                    == i["intention_order_id"].to_string().as_str()
        })
        .collect();
    assert_eq!(paid.len(), 1);
}

async fn profiles_are_isolated(app: &TestApp) {
    let cb = callback_receiver().await;
    let a = profile(app, &cb, json!([])).await;
    let b = profile(app, &cb, json!([])).await;
    let plain = a.integration("card-plain");
    let i = intention(app, &a, json!({"amount": 900, "currency": "EGP", "payment_methods": [plain], "billing_data": billing()})).await;
    let (_, r) = pay(app, &key_for(&i, plain), card("4111111111111111", "123")).await;
    let id = r["id"].clone();
    let bk = format!("Token {}", b.sk);
    let (s, _) = call(
        app,
        reqwest::Method::GET,
        &format!("/api/acceptance/transactions/{id}"),
        Some(&bk),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(
        app,
        reqwest::Method::POST,
        "/api/acceptance/void_refund/refund",
        Some(&bk),
        Some(json!({"transaction_id": id, "amount_cents": 100})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // B cannot use A's integration in an intention.
    let (s, _) = call(app, reqwest::Method::POST, "/v1/intention/", Some(&bk), Some(json!({"amount": 900, "currency": "EGP", "payment_methods": [plain], "billing_data": billing()}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Another merchant cannot see A's profile natively.
    let other = app.other_merchant_key().await;
    let (s, _) = app
        .get_as(&other, &format!("/v1/paymob/profiles/{}", a.id))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// The `frame-ancestors` sources of a page's CSP.
async fn framing(app: &TestApp, url: &str) -> (u16, String) {
    let url = if url.starts_with("http") {
        url.to_string()
    } else {
        app.url(url)
    };
    let r = app.http.get(&url).send().await.unwrap();
    let csp = r
        .headers()
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("no CSP on {url}"))
        .to_str()
        .unwrap()
        .to_string();
    let fa = csp
        .split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix("frame-ancestors "))
        .unwrap_or_else(|| panic!("no frame-ancestors in {csp}"))
        .to_string();
    (r.status().as_u16(), fa)
}

/// A genuine redirect to Kassa's status page: a 3-D Secure card payment on an integration
/// without a response callback URL, approved (or failed) on the 3-D Secure page.
async fn status_redirect(app: &TestApp, p: &Profile, approve: bool) -> (Value, String) {
    let id = p.integration("card-status");
    let reference = if approve { "inv-paid" } else { "inv-failed" };
    let i = intention(
        app,
        p,
        json!({"amount": 25050, "currency": "EGP", "payment_methods": [id],
               "billing_data": billing(), "special_reference": reference}),
    )
    .await;
    let (s, r) = pay(app, &key_for(&i, id), card("5123456789012346", "123")).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let acs = r["redirect_url"].as_str().unwrap().to_string();
    let action = if approve { "approve" } else { "fail" };
    let location = answer_page(app, &acs, &[("action", action)]).await;
    assert!(
        location.starts_with(&app.url("/unifiedcheckout/payment-status?")),
        "{location}"
    );
    assert_signed_redirect(&p.hmac, &location);
    (r, location)
}

async fn page_of(app: &TestApp, url: &str) -> (u16, String) {
    let url = if url.starts_with("http") {
        url.to_string()
    } else {
        app.url(url)
    };
    let r = app.http.get(&url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn pages_are_framed_only_where_the_profile_allows(app: &TestApp) {
    let cb = callback_receiver().await;
    let status_integration =
        json!([{"kind": "card", "name": "card-status", "processed_callback_url": cb.url}]);
    let p = profile(app, &cb, status_integration.clone()).await;
    let other = profile(app, &cb, json!([])).await;
    let (s, got) = app.get(&format!("/v1/paymob/profiles/{}", p.id)).await;
    assert_eq!(s, StatusCode::OK, "{got}");
    assert_eq!(got["frame_ancestors"], "'none'");
    assert!(pinned::<schemas::PmProfileObject>(&got)
        .secret_key
        .is_none());
    let (_, all) = app.get("/v1/paymob/profiles").await;
    assert_eq!(pinned::<schemas::PmProfileList>(&all).data.len(), 2);

    let card_id = p.integration("card");
    let i = intention(app, &p, json!({"amount": 1000, "currency": "EGP", "payment_methods": [card_id], "billing_data": billing()})).await;
    let cs = i["client_secret"].as_str().unwrap().to_string();
    let key = key_for(&i, card_id);
    let (_, r) = pay(app, &key, card("5123456789012346", "123")).await;
    let challenge = r["redirect_url"].as_str().unwrap().to_string();
    let (_, status_url) = status_redirect(app, &p, true).await;
    let pages = [
        format!("/unifiedcheckout/?publicKey={}&clientSecret={cs}", p.pk),
        format!("/iframe-card-v2/?type=card&v=2&publicKey={}", p.pk),
        format!("/api/acceptance/iframes/{}?payment_token={key}", p.iframe),
        challenge.clone(),
        status_url.clone(),
    ];
    for page in &pages {
        assert_eq!(framing(app, page).await, (200, "'none'".into()), "{page}");
    }

    // Bad values are refused, on update and on create, and change nothing.
    let path = format!("/v1/paymob/profiles/{}", p.id);
    for bad in [
        "https://a.example; script-src *",
        "javascript:alert(1)",
        "https://a.example/path",
        "'unsafe-inline'",
        "'none' https://a.example",
        "https:",
    ] {
        let (s, e) = app.post(&path, json!({"frame_ancestors": bad})).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {e}");
        assert!(e.to_string().contains("frame_ancestors"), "{e}");
    }
    let (s, _) = app.post(&path, json!({"frame_ancestors": 7})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, e) = app
        .post(
            "/v1/paymob/profiles",
            json!({"name": "Bad", "frame_ancestors": "data:"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (_, got) = app.get(&path).await;
    assert_eq!(got["frame_ancestors"], "'none'");

    // Once set, every page of the profile may be framed there, and only there.
    let allowed = "https://shop.example https://*.shop.example";
    let (s, got) = app
        .post(&path, json!({"frame_ancestors": format!("  {allowed} ")}))
        .await;
    assert_eq!(s, StatusCode::OK, "{got}");
    assert_eq!(got["frame_ancestors"], allowed);
    assert_eq!(got["name"], "Nile Shop");
    for page in &pages {
        assert_eq!(framing(app, page).await, (200, allowed.into()), "{page}");
    }
    // Pages that cannot prove their profile are framed nowhere.
    for page in [
        format!("/unifiedcheckout/?publicKey={}&clientSecret={cs}", other.pk),
        format!("/unifiedcheckout/?clientSecret={cs}"),
        "/unifiedcheckout/".to_string(),
        "/iframe-card-v2/?type=card".to_string(),
        format!("/iframe-card-v2/?publicKey={}", other.pk),
        format!("/api/acceptance/iframes/{}", p.iframe),
        format!(
            "/api/acceptance/iframes/{}?payment_token={key}",
            other.iframe
        ),
        "/unifiedcheckout/payment-status?success=true".to_string(),
    ] {
        let (_, fa) = framing(app, &page).await;
        assert_eq!(fa, "'none'", "{page}");
    }
    // A profile created with the setting has it from the start; '' resets to 'none'.
    let (s, made) = app
        .post(
            "/v1/paymob/profiles",
            json!({"name": "Framed", "frame_ancestors": "'self' http://127.0.0.1:8080"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{made}");
    assert_eq!(made["frame_ancestors"], "'self' http://127.0.0.1:8080");
    let made_pk = made["public_key"].as_str().unwrap();
    assert_eq!(
        framing(app, &format!("/iframe-card-v2/?publicKey={made_pk}"))
            .await
            .1,
        "'self' http://127.0.0.1:8080"
    );
    let (s, got) = app.post(&path, json!({"frame_ancestors": ""})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["frame_ancestors"], "'none'");
    assert_eq!(framing(app, &pages[0]).await.1, "'none'");
    let doc: Value = app
        .http
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/v1/paymob/profiles/{id}"]["post"].is_object());
    // Another merchant cannot change the profile.
    let other_key = app.other_merchant_key().await;
    let (s, _) = app
        .post_as(&other_key, &path, json!({"frame_ancestors": "*"}), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn the_status_page_shows_only_signed_results(app: &TestApp) {
    let cb = callback_receiver().await;
    let p = profile(
        app,
        &cb,
        json!([{"kind": "card", "name": "card-status", "processed_callback_url": cb.url}]),
    )
    .await;
    let (s, _) = app
        .post(
            &format!("/v1/paymob/profiles/{}", p.id),
            json!({"frame_ancestors": "https://shop.example"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // A genuine redirect shows the result, with the profile's framing.
    let (r, location) = status_redirect(app, &p, true).await;
    let (code, body) = page_of(app, &location).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("Payment successful"), "{body}");
    assert!(body.contains("data-status=\"success\""), "{body}");
    assert!(body.contains("data-amount-cents=\"25050\""), "{body}");
    assert!(
        body.contains("EGP\u{a0}250.50") && body.contains("inv-paid"),
        "{body}"
    );
    assert!(body.contains("MasterCard •••• 2346"), "{body}");
    assert_eq!(framing(app, &location).await.1, "https://shop.example");
    let txn_id = r["id"].as_i64().unwrap();
    let genuine = location.split_once('?').unwrap().1.to_string();
    let order = param(&query_pairs(&genuine), "order").to_string();

    let refused = |code: u16, body: &str, want: u16| {
        assert_eq!(code, want, "{body}");
        assert!(
            body.contains("We could not verify this payment result"),
            "{body}"
        );
        assert!(body.contains("data-status=\"unverified\""), "{body}");
        for shown in [
            "Payment successful",
            "Payment declined",
            "99999900",
            "999,999.00",
            "999999.00",
        ] {
            assert!(!body.contains(shown), "{shown} in {body}");
        }
    };
    let forged = format!(
        "success=true&pending=false&amount_cents=99999900&currency=EGP&id={txn_id}&order={order}\
         &source_data.type=card&source_data.pan=2346&source_data.sub_type=MasterCard"
    );
    let (code, body) = page_of(app, &format!("/unifiedcheckout/payment-status?{forged}")).await;
    refused(code, &body, 400);
    let (code, body) = page_of(app, "/unifiedcheckout/payment-status").await;
    refused(code, &body, 400);
    let wrong = hmac::query_hmac("not-the-secret", &query_pairs(&forged));
    for h in [wrong.as_str(), "0", ""] {
        let (code, body) = page_of(
            app,
            &format!("/unifiedcheckout/payment-status?{forged}&hmac={h}"),
        )
        .await;
        refused(code, &body, if h.is_empty() { 400 } else { 403 });
    }
    // A genuine query with one value changed is refused.
    let tampered = genuine.replace("amount_cents=25050", "amount_cents=99999900");
    assert_ne!(tampered, genuine);
    let (code, body) = page_of(app, &format!("/unifiedcheckout/payment-status?{tampered}")).await;
    refused(code, &body, 403);
    // An unknown transaction is not verifiable.
    let unknown = genuine.replace(&format!("id={txn_id}&"), "id=1&");
    let (code, body) = page_of(app, &format!("/unifiedcheckout/payment-status?{unknown}")).await;
    refused(code, &body, 403);

    // A declined payment says so; adding a second `success=true` is refused.
    let (_, declined) = status_redirect(app, &p, false).await;
    let (code, body) = page_of(app, &declined).await;
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("Payment declined") && !body.contains("Payment successful"),
        "{body}"
    );
    let (code, body) = page_of(app, &format!("{declined}&success=true")).await;
    refused(code, &body, 403);
    let (code, body) = page_of(app, &declined.replace("success=false", "success=true")).await;
    refused(code, &body, 403);
}

on_both!(
    pages_are_framed_only_where_the_profile_allows,
    the_status_page_shows_only_signed_results,
    intentions_validate_like_paymob,
    card_with_3ds_signs_callbacks_and_redirect,
    declines_wallet_kiosk_and_cash,
    an_unpaid_kiosk_reference_expires_after_48_hours,
    refund_void_and_capture_follow_the_rules,
    legacy_flow_takes_every_credential_carrier,
    saved_cards_pay_without_the_customer,
    callbacks_retry_identically_and_resend,
    subscriptions_renew_on_the_test_clock,
    a_retried_payment_cancels_the_abandoned_attempt,
    profiles_are_isolated,
);
