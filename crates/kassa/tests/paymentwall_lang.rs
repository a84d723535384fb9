//! The Paymentwall payment page in the payer's language, black-box through HTTP on SQLite and
//! PostgreSQL: the link's `lang` (else `Accept-Language`) decides every page of the flow —
//! methods, card, 3-D Secure, wallet code, voucher, thank-you, declines, the refused-link page
//! — with `<html lang dir>`, translated words, amounts in the language's format, a voucher
//! reference grouped for reading with its expiry and a Copy button, and no raw state word.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use kassa::reexport::service::paymentwall::ProjectInput;
use kassa_paymentwall::{sign_widget, SignVersion};

struct Project {
    id: String,
    key: String,
    secret: String,
}

async fn project(app: &TestApp) -> Project {
    let input: ProjectInput = serde_json::from_value(serde_json::json!({
        "name": "Game shop",
        "api_type": "digital_goods",
        "pingback_url": "http://127.0.0.1:9/pingback",
    }))
    .unwrap();
    let p = app
        .svc
        .paymentwall()
        .create_project(&app.merchant_id, input)
        .await
        .unwrap();
    Project {
        id: p.row.id.clone(),
        key: p.row.project_key.clone(),
        secret: p.secret.clone(),
    }
}

/// A signed v3 link for `amount currency` with `extra` parameters (e.g. `lang`); widget `p1_1`
/// unless `extra` names one.
fn link(p: &Project, amount: &str, currency: &str, extra: &[(&str, &str)]) -> String {
    let widget = extra
        .iter()
        .find(|(k, _)| *k == "widget")
        .map_or("p1_1", |(_, v)| *v);
    let extra: Vec<_> = extra.iter().filter(|(k, _)| *k != "widget").collect();
    let mut all: Vec<(String, String)> = vec![
        ("key".into(), p.key.clone()),
        ("uid".into(), "user40012".into()),
        ("widget".into(), widget.into()),
        ("amount".into(), amount.into()),
        ("currencyCode".into(), currency.into()),
        ("ag_name".into(), "Gold Membership".into()),
        ("ag_external_id".into(), format!("item-{}", extra.len())),
        ("ag_type".into(), "fixed".into()),
        (
            "failure_url".into(),
            "https://merchant.example/cancelled".into(),
        ),
    ];
    for (k, v) in &extra {
        all.push((k.to_string(), v.to_string()));
    }
    all.push(("sign_version".into(), "3".into()));
    let sign = sign_widget(&all, &p.secret, SignVersion::V3);
    all.push(("sign".into(), sign));
    format!(
        "/api/subscription?{}",
        kassa_paymentwall::encode_query(&all)
    )
}

/// A client that sends `Accept-Language` (or none) on every request and follows no redirect.
fn client(accept_language: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(al) = accept_language {
        headers.insert(reqwest::header::ACCEPT_LANGUAGE, al.parse().unwrap());
    }
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap()
}

async fn open(app: &TestApp, c: &reqwest::Client, link: &str) -> String {
    let r = c.get(app.url(link)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    r.headers()["location"].to_str().unwrap().to_string()
}

async fn page(app: &TestApp, c: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let r = c.get(app.url(path)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

use common::hidden as attr;

/// Posts the form on the page at `path` (`pay` or `action`); the page answering it (the POST's
/// own answer after a decline, else the page it redirects to).
async fn submit(
    app: &TestApp,
    c: &reqwest::Client,
    path: &str,
    form: &str,
    fields: &[(&str, &str)],
) -> String {
    let (_, html) = page(app, c, path).await;
    let mut body: Vec<(String, String)> = vec![("token".into(), attr(&html, "token"))];
    if form == "pay" {
        body.push(("nonce".into(), attr(&html, "nonce")));
        body.push(("ps".into(), attr(&html, "ps")));
    }
    for (k, v) in fields {
        body.push((k.to_string(), v.to_string()));
    }
    let target = path.split('?').next().unwrap();
    let r = c
        .post(app.url(&format!("{target}/{form}")))
        .form(&body)
        .send()
        .await
        .unwrap();
    // A decline (200) or a refused field (400) answers the POST itself with the form again.
    if r.status() == StatusCode::OK || r.status() == StatusCode::BAD_REQUEST {
        return r.text().await.unwrap();
    }
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    page(app, c, &loc).await.1
}

fn card(number: &'static str, cvc: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("number", number),
        ("exp", "12/34"),
        ("cvc", cvc),
        ("name", "Jo Doe"),
    ]
}

/// The text a payer sees: no tags, no `<script>`/`<style>` contents, no attribute values.
fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let lower = tail.get(..8).unwrap_or("").to_ascii_lowercase();
        let skip_to = if lower.starts_with("<script") {
            tail.find("</script>").map(|i| i + 9)
        } else if lower.starts_with("<style") {
            tail.find("</style>").map(|i| i + 8)
        } else {
            tail.find('>').map(|i| i + 1)
        };
        match skip_to {
            Some(n) => {
                out.push(' ');
                rest = &tail[n..];
            }
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The page speaks `lang` in `dir`, and shows no machine state to the payer.
fn assert_page(html: &str, lang: &str, dir: &str, where_: &str) {
    assert!(
        html.contains(&format!(r#"<html lang="{lang}" dir="{dir}">"#)),
        "{where_}: not lang={lang} dir={dir}: {html}"
    );
    let text = visible_text(html);
    for raw in [
        "requires_payment_method",
        "requires_action",
        "requires_capture",
        "requires_confirmation",
        "succeeded",
        "canceled",
        "processing_error",
        "voucher_expired",
    ] {
        assert!(
            !text.contains(raw),
            "{where_}: raw state {raw} shown: {text}"
        );
    }
}

/// Arabic: a card flow through 3-D Secure, a wallet flow with a wrong then a right code, and a
/// cash voucher — every page `lang="ar" dir="rtl"` with Arabic words, even when the browser
/// asks for French (the link's `lang` wins).
async fn arabic_flows_stay_arabic(app: &TestApp) {
    let p = project(app).await;
    let c = client(Some("fr-FR,fr;q=0.9"));
    let ar = |html: &str, where_: &str| assert_page(html, "ar", "rtl", where_);

    // Card with 3-D Secure.
    let order = open(app, &c, &link(&p, "250.00", "EGP", &[("lang", "ar")])).await;
    let (_, html) = page(app, &c, &order).await;
    ar(&html, "methods");
    assert!(html.contains("اختر طريقة الدفع"), "{html}");
    assert!(html.contains("بطاقة ائتمان / خصم"), "{html}");
    assert!(html.contains("250.00") && html.contains("ج.م."), "{html}");
    assert!(
        !html.contains("EGP 250.00") && !html.contains("250.00 EGP"),
        "{html}"
    );
    assert!(html.contains("إلغاء والعودة إلى Game shop"), "{html}");
    let (_, html) = page(app, &c, &format!("{order}?ps=cc")).await;
    ar(&html, "card form");
    assert!(html.contains("رقم البطاقة"), "{html}");
    assert!(html.contains(r#"id="kassa-card-messages""#), "{html}");
    assert!(html.contains(r#"id="number" name="number""#) && html.contains(r#"dir="ltr""#));
    let html = submit(
        app,
        &c,
        &format!("{order}?ps=cc"),
        "pay",
        &card("4000 0000 0000 3220", "123"),
    )
    .await;
    ar(&html, "3-D Secure");
    assert!(
        html.contains("محاكاة 3-D Secure") && html.contains("إتمام التحقق"),
        "{html}"
    );
    // Failing authentication: the card form again, the reason in Arabic, a way on.
    let html = submit(app, &c, &order, "action", &[("action", "fail")]).await;
    ar(&html, "3-D Secure failed");
    assert!(html.contains("لم يتمكن بنكك من التحقق من هويتك."), "{html}");
    assert!(
        html.contains("اختر طريقة أخرى") && html.contains(r#"id="change-method""#),
        "{html}"
    );
    let html = submit(
        app,
        &c,
        &format!("{order}?ps=cc"),
        "pay",
        &card("4000 0000 0000 3220", "123"),
    )
    .await;
    ar(&html, "3-D Secure again");
    let html = submit(app, &c, &order, "action", &[("action", "approve")]).await;
    ar(&html, "thank-you");
    assert!(html.contains("شكرًا لك! تمت عملية الدفع بنجاح."), "{html}");
    assert!(
        html.contains(r#"<p class="pw-status" id="status">الحالة: "#),
        "{html}"
    );

    // Wallet: phone, a wrong code (declined in Arabic), then the right one.
    let order = open(
        app,
        &c,
        &link(&p, "250.00", "EGP", &[("lang", "ar"), ("x", "w")]),
    )
    .await;
    let w = format!("{order}?ps=sandboxwallet");
    let (_, html) = page(app, &c, &w).await;
    ar(&html, "wallet form");
    assert!(
        html.contains("رقم الهاتف المحمول") && html.contains("محفظة الهاتف المحمول"),
        "{html}"
    );
    let html = submit(app, &c, &w, "pay", &[("phone", "+201001234567")]).await;
    ar(&html, "wallet code");
    assert!(html.contains("أدخل الرمز الذي أرسلناه"), "{html}");
    let html = submit(
        app,
        &c,
        &order,
        "action",
        &[("action", "otp"), ("otp", "000000")],
    )
    .await;
    ar(&html, "wallet code declined");
    assert!(html.contains("رمز التأكيد غير صحيح."), "{html}");
    assert!(
        html.contains(r#"id="phone""#) && html.contains(r#"id="decline""#),
        "{html}"
    );
    submit(app, &c, &w, "pay", &[("phone", "+201001234567")]).await;
    let html = submit(
        app,
        &c,
        &order,
        "action",
        &[("action", "otp"), ("otp", "123456")],
    )
    .await;
    ar(&html, "wallet thank-you");
    assert!(html.contains("شكرًا لك"), "{html}");

    // Cash voucher: the reference grouped, left to right, with its expiry and a Copy button.
    let order = open(
        app,
        &c,
        &link(&p, "250.00", "EGP", &[("lang", "ar"), ("x", "v")]),
    )
    .await;
    let html = submit(app, &c, &format!("{order}?ps=sandboxcash"), "pay", &[]).await;
    ar(&html, "voucher");
    assert!(html.contains("قسيمة الدفع النقدي الخاصة بك"), "{html}");
    let number = voucher_number(&html);
    let grouped = format!("{} {} {}", &number[0..4], &number[4..8], &number[8..12]);
    assert!(
        html.contains(&format!(r#"<span id="voucher" dir="ltr" translate="no" data-reference="{number}">{grouped}</span>"#)),
        "{html}"
    );
    assert!(
        html.contains(r#"id="copy-reference" data-copy=""#) && html.contains("نسخ"),
        "{html}"
    );
    assert!(html.contains(r#"data-copied="تم النسخ""#), "{html}");
    assert!(html.contains(r#"role="status""#), "{html}");
    assert!(
        html.contains("صالحة حتى") && html.contains("<time datetime=\""),
        "{html}"
    );
    let html = submit(app, &c, &order, "action", &[("action", "approve")]).await;
    ar(&html, "voucher thank-you");
}

/// The 12 digits of the voucher on the page.
fn voucher_number(html: &str) -> String {
    let i = html.find("data-reference=\"").expect("a voucher reference") + 16;
    let n: String = html[i..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    assert_eq!(n.len(), 12, "{html}");
    n
}

/// The voucher's expiry: three days after it was issued, written in the page's language, with
/// the machine date in `<time datetime>`.
async fn voucher_reference_and_expiry(app: &TestApp) {
    let p = project(app).await;
    let c = client(None);
    let before = now_secs();
    let order = open(app, &c, &link(&p, "12.50", "EUR", &[("lang", "de")])).await;
    let html = submit(app, &c, &format!("{order}?ps=sandboxcash"), "pay", &[]).await;
    assert_page(&html, "de", "ltr", "German voucher");
    voucher_number(&html);
    let i = html.find("<time datetime=\"").unwrap() + 16;
    let iso = &html[i..i + 17];
    // 2024-03-02T23:30Z
    let (y, mo, d) = (&iso[0..4], &iso[5..7], &iso[8..10]);
    let expected = civil(before + 72 * 3600);
    let got = (
        y.parse::<i64>().unwrap(),
        mo.parse::<i64>().unwrap(),
        d.parse::<i64>().unwrap(),
    );
    let later = civil(now_secs() + 72 * 3600);
    assert!(got == expected || got == later, "{iso} vs {expected:?}");
    let months = [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ];
    let written = format!(
        "Gültig bis {}. {} {}, ",
        got.2,
        months[(got.1 - 1) as usize],
        got.0
    );
    assert!(html.contains(&written), "{written}: {html}");
    assert!(
        html.contains(r#"id="copy-reference""#) && html.contains(">Kopieren</button>"),
        "{html}"
    );
    assert!(
        html.contains("Ihr Barzahlungsgutschein") && html.contains("12,50\u{a0}€"),
        "{html}"
    );
    // The voucher left to expire: the voucher form again with the reason, ways on.
    let html = submit(app, &c, &order, "action", &[("action", "fail")]).await;
    assert_page(&html, "de", "ltr", "expired voucher");
    assert!(
        html.contains(r#"id="decline""#) && html.contains(r#"id="retry-hint""#),
        "{html}"
    );
    assert!(
        html.contains("Gutschein erhalten")
            && html.contains(r#"id="change-method""#)
            && html.contains("Andere Zahlungsart wählen"),
        "{html}"
    );
    assert!(
        html.contains(r#"id="cancel" href="https://merchant.example/cancelled""#),
        "{html}"
    );
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// (year, month, day) in UTC of a Unix time.
fn civil(secs: i64) -> (i64, i64, i64) {
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// French, German, Spanish and Turkish: translated words and the language's amount format on
/// the method list, the card form's Pay button and the thank-you page.
async fn each_language_translates_text_and_amounts(app: &TestApp) {
    let p = project(app).await;
    let c = client(None);
    for (lang, methods, pay, thanks, amount) in [
        (
            "fr",
            "Choisissez un moyen de paiement",
            "Payer 12,50\u{a0}€",
            "Merci ! Votre paiement a réussi.",
            "12,50\u{a0}€",
        ),
        (
            "de",
            "Zahlungsart wählen",
            "12,50\u{a0}€",
            "Vielen Dank! Ihre Zahlung war erfolgreich.",
            "12,50\u{a0}€",
        ),
        (
            "es",
            "Elige un método de pago",
            "Pagar 12,50\u{a0}€",
            "¡Gracias! Tu pago se ha realizado correctamente.",
            "12,50\u{a0}€",
        ),
        (
            "tr",
            "Ödeme yöntemi seçin",
            "€12,50",
            "Teşekkürler! Ödemeniz başarıyla tamamlandı.",
            "€12,50",
        ),
    ] {
        let order = open(app, &c, &link(&p, "12.50", "EUR", &[("lang", lang)])).await;
        let (_, html) = page(app, &c, &order).await;
        assert_page(&html, lang, "ltr", lang);
        assert!(html.contains(methods), "{lang}: {html}");
        assert!(
            html.contains(&format!(r#"<span id="amount">{amount}</span>"#)),
            "{lang}: {html}"
        );
        assert!(
            !html.contains("EUR 12.50") && !html.contains("Select payment method"),
            "{lang}: {html}"
        );
        let (_, html) = page(app, &c, &format!("{order}?ps=cc")).await;
        assert_page(&html, lang, "ltr", lang);
        assert!(html.contains(pay), "{lang}: {html}");
        let html = submit(
            app,
            &c,
            &format!("{order}?ps=cc"),
            "pay",
            &card("4242 4242 4242 4242", "123"),
        )
        .await;
        assert_page(&html, lang, "ltr", lang);
        assert!(html.contains(thanks), "{lang}: {html}");
    }
}

/// No `lang` on the link: the browser's `Accept-Language` speaks, on every page and answer.
async fn accept_language_without_lang(app: &TestApp) {
    let p = project(app).await;
    let c = client(Some("de-CH, de;q=0.9, en;q=0.5"));
    let order = open(app, &c, &link(&p, "12.50", "EUR", &[])).await;
    let (_, html) = page(app, &c, &order).await;
    assert_page(&html, "de", "ltr", "methods");
    assert!(
        html.contains("Zahlungsart wählen") && html.contains("Kredit- / Debitkarte"),
        "{html}"
    );
    let html = submit(
        app,
        &c,
        &format!("{order}?ps=cc"),
        "pay",
        &card("4242 4242 4242 4242", "222"),
    )
    .await;
    assert_page(&html, "de", "ltr", "decline");
    assert!(
        html.contains(r#"id="decline""#) && !html.contains("insufficient balance"),
        "{html}"
    );
    // A browser without the header gets English.
    let (_, html) = page(app, &client(None), &order).await;
    assert_page(&html, "en", "ltr", "English");
    assert!(
        html.contains("Select payment method") && html.contains("€12.50"),
        "{html}"
    );
}

/// Spanish: the issuer's decline reason in Spanish; every field but the CVC kept.
async fn a_decline_in_spanish(app: &TestApp) {
    let p = project(app).await;
    let c = client(None);
    let order = open(app, &c, &link(&p, "12.50", "EUR", &[("lang", "es")])).await;
    let html = submit(
        app,
        &c,
        &format!("{order}?ps=cc"),
        "pay",
        &card("4242 4242 4242 4242", "222"),
    )
    .await;
    assert_page(&html, "es", "ltr", "decline");
    assert!(
        html.contains("Tu tarjeta no tiene fondos suficientes."),
        "{html}"
    );
    assert!(!html.contains("insufficient balance"), "{html}");
    assert!(
        html.contains(r#"role="alert" id="decline" tabindex="-1" data-kassa-focus"#),
        "{html}"
    );
    for kept in [
        r#"value="4242 4242 4242 4242""#,
        r#"value="12/34""#,
        r#"value="Jo Doe""#,
    ] {
        assert!(html.contains(kept), "{kept}: {html}");
    }
    assert!(!html.contains(r#"value="222""#));
    assert!(
        html.contains("Elegir otro método de pago") && html.contains(r#"id="change-method""#),
        "{html}"
    );
    // A refused field (not a decline) is in Spanish too.
    let html = submit(
        app,
        &c,
        &format!("{order}?ps=cc"),
        "pay",
        &[("number", ""), ("exp", "12/34"), ("cvc", "123")],
    )
    .await;
    assert_page(&html, "es", "ltr", "refused field");
    assert!(
        html.contains("Introduce el número de tu tarjeta."),
        "{html}"
    );
    assert!(!html.contains("Enter your card number."), "{html}");
}

/// A refused link (wrong signature) answers in the link's own language, Arabic right to left.
async fn refused_link_in_its_language(app: &TestApp) {
    let p = project(app).await;
    let c = client(Some("en"));
    for (lang, dir, words) in [
        (
            "tr",
            "ltr",
            "Bu içeriği görüntüleme yetkiniz yok gibi görünüyor.",
        ),
        ("ar", "rtl", "يبدو أنك غير مصرح لك بعرض هذا المحتوى."),
    ] {
        let l = link(&p, "12.50", "EUR", &[("lang", lang)]).replace("amount=12.50", "amount=0.01");
        let (status, html) = page(app, &c, &l).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_page(&html, lang, dir, "refused link");
        assert!(html.contains(words), "{html}");
        // The developer's diagnosis stays, marked as English.
        assert!(
            html.contains(r#"lang="en" dir="ltr" class="diagnosis-check""#),
            "{html}"
        );
    }
    // An unknown order's page follows the browser.
    let (status, html) = page(
        app,
        &client(Some("es")),
        "/pw/orders/pwo_doesnotexist0000000000",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_page(&html, "es", "ltr", "not found");
    assert!(
        html.contains("Esta página de pago no existe o ha caducado."),
        "{html}"
    );
}

/// The project's branding on its page: its display name, its logo and its accent theme; the
/// merchant's look fills what the project does not set.
async fn the_page_wears_the_projects_branding(app: &TestApp) {
    let p = project(app).await;
    let (s, b) = app
        .post(
            "/v1/branding",
            serde_json::json!({"display_name": "Merchant Name", "accent_color": "#0a66c2"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = app
        .post(
            &format!("/v1/paymentwall/projects/{}/branding", p.id),
            serde_json::json!({"display_name": "Dragon Store"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let c = client(None);
    let loc = open(app, &c, &link(&p, "9.99", "USD", &[])).await;
    let (s, html) = page(app, &c, &loc).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("Dragon Store"),
        "the project's display name: {html}"
    );
    assert!(
        !html.contains("Game shop"),
        "not the project's internal name"
    );
    assert!(
        html.contains("href=\"/branding/theme.css?accent=0a66c2\""),
        "the merchant's accent applies where the project sets none"
    );
    assert!(
        !html.contains("merchant-logo"),
        "no logo uploaded, no image"
    );
}

/// The link's widget code chooses the page's layout: the desktop widgets (`p1`, `p4`, `p10`,
/// `pw`) two columns on wide screens, the mobile and single-method ones (`m2`, `p2`) one.
async fn widget_codes_choose_the_layout(app: &TestApp) {
    let p = project(app).await;
    let c = client(None);
    for (widget, layout) in [
        ("p1_1", "two"),
        ("pw_1", "two"),
        ("m2_1", "one"),
        ("p2_1", "one"),
    ] {
        let extra = [("widget", widget), ("ps", "cc")];
        let loc = open(app, &c, &link(&p, "9.99", "USD", &extra)).await;
        let (s, html) = page(app, &c, &loc).await;
        assert_eq!(s, StatusCode::OK, "{widget}");
        assert!(
            html.contains(&format!("class=\"page pw-layout-{layout}\"")),
            "{widget} lays out in {layout} column(s): {html}"
        );
        assert!(html.contains("id=\"pw-body\""), "{widget}");
    }
}

on_both!(
    widget_codes_choose_the_layout,
    the_page_wears_the_projects_branding,
    arabic_flows_stay_arabic,
    voucher_reference_and_expiry,
    each_language_translates_text_and_amounts,
    accept_language_without_lang,
    a_decline_in_spanish,
    refused_link_in_its_language,
);
