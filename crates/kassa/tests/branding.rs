//! Branding through the native API: a merchant's (and a Paymentwall project's or Paymob
//! profile's) display name, accent colour and logo. Colours below 4.5:1 against white are
//! refused with the nearest passing shade; logos must be PNG or JPEG, are re-encoded and served
//! by Kassa as PNG with `nosniff`; nothing of one merchant is reachable with another's key. The
//! payer pages wear it: the hosted checkout the merchant's, Paymob's pages their profile's
//! (else the merchant's), and a page that cannot prove its profile none.

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
    // The server answers 413 as soon as the body passes the limit and closes the connection;
    // a client still sending may see the close before the answer (a loaded machine makes that
    // likelier), so a transport error is retried until the answer is read.
    let mut status = None;
    for _ in 0..5 {
        let sent = app
            .http
            .post(app.url("/v1/branding/logo"))
            .bearer_auth(&app.sk)
            .header("content-type", "image/png")
            .body(vec![0x89; 600 * 1024])
            .send()
            .await;
        match sent {
            Ok(resp) => {
                status = Some(resp.status());
                // The connection closes after it: the client must not reuse it.
                assert_eq!(resp.headers()["connection"], "close");
                break;
            }
            Err(e) if e.is_request() || e.is_connect() => continue,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        status,
        Some(StatusCode::PAYLOAD_TOO_LARGE),
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

/// A Paymob profile with one card integration (3-D Secure, ending on Kassa's status page).
struct Pm {
    id: i64,
    sk: String,
    pk: String,
    iframe: i64,
    card: i64,
}

async fn pm_profile(app: &TestApp, name: &str) -> Pm {
    let (s, p) = app
        .post(
            "/v1/paymob/profiles",
            json!({"name": name, "integrations": [{"kind": "card"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    Pm {
        id: p["id"].as_i64().unwrap(),
        sk: p["secret_key"].as_str().unwrap().into(),
        pk: p["public_key"].as_str().unwrap().into(),
        iframe: p["iframe_id"].as_i64().unwrap(),
        card: p["integrations"][0]["id"].as_i64().unwrap(),
    }
}

/// A new intention of the profile's: its client secret and its card payment key.
async fn pm_intention(app: &TestApp, p: &Pm) -> (String, String) {
    let r = app
        .http
        .post(app.url("/v1/intention/"))
        .header("authorization", format!("Token {}", p.sk))
        .json(&json!({"amount": 25050, "currency": "EGP", "payment_methods": [p.card],
                      "billing_data": {"first_name": "Mona", "last_name": "Adel",
                                       "email": "mona@example.com", "phone_number": "+201001234567"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let i: Value = r.json().await.unwrap();
    let key = i["payment_keys"][0]["key"].as_str().unwrap().to_string();
    (i["client_secret"].as_str().unwrap().to_string(), key)
}

/// A page's status and HTML (`url` absolute or a path).
async fn page_of(app: &TestApp, url: &str) -> (StatusCode, String) {
    let url = if url.starts_with("http") {
        url.to_string()
    } else {
        app.url(url)
    };
    let r = app.http.get(url).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// The look a page should wear: display name, logo path, accent (`rrggbb`).
struct Look<'a>(&'a str, &'a str, &'a str);

/// The page names `look` and shows its logo (with `logo`; else neither), and links its theme
/// after the page's own stylesheets; nothing of `not` (another look) is on it.
fn assert_wears(html: &str, look: &Look, logo: bool, not: &Look, what: &str) {
    let Look(name, logo_path, accent) = look;
    let theme = format!("href=\"/branding/theme.css?accent={accent}\"");
    let at = html.find(&theme).expect(what);
    assert!(
        at > html.rfind("checkout.css").unwrap(),
        "{what}: theme first"
    );
    let img =
        format!("<img class=\"merchant-logo\" id=\"merchant-logo\" src=\"{logo_path}\" alt=\"\">");
    assert_eq!(html.contains(&img), logo, "{what}: logo: {html}");
    assert_eq!(html.contains(name), logo, "{what}: name: {html}");
    assert_eq!(html.contains("merchant-logo"), logo, "{what}: {html}");
    for other in [not.0, not.1, &format!("accent={}", not.2)] {
        assert!(!html.contains(other), "{what}: {other} shown: {html}");
    }
}

/// A page that cannot tell (or prove) its profile wears no branding at all.
fn assert_plain(html: &str, looks: &[&Look], what: &str) {
    assert!(!html.contains("/branding/theme.css"), "{what}: {html}");
    assert!(!html.contains("merchant-logo"), "{what}: {html}");
    for Look(name, logo, _) in looks {
        assert!(
            !html.contains(name) && !html.contains(logo),
            "{what}: {html}"
        );
    }
}

/// Sets a scope's display name, accent and a logo; returns the logo's path.
async fn set_look(app: &TestApp, path: &str, name: &str, accent: &str, size: u32) -> String {
    let look = json!({"display_name": name, "accent_color": format!("#{accent}")});
    let (s, b) = app.post(path, look).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let logo = format!("{path}/logo");
    let (s, b) = upload(app, &app.sk, &logo, "image/png", png(size, size)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let url = b["logo"]["url"].as_str().unwrap();
    url.strip_prefix(&app.base).unwrap().to_string()
}

/// Paymob's payer pages wear the look of the profile that owns them, each field from the
/// profile's branding else the merchant's: Unified Checkout and the legacy iframe page (name,
/// logo, theme), Pixel's card frame (theme only), the 3-D Secure page and the signed status
/// page. A page that cannot prove its profile (unknown public key, someone else's client
/// secret, an unverified status query) wears none.
async fn the_paymob_pages_wear_their_profiles_branding(app: &TestApp) {
    let a = pm_profile(app, "Cairo Shop").await;
    let b = pm_profile(app, "Giza Shop").await;
    let merchant_logo = set_look(app, "/v1/branding", "Nile Books", "0a66c2", 64).await;
    let a_path = format!("/v1/paymob/profiles/{}/branding", a.id);
    let profile_logo = set_look(app, &a_path, "Cairo Books", "7a1fa2", 48).await;
    let merchant = Look("Nile Books", &merchant_logo, "0a66c2");
    let profile = Look("Cairo Books", &profile_logo, "7a1fa2");

    let (cs, key) = pm_intention(app, &a).await;
    let checkout = format!("/unifiedcheckout/?publicKey={}&clientSecret={cs}", a.pk);
    let r = app.http.get(app.url(&checkout)).send().await.unwrap();
    // The page may load what it links: same-origin styles and images.
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("style-src 'self'"), "{csp}");
    assert!(csp.contains("img-src 'self'"), "{csp}");
    let html = r.text().await.unwrap();
    assert_wears(&html, &profile, true, &merchant, "unified checkout");
    assert!(html.contains("data-display-name=\"Cairo Books\""), "{html}");
    for path in [profile.1, "/branding/theme.css?accent=7a1fa2"] {
        assert_eq!(page_of(app, path).await.0, StatusCode::OK, "{path}");
    }
    let iframe = format!("/api/acceptance/iframes/{}?payment_token={key}", a.iframe);
    let (s, html) = page_of(app, &iframe).await;
    assert_eq!(s, StatusCode::OK);
    assert_wears(&html, &profile, true, &merchant, "iframe page");
    let (_, html) = page_of(app, &format!("/iframe-card-v2/?publicKey={}", a.pk)).await;
    assert_wears(&html, &profile, false, &merchant, "card frame");

    // The other profile has no branding of its own: the merchant's.
    let (cs_b, _) = pm_intention(app, &b).await;
    let b_checkout = format!("/unifiedcheckout/?publicKey={}&clientSecret={cs_b}", b.pk);
    let (_, html) = page_of(app, &b_checkout).await;
    assert_wears(&html, &merchant, true, &profile, "B's checkout");
    let (_, html) = page_of(app, &format!("/iframe-card-v2/?publicKey={}", b.pk)).await;
    assert_wears(&html, &merchant, false, &profile, "B's card frame");

    // Pages that cannot prove their profile: unknown key, another profile's intention, a bad
    // payment token.
    for path in [
        format!("/unifiedcheckout/?publicKey=egy_pk_test_nope&clientSecret={cs}"),
        format!("/unifiedcheckout/?publicKey={}&clientSecret={cs}", b.pk),
        format!("/api/acceptance/iframes/{}?payment_token=nope", a.iframe),
        "/iframe-card-v2/?publicKey=egy_pk_test_nope".to_string(),
    ] {
        let (s, html) = page_of(app, &path).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert_plain(&html, &[&merchant, &profile], &path);
    }

    // A 3-D Secure payment: the bank page and the signed status page wear the profile's look.
    let card = json!({"subtype": "CARD", "identifier": "5123456789012346",
                      "sourceholder_name": "Test Account", "expiry_month": "01",
                      "expiry_year": "39", "cvn": "123"});
    let pay = json!({"source": card, "payment_token": key});
    let r = app.http.post(app.url("/api/acceptance/payments/pay"));
    let r: Value = r.json(&pay).send().await.unwrap().json().await.unwrap();
    let acs = r["redirect_url"].as_str().unwrap().to_string();
    assert!(acs.contains("/api/acceptance/challenge/"), "{r}");
    let (s, html) = page_of(app, &acs).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert_wears(&html, &profile, true, &merchant, "3-D Secure page");
    assert!(
        !html.contains("Cairo Shop"),
        "the display name replaces the profile's name"
    );
    let r = app.http.post(&acs).form(&[("action", "approve")]);
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let status = r.headers()["location"].to_str().unwrap().to_string();
    let (s, html) = page_of(app, &status).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(html.contains("data-status=\"success\""), "{html}");
    assert_wears(&html, &profile, true, &merchant, "status page");

    // The same transaction's status with a changed amount, or unsigned: unverified, plain.
    let tampered = status.replace("amount_cents=25050", "amount_cents=99999900");
    assert_ne!(tampered, status);
    let mut unsigned = url::Url::parse(&status).unwrap();
    let kept: Vec<(String, String)> = unsigned.query_pairs().into_owned().collect();
    let kept = kept.iter().filter(|(k, _)| k != "hmac");
    unsigned.query_pairs_mut().clear().extend_pairs(kept);
    let unsigned = unsigned.to_string();
    for (url, want) in [(tampered, 403), (unsigned, 400)] {
        let (s, html) = page_of(app, &url).await;
        assert_eq!(s.as_u16(), want, "{url}");
        assert!(html.contains("data-status=\"unverified\""), "{html}");
        assert_plain(&html, &[&merchant, &profile], "unverified status page");
    }
}

on_both!(
    the_checkout_page_wears_the_merchants_branding,
    the_paymob_pages_wear_their_profiles_branding,
    the_merchants_name_and_accent_colour_are_checked_and_kept,
    a_logo_is_re_encoded_served_publicly_and_replaced,
    projects_and_profiles_have_their_own_branding_and_other_merchants_see_none,
    the_theme_stylesheet_only_ever_holds_a_readable_colour,
);
