//! Widgets, branding, the logo form and the preview.

use axum::http::StatusCode;
use serde_json::json;

use super::common::dashboard::{set_up, Browser, Page};
use super::common::TestApp;
use super::*;

pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(w, h, image::Rgba([10, 102, 194, 255]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgba8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// A logo form as a browser sends it (`multipart/form-data`).
pub async fn post_logo(b: &Browser, path: &str, csrf: Option<&str>, file: &[u8]) -> Page {
    let mut body = Vec::new();
    if let Some(c) = csrf {
        body.extend_from_slice(
            format!("--BOUNDARY\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{c}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"logo\"; filename=\"logo.png\"\r\nContent-Type: image/png\r\n\r\n",
    );
    body.extend_from_slice(file);
    body.extend_from_slice(b"\r\n--BOUNDARY--\r\n");
    let resp = b
        .http
        .post(format!("{}{path}", b.base))
        .header("content-type", "multipart/form-data; boundary=BOUNDARY")
        .header("origin", &b.base)
        .header("sec-fetch-site", "same-origin")
        .body(body)
        .send()
        .await
        .unwrap();
    Browser::page(resp).await
}

pub async fn widgets_branding_and_the_preview(app: &TestApp) {
    let b = set_up(app, "brand@shop.example", "admin").await;
    let (id, _) = create_project(&b, "Brand", "digital_goods").await;
    let path = project_path(&id, "widgets");
    let page = b.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.csrf();
    let r = b
        .post(&path, &[("csrf", &csrf), ("widgets", "p1_1, pw_1 m2_1")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        api_project(app, &id).await["widgets"],
        json!(["p1_1", "pw_1", "m2_1"])
    );
    let r = b
        .post(&path, &[("csrf", &csrf), ("widgets", "p1_1, w1")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("not a payment widget code"), "{}", r.body);

    let branding = project_path(&id, "branding");
    let r = b
        .post(
            &branding,
            &[
                ("csrf", &csrf),
                ("display_name", "Brand Games"),
                ("accent_color", "#1a5fb4"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = b
        .post(
            &branding,
            &[
                ("csrf", &csrf),
                ("display_name", "x"),
                ("accent_color", "red"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let scope = kassa::reexport::service::branding::BrandScope::PwProject(id.clone());
    let got = app
        .svc
        .branding()
        .get_branding(&app.merchant_id, &scope)
        .await
        .unwrap();
    assert_eq!(got.display_name.as_deref(), Some("Brand Games"));
    assert_eq!(got.accent_color.as_deref(), Some("#1a5fb4"));

    // The logo form: multipart, with the session's token.
    let logo = project_path(&id, "logo");
    assert_eq!(
        post_logo(&b, &logo, None, &png(64, 32)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post_logo(&b, &logo, Some(&"0".repeat(64)), &png(64, 32))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = post_logo(&b, &logo, Some(&csrf), b"not an image").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = post_logo(&b, &logo, Some(&csrf), &png(64, 32)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let got = app
        .svc
        .branding()
        .get_branding(&app.merchant_id, &scope)
        .await
        .unwrap();
    let logo_id = got.logo.expect("the logo is stored").id;
    let page = b.get(&format!("{path}?saved=logo")).await;
    assert!(
        page.body.contains("Logo uploaded.")
            && page.body.contains(&format!("/branding/logos/{logo_id}"))
    );
    let r = b
        .post(&project_path(&id, "logo/remove"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(app
        .svc
        .branding()
        .get_branding(&app.merchant_id, &scope)
        .await
        .unwrap()
        .logo
        .is_none());

    // The preview: a signed test link, framed here (same origin, framing allowed).
    let page = b
        .get(&format!("{path}?preview=1&widget=pw_1&lang=de&country=DE"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("id=\"preview-frame\""), "{}", page.body);
    let at = page.body.find("id=\"preview-link\"").unwrap();
    let href_at = page.body[..at].rfind("href=\"").unwrap() + 6;
    let link = unescape(&page.body[href_at..href_at + page.body[href_at..].find('"').unwrap()]);
    assert!(
        link.starts_with(&app.url("/api/subscription?")) && link.contains("widget=pw_1"),
        "{link}"
    );
    let r = app.http.get(&link).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    // A project only its own origins may frame: no iframe, the link instead.
    app.post(
        &format!("/v1/paymentwall/projects/{id}"),
        json!({"frame_ancestors": "https://shop.example"}),
    )
    .await;
    let page = b.get(&format!("{path}?preview=1")).await;
    assert!(
        !page.body.contains("id=\"preview-frame\"") && page.body.contains("id=\"preview-link\"")
    );
}

crate::on_both!(widgets_branding_and_the_preview,);
