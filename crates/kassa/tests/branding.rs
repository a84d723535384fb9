//! Branding through the native API: a merchant's (and a Paymentwall project's or Paymob
//! profile's) display name, accent colour and logo. Colours below 4.5:1 against white are
//! refused with the nearest passing shade; logos must be PNG or JPEG, are re-encoded and served
//! by Kassa as PNG with `nosniff`; nothing of one merchant is reachable with another's key.

mod common;

use std::io::Cursor;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(w, h, image::Rgba([10, 102, 194, 255]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgba8(img)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

async fn upload(
    app: &TestApp,
    key: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let resp = app
        .http
        .post(app.url(path))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn the_merchants_name_and_accent_colour_are_checked_and_kept(app: &TestApp) {
    let (s, b) = app.get("/v1/branding").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["object"], "branding");
    assert_eq!(b["scope"], "merchant");
    assert!(
        b["display_name"].is_null() && b["accent_color"].is_null() && b["logo"].is_null(),
        "{b}"
    );

    let (s, b) = app
        .post(
            "/v1/branding",
            json!({"display_name": "  Nile Books ", "accent_color": "#0A66C2"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["display_name"], "Nile Books");
    assert_eq!(b["accent_color"], "#0a66c2");

    // Too light for white text: refused, with the reason and a shade that passes.
    let (s, e) = app
        .post("/v1/branding", json!({"accent_color": "#ffcc00"}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e["error"]["param"], "accent_color");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("contrast of 1.51:1") && msg.contains("nearest darker shade"),
        "{msg}"
    );
    for bad in [
        json!({"accent_color": "blue"}),
        json!({"accent_color": "#12345"}),
        json!({"display_name": "x".repeat(61)}),
    ] {
        let (s, e) = app.post("/v1/branding", bad.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad} -> {e}");
    }
    let (s, e) = app.post("/v1/branding", json!({"logo": "x"})).await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "unknown fields are refused: {e}"
    );
    // A refusal changed nothing.
    let (_, b) = app.get("/v1/branding").await;
    assert_eq!(b["accent_color"], "#0a66c2");

    // An empty string removes a value; an absent field leaves it.
    let (s, b) = app.post("/v1/branding", json!({"accent_color": ""})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["accent_color"].is_null());
    assert_eq!(b["display_name"], "Nile Books");

    // Publishable keys cannot read or change branding.
    let (s, _) = app.get_as(&app.pk, "/v1/branding").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

async fn a_logo_is_re_encoded_served_publicly_and_replaced(app: &TestApp) {
    let (s, b) = upload(
        app,
        &app.sk,
        "/v1/branding/logo",
        "image/png",
        png(1280, 320),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let logo = &b["logo"];
    assert_eq!(
        (logo["width"].as_i64(), logo["height"].as_i64()),
        (Some(640), Some(160)),
        "{b}"
    );
    let url = logo["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&app.url("/branding/logos/logo_")), "{url}");

    // Public (pages load it without a key), PNG, never sniffed, cached for good.
    let resp = app.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert!(resp.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let bytes = resp.bytes().await.unwrap();
    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).unwrap();
    assert_eq!((img.width(), img.height()), (640, 160));

    // What a logo cannot be.
    let svg =
        br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#.to_vec();
    let (s, e) = upload(app, &app.sk, "/v1/branding/logo", "image/svg+xml", svg).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e["error"]["param"], "logo");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("SVG"),
        "{e}"
    );
    let (s, e) = upload(app, &app.sk, "/v1/branding/logo", "image/jpeg", png(64, 64)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (s, _) = upload(
        app,
        &app.sk,
        "/v1/branding/logo",
        "image/png",
        vec![0x89; 600 * 1024],
    )
    .await;
    assert_eq!(
        s,
        StatusCode::PAYLOAD_TOO_LARGE,
        "a body over the upload limit is cut off"
    );
    let (s, _) = upload(app, &app.pk, "/v1/branding/logo", "image/png", png(64, 64)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // A new upload replaces the old logo, which is then gone; an idempotent retry answers the
    // same logo.
    let resp = app
        .http
        .post(app.url("/v1/branding/logo"))
        .bearer_auth(&app.sk)
        .header("content-type", "image/png")
        .header("idempotency-key", "logo-2")
        .body(png(100, 100))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let second: Value = resp.json().await.unwrap();
    let replay: Value = app
        .http
        .post(app.url("/v1/branding/logo"))
        .bearer_auth(&app.sk)
        .header("content-type", "image/png")
        .header("idempotency-key", "logo-2")
        .body(png(100, 100))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["logo"]["id"], replay["logo"]["id"]);
    assert_ne!(second["logo"]["url"], Value::String(url.clone()));
    assert_eq!(
        app.http.get(&url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    let resp = app
        .http
        .delete(app.url("/v1/branding/logo"))
        .bearer_auth(&app.sk)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let b: Value = resp.json().await.unwrap();
    assert!(b["logo"].is_null(), "{b}");
    let second_url = second["logo"]["url"].as_str().unwrap();
    assert_eq!(
        app.http.get(second_url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.http
            .get(app.url("/branding/logos/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

async fn projects_and_profiles_have_their_own_branding_and_other_merchants_see_none(app: &TestApp) {
    let (s, project) = app
        .post(
            "/v1/paymentwall/projects",
            json!({"name": "My game", "api_type": "digital_goods"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{project}");
    let pid = project["id"].as_str().unwrap();
    let path = format!("/v1/paymentwall/projects/{pid}/branding");
    let (s, b) = app
        .post(
            &path,
            json!({"display_name": "Dragon Quest Store", "accent_color": "#7a1fa2"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["scope"], format!("pw:{pid}"));
    let (s, b) = upload(
        app,
        &app.sk,
        &format!("{path}/logo"),
        "image/png",
        png(48, 48),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let (s, profile) = app
        .post(
            "/v1/paymob/profiles",
            json!({"name": "Cairo Books", "country": "egy", "integrations": [{"kind": "card"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{profile}");
    let prof = profile["id"].as_i64().unwrap();
    let ppath = format!("/v1/paymob/profiles/{prof}/branding");
    let (s, b) = app.post(&ppath, json!({"accent_color": "#006b3c"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["scope"], format!("pm:{prof}"));

    // The merchant's own branding is separate.
    let (_, m) = app.get("/v1/branding").await;
    assert_ne!(m["display_name"], "Dragon Quest Store");

    // Another merchant: not found, whether reading, writing or uploading.
    let other = app.other_merchant_key().await;
    for p in [&path, &ppath] {
        let (s, _) = app.get_as(&other, p).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{p}");
        let (s, _) = app
            .post_as(&other, p, json!({"display_name": "Mine"}), None)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{p}");
        let (s, _) = upload(app, &other, &format!("{p}/logo"), "image/png", png(32, 32)).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{p}");
    }
    let (s, _) = app.get("/v1/paymob/profiles/notanumber/branding").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, b) = app.get(&path).await;
    assert_eq!(
        b["display_name"], "Dragon Quest Store",
        "the other merchant changed nothing"
    );
}

async fn the_theme_stylesheet_only_ever_holds_a_readable_colour(app: &TestApp) {
    let resp = app
        .http
        .get(app.url("/branding/theme.css?accent=0a66c2"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    let css = resp.text().await.unwrap();
    assert!(css.contains("--accent: #0a66c2;"), "{css}");
    for bad in ["ffcc00", "0a66c", "red;}body{x", "", "0a66c2%3B"] {
        let resp = app
            .http
            .get(app.url(&format!("/branding/theme.css?accent={bad}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{bad}");
    }
}

/// The hosted checkout wears the merchant's branding: the display name instead of the account
/// name, the logo Kassa serves, the accent theme after the page's own stylesheets.
async fn the_checkout_page_wears_the_merchants_branding(app: &TestApp) {
    let pi = app.create_intent(1000, json!({})).await;
    let page = |url: String| async move {
        app.http
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let before = page(pi["checkout_url"].as_str().unwrap().to_string()).await;
    assert!(
        !before.contains("merchant-logo") && !before.contains("/branding/theme.css"),
        "{before}"
    );

    let (s, _) = app
        .post(
            "/v1/branding",
            json!({"display_name": "Nile Books", "accent_color": "#7a1fa2"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = upload(app, &app.sk, "/v1/branding/logo", "image/png", png(64, 64)).await;
    assert_eq!(s, StatusCode::OK);
    let logo_path = b["logo"]["url"]
        .as_str()
        .unwrap()
        .strip_prefix(&app.base)
        .unwrap()
        .to_string();
    let html = page(pi["checkout_url"].as_str().unwrap().to_string()).await;
    assert!(html.contains("Nile Books"), "{html}");
    assert!(html.contains(&format!("src=\"{logo_path}\"")), "{html}");
    let theme = html
        .find("href=\"/branding/theme.css?accent=7a1fa2\"")
        .expect("theme link");
    let own = html.find("checkout.css").unwrap();
    assert!(
        theme > own,
        "the theme comes after the page's own stylesheet, so it wins"
    );
}

on_both!(
    the_checkout_page_wears_the_merchants_branding,
    the_merchants_name_and_accent_colour_are_checked_and_kept,
    a_logo_is_re_encoded_served_publicly_and_replaced,
    projects_and_profiles_have_their_own_branding_and_other_merchants_see_none,
    the_theme_stylesheet_only_ever_holds_a_readable_colour,
);
