//! Hosted checkout pages (`/checkout/{token}`) and the sandbox's simulated 3-D Secure issuer
//! page (`/sandbox/3ds/{attempt_id}`).
//!
//! Invariants this module keeps:
//! - The card number and CVC live only in the handler that received them, inside
//!   [`PaymentMethodInput`]; they are never logged or stored by this module. The CVC is never
//!   written into any response. A well-formed card number is echoed back only into the form
//!   re-rendered in answer to the same POST (after a decline, or a format error in another
//!   field, so the payer fixes one field instead of typing every one again), in a `no-store`
//!   response; a number the form refused is never echoed.
//! - One rendered card form confirms at most once: it carries a random `nonce`, used as the
//!   idempotency key `checkout:<nonce>` (request hash: SHA-256 of the checkout token). A double
//!   click, refresh or back-button resubmit finds the key taken and is sent to the checkout page,
//!   which shows the intent's current state. The key is completed in the confirmation's own
//!   transaction, and released only when the confirmation failed without effect.
//! - Every POST passes the CSRF check in [`csrf`]: double-submit cookie plus an HMAC binding the
//!   field to this checkout (or this 3-D Secure attempt).
//! - Every response carries a strict Content-Security-Policy (no inline script or style, no third
//!   party) and `X-Frame-Options: DENY`; bad input gets a 4xx page, never a 500.
//! - Every page speaks the payer's language ([`Flow`]): a `?lang=` given to the checkout URL is
//!   carried on every URL of the flow (form action, 3-D Secure page and its answer, refreshes),
//!   so the language never changes mid-way; without one, each request's `Accept-Language`
//!   decides. Amounts go through `Lang::money`, declines through `Lang::decline`.

mod card_form;
mod challenge;
pub mod csrf;
mod paying;
mod responses;

pub(crate) use card_form::{parse_card, parse_card_in};
use challenge::{challenge_answer, challenge_page};
use paying::pay;
pub(crate) use paying::{is_valid_nonce, PayForm};
use responses::{
    bad_request, cookie_secret, forbidden, html, internal, is_cross_site, not_found, see_other,
    with_cookie,
};
pub(crate) mod view;

use askama::Template;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE, VARY};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use kassa_core::card::{validate_cvc, CardError, CardNumber, Expiry};
use kassa_core::ids::{is_valid_id, prefix, random_token};
use kassa_core::intent::{IntentStatus, PaymentIntent};
use kassa_core::payment_method::SetupFutureUsage;
use kassa_processor::PaymentMethodInput;
use kassa_service::{ConfirmParams, Idem, SaveChoice, ServiceError};
use kassa_store::{now_ms, IdemBegin};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::lang::{page_lang, Lang};
use crate::AppState;
use view::{
    Body, Brand, ChallengePage, CheckoutPage, Done, FieldErrors, FormView, LangLink, MessagePage,
    SaveOffer,
};

const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const CSS: &str = include_str!("../../static/checkout.css");
const JS: &str = include_str!("../../static/checkout.js");

const MAX_NAME_CHARS: usize = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/checkout/assets/checkout.css", get(css))
        .route("/checkout/assets/checkout.js", get(js))
        .route("/checkout/{token}", get(show))
        .route("/checkout/{token}/pay", axum::routing::post(pay))
        .route(
            "/sandbox/3ds/{attempt_id}",
            get(challenge_page).post(challenge_answer),
        )
        .route(
            "/checkout/processor_return/{attempt_id}",
            get(challenge::processor_return),
        )
        .layer(map_response(security_headers))
}

async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    resp
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

pub(crate) fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

// ---- the checkout page ----

/// The language of one page of the flow: `lang` is what the page speaks; `carry` is the explicit
/// `?lang=` the flow was given (kept on every URL it links to), None when the browser's
/// `Accept-Language` decides on each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flow {
    pub(crate) lang: Lang,
    pub(crate) carry: Option<Lang>,
}

impl Flow {
    pub(crate) fn new(headers: &HeaderMap, query: Option<&str>) -> Flow {
        let carry = query.and_then(lang_param);
        Flow {
            lang: page_lang(headers, carry.map(Lang::code)),
            carry,
        }
    }

    /// `?lang=xx` or nothing: for Kassa's own URLs, which have no query of their own.
    fn q(&self) -> String {
        self.carry
            .map(|l| format!("?lang={}", l.code()))
            .unwrap_or_default()
    }

    /// `url` with the carried language added to its query (any URL).
    fn url(&self, url: &str) -> String {
        with_lang(url, self.carry)
    }
}

/// The supported language a query's `lang` names (`ar`, `ar-EG`, `FR`), if any.
fn lang_param(query: &str) -> Option<Lang> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "lang")
        .and_then(|(_, v)| Lang::from_tag(&v))
}

/// `url` with `lang=<code>` appended to its query (before any fragment); unchanged without one.
pub(crate) fn with_lang(url: &str, lang: Option<Lang>) -> String {
    let Some(l) = lang else {
        return url.to_string();
    };
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut out = format!("{base}{sep}lang={}", l.code());
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

async fn show(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let flow = Flow::new(&headers, query.as_deref());
    let Some(token) = checkout_token(path) else {
        return not_found(flow.lang);
    };
    let pi = match load_by_token(&st, &token, flow).await {
        Ok(pi) => pi,
        Err(resp) => return resp,
    };
    let (secret, fresh) = cookie_secret(&headers);
    let page = checkout_page(&st, &pi, &secret, FormInput::default(), flow).await;
    with_cookie(html(StatusCode::OK, &page), &st, fresh.then_some(&secret))
}

/// What a re-rendered form keeps from the submission that failed validation.
#[derive(Default)]
struct FormInput {
    /// Echoed into the re-rendered form only (see the module's invariants).
    number: String,
    exp: String,
    name: String,
    /// The "save this card" box was ticked.
    save: bool,
    errors: FieldErrors,
}

async fn checkout_page(
    st: &AppState,
    pi: &PaymentIntent,
    secret: &str,
    input: FormInput,
    flow: Flow,
) -> CheckoutPage {
    let lang = flow.lang;
    let (merchant, brand) = merchant_look(st, &pi.merchant_id, lang).await;
    let amount = lang.money(pi.amount, pi.currency.code());
    let mut langs = Vec::new();
    let (title, refresh, body) = match pi.status {
        IntentStatus::RequiresPaymentMethod => {
            let decline = if input.errors.any() {
                None
            } else {
                pi.last_payment_error
                    .as_ref()
                    .map(|e| lang.decline(&e.code, e.decline_code.as_deref(), &e.message))
            };
            let form = FormView {
                csrf: csrf::form_token(
                    &st.csrf_key,
                    secret,
                    &csrf_scope_checkout(&pi.checkout_token),
                ),
                nonce: random_token(32),
                number: input.number,
                exp: input.exp,
                name: input.name,
                decline,
                errors: input.errors,
                back_link: pi
                    .return_url
                    .as_deref()
                    .and_then(|u| view::return_link(u, &pi.id, "requires_payment_method")),
                save: match (pi.customer.is_some(), pi.setup_future_usage) {
                    (true, Some(SetupFutureUsage::OffSession)) => SaveOffer::Notice,
                    (true, Some(SetupFutureUsage::OnSession)) => SaveOffer::Optional {
                        checked: input.save,
                    },
                    _ => SaveOffer::None,
                },
            };
            langs = Lang::ALL
                .into_iter()
                .map(|l| LangLink {
                    href: format!("/checkout/{}?lang={}", pi.checkout_token, l.code()),
                    code: l.code(),
                    name: l.native_name(),
                    current: l == lang,
                })
                .collect();
            (
                lang.fmt1("checkout.title_pay", "merchant", &merchant),
                None,
                Body::Form(Box::new(form)),
            )
        }
        IntentStatus::RequiresAction => match &pi.next_action {
            Some(a) => {
                let url = flow.url(&a.redirect_to_url.url);
                (
                    lang.text("checkout.confirm_title").to_string(),
                    Some(format!("1;url={url}")),
                    Body::Action(url),
                )
            }
            // No challenge to go to (should not happen): wait for the state to settle.
            None => (
                lang.text("checkout.processing_title").to_string(),
                Some("2".to_string()),
                Body::Processing,
            ),
        },
        IntentStatus::Processing => (
            lang.text("checkout.processing_title").to_string(),
            Some("2".to_string()),
            Body::Processing,
        ),
        IntentStatus::Succeeded | IntentStatus::RequiresCapture => {
            let authorized = pi.status == IntentStatus::RequiresCapture;
            let link = pi
                .return_url
                .as_deref()
                .and_then(|u| view::return_link(u, &pi.id, "succeeded"));
            let title = if authorized {
                "checkout.authorized_title"
            } else {
                "checkout.success_title"
            };
            (
                lang.text(title).to_string(),
                link.as_ref().map(|l| format!("2;url={l}")),
                Body::Done(Done {
                    authorized,
                    return_link: link,
                }),
            )
        }
        IntentStatus::Canceled => {
            let link = pi
                .return_url
                .as_deref()
                .and_then(|u| view::return_link(u, &pi.id, "failed"));
            (
                lang.text("checkout.canceled_title").to_string(),
                None,
                Body::Canceled(link),
            )
        }
    };
    let status = pi.status.as_str();
    CheckoutPage {
        livemode: pi.livemode,
        lang,
        q: flow.q(),
        title,
        refresh,
        token: pi.checkout_token.clone(),
        merchant,
        brand,
        amount,
        description: pi.description.clone(),
        intent_id: pi.id.clone(),
        status,
        status_label: status_label(lang, status),
        body,
        langs,
    }
}

/// What a payer reads for an intent's status: `Waiting for payment`, never
/// `requires_payment_method` (the machine value stays in `data-status`).
fn status_label(lang: Lang, status: &str) -> &'static str {
    match status {
        "requires_payment_method"
        | "requires_confirmation"
        | "requires_action"
        | "processing"
        | "requires_capture"
        | "succeeded"
        | "canceled" => lang.text(&format!("common.status.{status}")),
        _ => lang.text("common.status.pending"),
    }
}

// ---- every POST ----

/// A form that carries a CSRF field.
trait CsrfForm {
    fn csrf(&self) -> &str;
}

/// The gate every checkout POST passes: not cross-site, a well-formed form, and a CSRF field
/// that matches the cookie for this page's scope. Returns the form and the cookie's secret.
#[allow(clippy::result_large_err)]
fn checked_form<F: CsrfForm>(
    st: &AppState,
    headers: &HeaderMap,
    form: Result<Form<F>, FormRejection>,
    back: &str,
    scope: &str,
    lang: Lang,
) -> Result<(F, String), Response> {
    if is_cross_site(headers) {
        return Err(forbidden(lang, back));
    }
    let Ok(Form(form)) = form else {
        return Err(bad_request(lang, back));
    };
    let cookie = csrf::secret_from_cookies(headers);
    if !csrf::verify(&st.csrf_key, cookie.as_deref(), form.csrf(), scope) {
        return Err(forbidden(lang, back));
    }
    match cookie {
        Some(secret) => Ok((form, secret)),
        None => Err(forbidden(lang, back)),
    }
}

// ---- helpers ----

fn csrf_scope_checkout(token: &str) -> String {
    format!("checkout:{token}")
}

fn checkout_token(path: Result<Path<String>, PathRejection>) -> Option<String> {
    let Path(token) = path.ok()?;
    is_valid_id(&token, prefix::CHECKOUT).then_some(token)
}

async fn load_by_token(st: &AppState, token: &str, flow: Flow) -> Result<PaymentIntent, Response> {
    match st.svc.store.intent_by_checkout_token(token).await {
        Ok(Some(pi)) => Ok(pi),
        Ok(None) => Err(not_found(flow.lang)),
        Err(e) => {
            let here = format!("/checkout/{token}{}", flow.q());
            Err(internal(flow.lang, Some(&here), &e))
        }
    }
}

/// The name payers see (the branding's display name, else the merchant's name) and the
/// merchant's logo and accent theme. A failed read degrades to a generic name, never an error
/// page.
async fn merchant_look(st: &AppState, merchant_id: &str, lang: Lang) -> (String, Brand) {
    let fallback = || lang.text("checkout.merchant_generic").to_string();
    let look = match st
        .svc
        .branding()
        .page_branding(merchant_id, &kassa_service::branding::BrandScope::Merchant)
        .await
    {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "could not load the branding for a checkout page");
            Default::default()
        }
    };
    let brand = Brand {
        logo: look.logo_path,
        theme: look.accent_color.map(crate::native::branding::theme_href),
    };
    if let Some(name) = look.display_name {
        return (name, brand);
    }
    let name = match st.svc.store.merchant(merchant_id).await {
        Ok(Some(m)) => m.name,
        Ok(None) => fallback(),
        Err(e) => {
            tracing::warn!(error = %e, "could not load the merchant for a checkout page");
            fallback()
        }
    };
    (name, brand)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2030-06-15 in Unix milliseconds.
    const JUNE_2030: i64 = 1_907_712_000_000;

    fn form(number: &str, exp: &str, cvc: &str, name: &str) -> PayForm {
        PayForm {
            csrf: String::new(),
            nonce: String::new(),
            number: number.into(),
            exp: exp.into(),
            cvc: cvc.into(),
            name: name.into(),
            save: None,
        }
    }

    fn errors(f: PayForm) -> FieldErrors {
        match parse_card(&f, JUNE_2030) {
            Ok(_) => panic!("expected field errors"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_well_formed_card_becomes_a_payment_method_with_a_trimmed_name() {
        let m = parse_card(
            &form("4242 4242 4242 4242", "12 / 31", "123", "  Ada Lovelace "),
            JUNE_2030,
        )
        .unwrap();
        let PaymentMethodInput::Card {
            number,
            expiry,
            cvc,
            holder_name,
        } = m
        else {
            panic!("expected a card");
        };
        assert_eq!(number.last4(), "4242");
        assert_eq!((expiry.month, expiry.year), (12, 2031));
        assert_eq!(cvc, "123");
        assert_eq!(holder_name.as_deref(), Some("Ada Lovelace"));
    }

    #[test]
    fn an_empty_name_is_no_name() {
        let m = parse_card(&form("4242424242424242", "1231", "123", " "), JUNE_2030).unwrap();
        assert!(matches!(
            m,
            PaymentMethodInput::Card {
                holder_name: None,
                ..
            }
        ));
    }

    #[test]
    fn each_bad_field_gets_its_own_message() {
        let e = errors(form("4242 4242 4242 4241", "13/30", "12", ""));
        assert!(e.number.unwrap().contains("incorrect"));
        assert!(e.exp.unwrap().contains("MM / YY"));
        assert!(e.cvc.is_some());
        assert!(e.name.is_none());
        let e = errors(form("", "", "", ""));
        assert_eq!(e.number, Some("Enter your card number."));
        assert_eq!(e.exp, Some("Enter the expiry date."));
        assert_eq!(e.cvc, Some("Enter the security code."));
        let e = errors(form("4242abcd", "12/30", "123", ""));
        assert_eq!(e.number, Some("This card number is not valid."));
    }

    #[test]
    fn an_expiry_in_an_earlier_month_is_expired_but_this_month_is_fine() {
        assert_eq!(
            errors(form("4242424242424242", "05/30", "123", "")).exp,
            Some("This card has expired.")
        );
        assert!(parse_card(&form("4242424242424242", "06/30", "123", ""), JUNE_2030).is_ok());
    }

    #[test]
    fn the_cvc_length_follows_the_brand() {
        assert!(errors(form("4242424242424242", "12/31", "1234", ""))
            .cvc
            .is_some());
        assert!(parse_card(&form("378282246310005", "12/31", "1234", ""), JUNE_2030).is_ok());
        assert!(parse_card(&form("378282246310005", "12/31", "123", ""), JUNE_2030).is_ok());
    }

    #[test]
    fn overlong_or_unprintable_names_are_refused() {
        assert!(
            errors(form("4242424242424242", "12/31", "123", &"a".repeat(101)))
                .name
                .is_some()
        );
        assert!(errors(form("4242424242424242", "12/31", "123", "Ada\u{7}"))
            .name
            .is_some());
    }

    #[test]
    fn nonces_are_bounded_alphanumerics() {
        assert!(is_valid_nonce(&"a".repeat(32)));
        assert!(!is_valid_nonce("short"));
        assert!(!is_valid_nonce(&"a".repeat(65)));
        assert!(!is_valid_nonce("aaaaaaaaaaaaaaaa-aaaa"));
    }

    fn page(body: Body, status: &'static str, refresh: Option<String>) -> String {
        page_in(Lang::En, body, status, refresh)
    }

    fn page_in(lang: Lang, body: Body, status: &'static str, refresh: Option<String>) -> String {
        CheckoutPage {
            livemode: false,
            lang,
            q: String::new(),
            title: "Pay <Shop>".into(),
            refresh,
            token: "cs_abc".into(),
            merchant: "<Shop & Co>".into(),
            brand: Brand::default(),
            amount: lang.money(1000, "USD"),
            description: Some("<b>Tea</b>".into()),
            intent_id: "pi_1".into(),
            status,
            status_label: status_label(lang, status),
            body,
            langs: Vec::new(),
        }
        .render()
        .unwrap()
    }

    fn form_body(decline: Option<&str>, errors: FieldErrors) -> Body {
        Body::Form(Box::new(FormView {
            csrf: "tok".into(),
            nonce: "n".repeat(32),
            number: String::new(),
            exp: "12 / 31".into(),
            name: "Ada \"Quote\"".into(),
            decline: decline.map(str::to_string),
            errors,
            back_link: None,
            save: SaveOffer::None,
        }))
    }

    fn form_saving(save: SaveOffer) -> Body {
        match form_body(None, FieldErrors::default()) {
            Body::Form(f) => Body::Form(Box::new(FormView { save, ..*f })),
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_form_says_when_the_card_is_kept_and_offers_to_keep_it_when_optional() {
        let plain = page(
            form_body(None, FieldErrors::default()),
            "requires_payment_method",
            None,
        );
        assert!(!plain.contains("id=\"save\"") && !plain.contains("id=\"save-notice\""));
        let notice = page(
            form_saving(SaveOffer::Notice),
            "requires_payment_method",
            None,
        );
        assert!(notice.contains("id=\"save-notice\""), "{notice}");
        assert!(!notice.contains("id=\"save\""));
        let offer = page(
            form_saving(SaveOffer::Optional { checked: false }),
            "requires_payment_method",
            None,
        );
        assert!(
            offer.contains("type=\"checkbox\" id=\"save\" name=\"save\" value=\"1\">"),
            "{offer}"
        );
        assert!(offer.contains("<label for=\"save\""));
        let ticked = page(
            form_saving(SaveOffer::Optional { checked: true }),
            "requires_payment_method",
            None,
        );
        assert!(ticked.contains("value=\"1\" checked>"), "{ticked}");
    }

    #[test]
    fn the_form_page_has_the_agreed_ids_and_no_inline_code_or_style() {
        let html = page(
            form_body(None, FieldErrors::default()),
            "requires_payment_method",
            None,
        );
        for needle in [
            "id=\"payment-form\"",
            "name=\"number\"",
            "id=\"exp\"",
            "autocomplete=\"cc-csc\"",
            "autocomplete=\"cc-name\"",
            "id=\"pay\"",
            "type=\"submit\"",
            "lang=\"en\"",
            "name=\"viewport\"",
            "Test mode",
            "<details",
            "id=\"status\" data-status=\"requires_payment_method\">Waiting for payment<",
            "dir=\"ltr\"",
            "<html lang=\"en\" dir=\"ltr\">",
            "id=\"kassa-card-messages\"",
            ">Pay $10.00<",
        ] {
            assert!(html.contains(needle), "missing {needle}");
        }
        assert!(!html.contains("style="));
        assert!(!html.contains("<style"));
        assert!(!html.contains("<script>"));
        let handler = html.split(" on").skip(1).any(|rest| {
            let word: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
            !word.is_empty() && rest[word.len()..].starts_with('=')
        });
        assert!(!handler, "no inline event handlers");
        assert!(!html.contains("id=\"error\""));
        assert!(!html.contains(">requires_payment_method<"));
    }

    #[test]
    fn an_arabic_page_is_right_to_left_with_arabic_words_and_latin_digits() {
        let html = page_in(
            Lang::Ar,
            form_body(None, FieldErrors::default()),
            "requires_payment_method",
            None,
        );
        assert!(html.contains("<html lang=\"ar\" dir=\"rtl\">"));
        assert!(html.contains(Lang::Ar.text("card.number")));
        assert!(html.contains(Lang::Ar.text("common.status.requires_payment_method")));
        assert!(html.contains(&Lang::Ar.fmt1(
            "common.pay_amount",
            "amount",
            &Lang::Ar.money(1000, "USD")
        )));
        assert!(!html.contains("Card number"));
    }

    #[test]
    fn the_flow_language_comes_from_the_query_and_is_carried_on_urls() {
        let mut h = HeaderMap::new();
        h.insert("accept-language", "fr-FR,fr;q=0.9".parse().unwrap());
        let f = Flow::new(&h, Some("x=1&lang=ar-EG"));
        assert_eq!((f.lang, f.carry), (Lang::Ar, Some(Lang::Ar)));
        assert_eq!(f.q(), "?lang=ar");
        assert_eq!(
            f.url("http://h/sandbox/3ds/pa_1?a=b#x"),
            "http://h/sandbox/3ds/pa_1?a=b&lang=ar#x"
        );
        let f = Flow::new(&h, Some("lang=xx"));
        assert_eq!((f.lang, f.carry), (Lang::Fr, None));
        assert_eq!(f.q(), "");
        assert_eq!(f.url("/checkout/cs_1"), "/checkout/cs_1");
        assert_eq!(Flow::new(&HeaderMap::new(), None).lang, Lang::En);
    }

    #[test]
    fn field_errors_are_in_the_pages_language() {
        let e = match parse_card_in(&form("", "13/30", "12", ""), JUNE_2030, Lang::De) {
            Ok(_) => panic!("expected field errors"),
            Err(e) => e,
        };
        assert_eq!(e.number, Some(Lang::De.text("card.number_required")));
        assert_eq!(e.exp, Some(Lang::De.text("card.expiry_format")));
        assert_ne!(e.number, Some("Enter your card number."));
    }

    #[test]
    fn everything_from_the_merchant_or_customer_is_escaped() {
        let html = page(
            form_body(None, FieldErrors::default()),
            "requires_payment_method",
            None,
        );
        assert!(!html.contains("<Shop"));
        assert!(!html.contains("<b>Tea"));
        assert!(html.contains("&lt;Shop &amp; Co&gt;"));
        assert!(!html.contains("\"Quote\""));
    }

    #[test]
    fn a_decline_is_shown_in_the_error_alert() {
        let html = page(
            form_body(Some("Your card was declined."), FieldErrors::default()),
            "requires_payment_method",
            None,
        );
        // Focusable, and focused on load by the shared card script.
        assert!(html.contains(
            "id=\"error\" role=\"alert\" tabindex=\"-1\" data-kassa-focus>Your card was declined. Try another card.<"
        ));
    }

    #[test]
    fn field_errors_mark_the_field_invalid() {
        let errors = FieldErrors {
            cvc: Some("Enter the security code."),
            ..FieldErrors::default()
        };
        let html = page(form_body(None, errors), "requires_payment_method", None);
        assert!(html.contains("aria-invalid=\"true\" autofocus"));
        assert!(html.contains("id=\"cvc-error\" aria-live=\"polite\">Enter the security code.<"));
    }

    #[test]
    fn the_success_page_links_back_and_redirects_by_itself() {
        let link = "https://shop.example/r?a=1&payment_intent=pi_1&redirect_status=succeeded";
        let html = page(
            Body::Done(Done {
                authorized: false,
                return_link: Some(link.into()),
            }),
            "succeeded",
            Some(format!("2;url={link}")),
        );
        assert!(html.contains("Payment successful"));
        assert!(html.contains("id=\"status\" data-status=\"succeeded\">Paid<"));
        assert!(html.contains("id=\"return\""));
        assert!(html.contains("http-equiv=\"refresh\""));
        assert!(html.contains("redirect_status=succeeded"));
        assert!(!html.contains("id=\"payment-form\""));
    }

    #[test]
    fn the_issuer_page_offers_both_answers() {
        let html = ChallengePage {
            lang: Lang::En,
            q: "?lang=en".into(),
            title: "Your bank".into(),
            refresh: None,
            attempt_id: "pa_1".into(),
            merchant: "Shop".into(),
            brand: Brand::default(),
            amount: "USD 10.00".into(),
            card: Some("Visa •••• 3155".into()),
            csrf: "tok".into(),
        }
        .render()
        .unwrap();
        assert!(html.contains("id=\"approve\" name=\"action\" value=\"approve\""));
        assert!(html.contains("id=\"fail\" name=\"action\" value=\"fail\""));
        assert!(html.contains("action=\"/sandbox/3ds/pa_1?lang=en\""));
        assert!(html.contains("3155"));
    }
}
