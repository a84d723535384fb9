//! The hosted checkout in the payer's language (issue 10, "Languages", "Never stuck"): the
//! browser's Accept-Language or an explicit `?lang=` (carried through the whole flow) decides
//! `<html lang dir>`, every word, the amount's format and the decline reason; a payer with a
//! return URL always has a way back; the status a payer reads is a label, not a machine state.
//!
//! The expected texts are written out here, not read from the catalogs, so a catalog or
//! formatting regression fails this file.

mod common;

use common::TestApp;
use serde_json::json;

const RLM: &str = "\u{200f}";
const NBSP: &str = "\u{a0}";

use common::{element_text, hidden};

/// The value of `attr` on the element with `id`.
fn attribute(html: &str, id: &str, attr: &str) -> Option<String> {
    let marker = format!("id=\"{id}\"");
    let at = html.find(&marker)?;
    let tag_start = html[..at].rfind('<')?;
    let tag = &html[tag_start..at + html[at..].find('>')?];
    let m = format!("{attr}=\"");
    let v = tag.find(&m)? + m.len();
    Some(tag[v..].split('"').next()?.to_string())
}

/// A cookie-keeping client that does not follow redirects and always sends `accept`.
struct Browser {
    http: reqwest::Client,
}

impl Browser {
    fn new(accept_language: &str) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT_LANGUAGE,
            accept_language.parse().unwrap(),
        );
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .default_headers(headers)
                .build()
                .unwrap(),
        }
    }

    async fn get(&self, url: &str) -> (u16, String) {
        let r = self.http.get(url).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Posts the form; the status, the Location (if any) and the body.
    async fn post(&self, url: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        let r = self.http.post(url).form(form).send().await.unwrap();
        let loc = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (r.status().as_u16(), loc, r.text().await.unwrap())
    }
}

fn absolute(app: &TestApp, loc: &str) -> String {
    if loc.starts_with("http") {
        loc.to_string()
    } else {
        app.url(loc)
    }
}

/// The form's action, as an absolute URL.
fn action(app: &TestApp, page: &str) -> String {
    let href = attribute(page, "payment-form", "action").expect("the form has an action");
    absolute(app, &href.replace("&amp;", "&"))
}

async fn submit(
    app: &TestApp,
    b: &Browser,
    page: &str,
    number: &str,
    name: &str,
) -> (u16, String, String) {
    b.post(
        &action(app, page),
        &[
            ("csrf", &hidden(page, "csrf")),
            ("nonce", &hidden(page, "nonce")),
            ("number", number),
            ("exp", "12/34"),
            ("cvc", "123"),
            ("name", name),
        ],
    )
    .await
}

fn assert_html_lang(page: &str, lang: &str, dir: &str) {
    let want = format!("<html lang=\"{lang}\" dir=\"{dir}\">");
    assert!(
        page.contains(&want),
        "{want} in {}",
        &page[..page.len().min(300)]
    );
}

async fn an_arabic_browser_gets_a_right_to_left_page_with_the_arabic_amount(app: &TestApp) {
    let pi = app.create_intent(25000, json!({"currency": "egp"})).await;
    let checkout = pi["checkout_url"].as_str().unwrap();
    let b = Browser::new("ar-EG,ar;q=0.9");
    let (status, page) = b.get(checkout).await;
    assert_eq!(status, 200);
    assert_html_lang(&page, "ar", "rtl");
    let amount = format!("{RLM}250.00{NBSP}ج.م.{RLM}");
    assert_eq!(element_text(&page, "amount").unwrap(), amount);
    assert_eq!(
        element_text(&page, "pay").unwrap(),
        format!("ادفع {amount}")
    );
    assert!(page.contains(">رقم البطاقة<"), "the card labels are Arabic");
    assert!(
        page.contains(">بطاقات الاختبار<"),
        "the test-cards box is Arabic"
    );
    // The card fields keep the digits' order; the script's messages come in Arabic.
    for id in ["number", "exp", "cvc"] {
        assert_eq!(attribute(&page, id, "dir").as_deref(), Some("ltr"), "#{id}");
    }
    let messages = element_text(&page, "kassa-card-messages").unwrap();
    assert!(messages.contains("أدخل رقم بطاقتك."), "{messages}");
    // The old `EGP 250.00` is gone.
    assert!(!page.contains("EGP 250.00") && !page.contains("250.00 EGP"));
    assert_eq!(element_text(&page, "status").unwrap(), "في انتظار الدفع");
}

async fn each_added_language_shows_its_own_words_and_amount(app: &TestApp) {
    let cases = [
        (
            "fr-FR,fr;q=0.9,en;q=0.5",
            "fr",
            1000,
            "eur",
            format!("Payer 10,00{NBSP}€"),
            "Numéro de carte",
            "En attente de paiement",
        ),
        (
            "de-DE,de;q=0.9",
            "de",
            123_450,
            "eur",
            format!("1.234,50{NBSP}€ bezahlen"),
            "Kartennummer",
            "Zahlung ausstehend",
        ),
        (
            "es-ES,es;q=0.9",
            "es",
            1000,
            "eur",
            format!("Pagar 10,00{NBSP}€"),
            "Número de tarjeta",
            "Pendiente de pago",
        ),
        (
            "tr-TR,tr;q=0.9",
            "tr",
            9990,
            "try",
            "₺99,90 öde".to_string(),
            "Kart numarası",
            "Ödeme bekleniyor",
        ),
    ];
    for (accept, code, amount, currency, pay, number_label, status) in cases {
        let pi = app
            .create_intent(amount, json!({"currency": currency}))
            .await;
        let (_, page) = Browser::new(accept)
            .get(pi["checkout_url"].as_str().unwrap())
            .await;
        assert_html_lang(&page, code, "ltr");
        assert_eq!(element_text(&page, "pay").unwrap(), pay, "{code}");
        assert!(page.contains(&format!(">{number_label}<")), "{code}");
        assert_eq!(element_text(&page, "status").unwrap(), status, "{code}");
        assert!(
            !page.contains("Test cards"),
            "{code}: English left on the page"
        );
    }
}

async fn an_explicit_lang_beats_the_browser_and_is_kept_through_3ds_to_the_end(app: &TestApp) {
    let pi = app.create_intent(4200, json!({"currency": "eur"})).await;
    let checkout = pi["checkout_url"].as_str().unwrap();
    // The browser prefers French; the flow was started in German.
    let b = Browser::new("fr-FR,fr;q=0.9");
    let (_, page) = b.get(&format!("{checkout}?lang=de")).await;
    assert_html_lang(&page, "de", "ltr");
    let form_action = attribute(&page, "payment-form", "action").unwrap();
    assert!(form_action.ends_with("/pay?lang=de"), "{form_action}");
    let canonical = attribute(&page, "payment-form", "data-kassa-url").unwrap();
    assert!(canonical.ends_with("?lang=de"), "{canonical}");
    // The language switcher offers every language, this one current.
    for code in ["en", "ar", "fr", "de", "es", "tr"] {
        assert!(
            page.contains(&format!("?lang={code}\" lang=\"{code}\"")),
            "{code}"
        );
    }
    // 3-D Secure: the bank page and its answer keep the language.
    let (status, loc, _) = submit(app, &b, &page, "4000002500003155", "Ada").await;
    assert_eq!(status, 303);
    assert!(
        loc.contains("/sandbox/3ds/pa_") && loc.ends_with("?lang=de"),
        "{loc}"
    );
    let bank = absolute(app, &loc);
    let (_, bank_page) = b.get(&bank).await;
    assert_html_lang(&bank_page, "de", "ltr");
    assert_eq!(
        element_text(&bank_page, "approve").unwrap(),
        "Authentifizierung abschließen"
    );
    assert_eq!(
        element_text(&bank_page, "amount").unwrap(),
        format!("42,00{NBSP}€")
    );
    let bank_action = attribute(&bank_page, "challenge-form", "action").unwrap();
    assert!(bank_action.ends_with("?lang=de"), "{bank_action}");
    // Without the parameter the same page speaks the browser's language.
    let bare = bank.split('?').next().unwrap();
    let (_, french) = b.get(bare).await;
    assert_html_lang(&french, "fr", "ltr");
    let (status, back, _) = b
        .post(
            &absolute(app, &bank_action),
            &[("csrf", &hidden(&bank_page, "csrf")), ("action", "approve")],
        )
        .await;
    assert_eq!(status, 303);
    assert!(back.ends_with("?lang=de"), "{back}");
    let (_, done) = b.get(&absolute(app, &back)).await;
    assert_html_lang(&done, "de", "ltr");
    assert!(done.contains("Zahlung erfolgreich"), "{done}");
    assert_eq!(element_text(&done, "status").unwrap(), "Bezahlt");
    assert_eq!(
        attribute(&done, "status", "data-status").as_deref(),
        Some("succeeded")
    );
}

async fn a_decline_in_german_gives_the_german_reason_and_keeps_the_fields(app: &TestApp) {
    let pi = app.create_intent(1000, json!({"currency": "eur"})).await;
    let checkout = pi["checkout_url"].as_str().unwrap();
    let b = Browser::new("de-DE,de;q=0.9,en;q=0.8");
    let (_, page) = b.get(checkout).await;
    let (status, _, page) = submit(app, &b, &page, "4000 0000 0000 9995", "Ada Lovelace").await;
    assert_eq!(status, 200);
    assert_html_lang(&page, "de", "ltr");
    assert_eq!(
        element_text(&page, "error").unwrap(),
        "Ihre Karte ist nicht ausreichend gedeckt. Versuchen Sie es mit einer anderen Karte."
    );
    assert!(page.contains(r#"role="alert" tabindex="-1" data-kassa-focus"#));
    assert!(page.contains(r#"value="12/34""#) && page.contains(r#"value="Ada Lovelace""#));
    // A field error is German too (and the number is not echoed).
    let (_, fresh) = b.get(checkout).await;
    let (status, _, page) = submit(app, &b, &fresh, "4242424242424241", "").await;
    assert_eq!(status, 400);
    assert_eq!(
        element_text(&page, "number-error").unwrap(),
        "Diese Kartennummer ist falsch. Prüfen Sie sie und versuchen Sie es erneut."
    );
}

async fn a_return_url_gives_a_way_back_without_canceling_and_none_without(app: &TestApp) {
    let pi = app
        .create_intent(
            2500,
            json!({"return_url": "https://shop.example/done?order=7"}),
        )
        .await;
    let id = pi["id"].as_str().unwrap();
    let b = Browser::new("en");
    let (_, page) = b.get(pi["checkout_url"].as_str().unwrap()).await;
    let href = attribute(&page, "back", "href")
        .expect("a back link")
        .replace("&amp;", "&");
    assert_eq!(
        href,
        format!(
            "https://shop.example/done?order=7&payment_intent={id}&redirect_status=requires_payment_method"
        )
    );
    assert!(page.contains("</span> Back to Demo Shop</a>"), "{page}");
    let (_, got) = app.get(&format!("/v1/payment_intents/{id}")).await;
    assert_eq!(
        got["status"], "requires_payment_method",
        "leaving cancels nothing"
    );

    // Still there after a decline, in Arabic too.
    let ar = Browser::new("ar");
    let (_, page) = ar.get(pi["checkout_url"].as_str().unwrap()).await;
    let (_, _, declined) = submit(app, &ar, &page, "4000000000000002", "").await;
    assert!(element_text(&declined, "error").is_some());
    assert!(declined.contains("id=\"back\"") && declined.contains("العودة إلى Demo Shop</a>"));

    // Canceled: the way back carries the final status.
    let (status, _) = app
        .post(&format!("/v1/payment_intents/{id}/cancel"), json!({}))
        .await;
    assert_eq!(status.as_u16(), 200);
    let (_, canceled) = b.get(pi["checkout_url"].as_str().unwrap()).await;
    let ret = attribute(&canceled, "return", "href").unwrap();
    assert!(ret.ends_with("redirect_status=failed"), "{ret}");
    assert_eq!(element_text(&canceled, "status").unwrap(), "Canceled");

    // No return URL: no link.
    let pi = app.create_intent(2500, json!({})).await;
    let (_, page) = b.get(pi["checkout_url"].as_str().unwrap()).await;
    assert!(!page.contains("id=\"back\""));
    assert!(!page.contains("redirect_status"));
}

async fn the_status_a_payer_reads_is_a_label_not_a_machine_state(app: &TestApp) {
    let pi = app.create_intent(1000, json!({})).await;
    let b = Browser::new("en-US,en;q=0.9");
    let (_, page) = b.get(pi["checkout_url"].as_str().unwrap()).await;
    assert_html_lang(&page, "en", "ltr");
    assert_eq!(
        element_text(&page, "status").unwrap(),
        "Waiting for payment"
    );
    assert_eq!(
        attribute(&page, "status", "data-status").as_deref(),
        Some("requires_payment_method")
    );
    assert!(!page.contains(">requires_payment_method<"));
    assert_eq!(element_text(&page, "pay").unwrap(), "Pay $10.00");
    assert!(!page.contains("USD 10.00"));
}

async fn message_pages_speak_the_payers_language_and_offer_a_way_forward(app: &TestApp) {
    let ar = Browser::new("ar");
    let (status, page) = ar.get(&app.url("/checkout/cs_doesnotexist")).await;
    assert_eq!(status, 404);
    assert_html_lang(&page, "ar", "rtl");
    assert_eq!(
        element_text(&page, "message-title").unwrap(),
        "صفحة الدفع غير موجودة"
    );
    let (status, page) = ar
        .get(&app.url("/sandbox/3ds/pa_doesnotexist?lang=tr"))
        .await;
    assert_eq!(status, 404);
    assert_html_lang(&page, "tr", "ltr");

    // A forged post (no cookie): the expired-form page, in the flow's language, with a way
    // back to the form that keeps the language.
    let pi = app.create_intent(1000, json!({})).await;
    let checkout = pi["checkout_url"].as_str().unwrap();
    let (_, page) = Browser::new("en").get(&format!("{checkout}?lang=es")).await;
    let stranger = Browser::new("en");
    let (status, _, refused) = submit(app, &stranger, &page, "4242424242424242", "").await;
    assert_eq!(status, 403);
    assert_html_lang(&refused, "es", "ltr");
    assert_eq!(
        element_text(&refused, "message-title").unwrap(),
        "Este formulario ha caducado"
    );
    let link = attribute(&refused, "message-link", "href").unwrap();
    assert!(
        link.ends_with("?lang=es") && link.starts_with("/checkout/cs_"),
        "{link}"
    );
}

on_both!(
    an_arabic_browser_gets_a_right_to_left_page_with_the_arabic_amount,
    each_added_language_shows_its_own_words_and_amount,
    an_explicit_lang_beats_the_browser_and_is_kept_through_3ds_to_the_end,
    a_decline_in_german_gives_the_german_reason_and_keeps_the_fields,
    a_return_url_gives_a_way_back_without_canceling_and_none_without,
    the_status_a_payer_reads_is_a_label_not_a_machine_state,
    message_pages_speak_the_payers_language_and_offer_a_way_forward,
);
