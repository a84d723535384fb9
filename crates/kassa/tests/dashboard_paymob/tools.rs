//! The callback testing tool, the HMAC calculator, and the checkout's look.

use std::io::Cursor;

use axum::http::StatusCode;
use kassa_paymob::hmac;
use serde_json::{json, Value};

use super::common::dashboard::{set_up, Browser};
use super::common::{Receiver, TestApp};
use super::{api_profile, audit_actions, card_payment, query_hmac, shown};

async fn the_callback_tool_sends_a_signed_sample(app: &TestApp) {
    let cb = Receiver::start_at("/cb").await;
    let p = api_profile(app, &app.sk, &cb.url).await;
    // A real callback first, to compare shapes with.
    let txn = card_payment(app, &p.sk, p.integration("card")).await;
    let real = cb
        .wait_for_one("the real callback", |r| {
            r.json_or_null()["obj"]["id"] == txn
        })
        .await
        .json();
    app.drained().await;
    cb.respond(201, "got it <b>thanks</b>");

    let b = set_up(app, "tool@shop.example", "developer").await;
    let path = format!("/dashboard/test/paymob/{}/callback-test", p.id);
    let page = b.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let card = p.integration("card").to_string();
    let sent = b
        .post(
            &path,
            &[
                ("csrf", &page.csrf()),
                ("integration", &card),
                ("outcome", "approved"),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    let got = cb
        .wait_for_one("the test callback", |r| {
            r.json_or_null()["obj"]["id"] != txn && r.method == "POST"
        })
        .await;
    let body = got.json();
    let obj = &body["obj"];
    assert_eq!(
        query_hmac(&got),
        hmac::transaction_hmac(&p.hmac, obj),
        "signed like a real one"
    );
    assert_eq!(got.header("content-type"), "application/json");
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&body), keys(&real), "the same envelope");
    assert_eq!(keys(obj), keys(&real["obj"]), "the same transaction object");
    assert_eq!(
        (obj["success"].as_bool(), obj["pending"].as_bool()),
        (Some(true), Some(false))
    );
    assert!(obj["order"]["merchant_order_id"]
        .as_str()
        .unwrap()
        .starts_with("kassa-test-callback-"));
    assert!(obj["id"].as_i64().unwrap() > txn, "a fresh transaction id");
    // The page shows what was signed and what came back.
    assert_eq!(shown(&sent, "cb-message"), hmac::transaction_message(obj));
    assert_eq!(shown(&sent, "cb-hmac"), query_hmac(&got));
    assert_eq!(shown(&sent, "cb-answer"), "HTTP 201");
    assert_eq!(shown(&sent, "cb-excerpt"), "got it <b>thanks</b>");
    assert!(shown(&sent, "cb-latency").ends_with(" ms"));
    assert!(
        !sent.body.contains("<b>thanks</b>"),
        "the answer is escaped"
    );

    // A declined sample; an integration without a URL is refused.
    let declined = b
        .post(
            &path,
            &[
                ("csrf", &page.csrf()),
                ("integration", &card),
                ("outcome", "declined"),
            ],
        )
        .await;
    assert_eq!(declined.status, StatusCode::OK);
    let last = cb.all().pop().unwrap().json();
    assert_eq!(
        (
            last["obj"]["success"].as_bool(),
            last["obj"]["pending"].as_bool()
        ),
        (Some(false), Some(false))
    );
    let (_, bare) = app
        .post(
            &format!("/v1/paymob/profiles/{}/integrations", p.id),
            json!({"kind": "cash"}),
        )
        .await;
    let bare = bare["id"].to_string();
    let refused = b
        .post(&path, &[("csrf", &page.csrf()), ("integration", &bare)])
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("no processed callback URL"),
        "{}",
        refused.body
    );
    let audit = audit_actions(app, &app.scope()).await;
    assert_eq!(
        audit
            .iter()
            .filter(|(a, _, _)| a == "paymob_profile.test_callback")
            .count(),
        2
    );
}

/// Paymob's published processed-callback example (the §4.1 payload).
const EXAMPLE_OBJ: &str = r#"{"id": 192036465, "pending": false, "amount_cents": 100000, "success": true,
  "is_auth": false, "is_capture": false, "is_standalone_payment": true, "is_voided": false,
  "is_refunded": false, "is_3d_secure": true, "integration_id": 4097558, "profile_id": 164295,
  "has_parent_transaction": false, "order": {"id": 217503754}, "created_at": "2024-06-13T11:33:44.592345",
  "currency": "EGP", "source_data": {"pan": "2346", "type": "card", "tenure": null, "sub_type": "MasterCard"},
  "error_occured": false, "owner": 302852}"#;

async fn the_hmac_calculator_agrees_with_the_library(app: &TestApp) {
    let cb = Receiver::start_at("/cb").await;
    let p = api_profile(app, &app.sk, &cb.url).await;
    let b = set_up(app, "calc@shop.example", "developer").await;
    let path = format!("/dashboard/test/paymob/{}/hmac", p.id);
    let page = b.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains(&p.hmac), "the secret is not shown");
    let obj: Value = serde_json::from_str(EXAMPLE_OBJ).unwrap();
    assert_eq!(
        hmac::transaction_message(&obj),
        "1000002024-06-13T11:33:44.592345EGPfalsefalse1920364654097558truefalsefalsefalsetruefalse217503754302852false2346MasterCardcardtrue"
    );
    let expected = hmac::transaction_hmac(&p.hmac, &obj);
    let body = json!({"type": "TRANSACTION", "obj": obj}).to_string();
    let r = b
        .post(
            &path,
            &[
                ("csrf", &page.csrf()),
                ("input", &body),
                ("hmac", &expected.to_uppercase()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(shown(&r, "hmac-message"), hmac::transaction_message(&obj));
    assert_eq!(shown(&r, "hmac-value"), expected);
    assert!(r.body.contains(">matches<"), "{}", r.body);
    // A redirect URL: the query's own hmac is compared.
    let q = "amount_cents=100000&created_at=2024-06-13T11%3A33%3A44.592345&currency=EGP&error_occured=false\
             &has_parent_transaction=false&id=192036465&integration_id=4097558&is_3d_secure=true&is_auth=false\
             &is_capture=false&is_refunded=false&is_standalone_payment=true&is_voided=false&order=217503754\
             &owner=302852&pending=false&source_data.pan=2346&source_data.sub_type=MasterCard\
             &source_data.type=card&success=true&hmac=00";
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
        .filter(|(k, _)| k != "hmac")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let r = b
        .post(
            &path,
            &[
                ("csrf", &page.csrf()),
                ("input", &format!("https://shop.example/done?{q}")),
            ],
        )
        .await;
    assert_eq!(shown(&r, "hmac-message"), hmac::query_message(&pairs));
    assert_eq!(shown(&r, "hmac-value"), hmac::query_hmac(&p.hmac, &pairs));
    assert_eq!(
        shown(&r, "hmac-message"),
        hmac::transaction_message(&obj),
        "the same 20 fields"
    );
    assert!(r.body.contains(">does not match<"));
    // Not JSON, nothing signed: 400 with the reason.
    let bad = b
        .post(&path, &[("csrf", &page.csrf()), ("input", "{\"obj\": ")])
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("not valid JSON"));
    assert_eq!(
        b.post(&path, &[("csrf", &page.csrf()), ("input", "a=b")])
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

/// A PNG that does not compress: each pixel its own colour, so it is large for its size.
fn noisy_png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(w, h, |x, y| {
        let v = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)).to_le_bytes();
        image::Rgba([v[0], v[1], v[2], 255])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgba8(img)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(w, h, image::Rgba([10, 102, 194, 255]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgba8(img)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// The logo form as a browser sends it (`multipart/form-data`).
async fn upload(b: &Browser, path: &str, csrf: Option<&str>, file: Vec<u8>) -> StatusCode {
    let boundary = "----kassa-test-7d41";
    let mut body = Vec::new();
    if let Some(c) = csrf {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{c}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"logo\"; filename=\"logo.png\"\r\n\
             Content-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = b
        .http
        .post(format!("{}{path}", b.base))
        .header("origin", &b.base)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    StatusCode::from_u16(r.status().as_u16()).unwrap()
}

async fn the_look_and_framing(app: &TestApp) {
    let cb = Receiver::start_at("/cb").await;
    let p = api_profile(app, &app.sk, &cb.url).await;
    let b = set_up(app, "look@shop.example", "developer").await;
    let look = format!("/dashboard/test/paymob/{}/look", p.id);
    let page = b.get(&look).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.csrf();
    let pale = b
        .post(
            &look,
            &[
                ("csrf", &csrf),
                ("display_name", "Nile"),
                ("accent_color", "#ffff00"),
            ],
        )
        .await;
    assert_eq!(pale.status, StatusCode::BAD_REQUEST);
    assert!(
        pale.body.contains("contrast") && pale.body.contains("value=\"#ffff00\""),
        "{}",
        pale.body
    );
    let ok = b
        .post(
            &look,
            &[
                ("csrf", &csrf),
                ("display_name", "Nile"),
                ("accent_color", "#0a66c2"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let (_, brand) = app
        .get(&format!("/v1/paymob/profiles/{}/branding", p.id))
        .await;
    assert_eq!(
        (
            brand["display_name"].as_str(),
            brand["accent_color"].as_str()
        ),
        (Some("Nile"), Some("#0a66c2"))
    );

    let logo_path = format!("{look}/logo");
    assert_eq!(
        upload(&b, &logo_path, None, png(64, 32)).await,
        StatusCode::FORBIDDEN,
        "no CSRF token"
    );
    assert_eq!(
        upload(&b, &logo_path, Some(&csrf), png(64, 32)).await,
        StatusCode::SEE_OTHER
    );
    let (_, brand) = app
        .get(&format!("/v1/paymob/profiles/{}/branding", p.id))
        .await;
    assert_eq!(
        (
            brand["logo"]["width"].as_i64(),
            brand["logo"]["height"].as_i64()
        ),
        (Some(64), Some(32))
    );
    // A logo larger than the dashboard's 64 KiB form limit (up to the API's 512 KB) is taken:
    // the logo form has a body limit of its own.
    let big = noisy_png(200, 150);
    assert!(big.len() > 100 * 1024, "{} bytes", big.len());
    assert_eq!(
        upload(&b, &logo_path, Some(&csrf), big).await,
        StatusCode::SEE_OTHER
    );
    let (_, brand) = app
        .get(&format!("/v1/paymob/profiles/{}/branding", p.id))
        .await;
    assert_eq!(brand["logo"]["width"].as_i64(), Some(200));
    // One over the branding service's limit is refused by the form's.
    assert_eq!(
        upload(&b, &logo_path, Some(&csrf), noisy_png(420, 420)).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let preview = b
        .http
        .get(format!("{}{look}/logo.png", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(preview.headers()["content-type"], "image/png");
    let removed = b
        .post(&format!("{logo_path}/remove"), &[("csrf", &csrf)])
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    let (_, brand) = app
        .get(&format!("/v1/paymob/profiles/{}/branding", p.id))
        .await;
    assert!(brand["logo"].is_null());

    let framing = format!("/dashboard/test/paymob/{}/framing", p.id);
    let bad = b
        .post(
            &framing,
            &[
                ("csrf", &csrf),
                ("name", "Nile"),
                ("frame_ancestors", "javascript:1"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let ok = b
        .post(
            &framing,
            &[
                ("csrf", &csrf),
                ("name", "Nile Two"),
                ("frame_ancestors", "https://shop.example"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let (_, prof) = app.get(&format!("/v1/paymob/profiles/{}", p.id)).await;
    assert_eq!(
        (prof["name"].as_str(), prof["frame_ancestors"].as_str()),
        (Some("Nile Two"), Some("https://shop.example"))
    );
}

crate::on_both!(
    the_callback_tool_sends_a_signed_sample,
    the_hmac_calculator_agrees_with_the_library,
    the_look_and_framing,
);
