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

mod csrf;
pub(crate) mod view;

use askama::Template;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use kassa_core::card::{validate_cvc, CardError, CardNumber, Expiry};
use kassa_core::ids::{is_valid_id, prefix, random_token};
use kassa_core::intent::{IntentStatus, PaymentIntent};
use kassa_processor::PaymentMethodInput;
use kassa_service::{ConfirmParams, Idem, ServiceError};
use kassa_store::{now_ms, IdemBegin};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::AppState;
use view::{Body, ChallengePage, CheckoutPage, Done, FieldErrors, FormView, MessagePage};

const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const CSS: &str = include_str!("../../static/checkout.css");
const JS: &str = include_str!("../../static/checkout.js");

/// A form submission holds its idempotency key at most this long if its process dies.
const IDEM_LOCK_MS: i64 = 60_000;
/// Same retention as the native API's keys: long enough for any back-button resubmit.
const IDEM_RETENTION_MS: i64 = 24 * 3600 * 1000;
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

async fn show(
    State(st): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let Some(token) = checkout_token(path) else {
        return not_found();
    };
    let pi = match load_by_token(&st, &token).await {
        Ok(pi) => pi,
        Err(resp) => return resp,
    };
    let (secret, fresh) = cookie_secret(&headers);
    let page = checkout_page(&st, &pi, &secret, FormInput::default()).await;
    with_cookie(html(StatusCode::OK, &page), &st, fresh.then_some(&secret))
}

/// What a re-rendered form keeps from the submission that failed validation.
#[derive(Default)]
struct FormInput {
    /// Echoed into the re-rendered form only (see the module's invariants).
    number: String,
    exp: String,
    name: String,
    errors: FieldErrors,
}

async fn checkout_page(
    st: &AppState,
    pi: &PaymentIntent,
    secret: &str,
    input: FormInput,
) -> CheckoutPage {
    let merchant = merchant_name(st, &pi.merchant_id).await;
    let amount = view::format_amount(pi.amount, pi.currency);
    let (title, refresh, body) = match pi.status {
        IntentStatus::RequiresPaymentMethod => {
            let decline = if input.errors.any() {
                None
            } else {
                pi.last_payment_error.as_ref().map(|e| e.message.clone())
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
            };
            (format!("Pay {merchant}"), None, Body::Form(form))
        }
        IntentStatus::RequiresAction => match &pi.next_action {
            Some(a) => (
                "Confirm with your bank".to_string(),
                Some(format!("1;url={}", a.redirect_to_url.url)),
                Body::Action(a.redirect_to_url.url.clone()),
            ),
            // No challenge to go to (should not happen): wait for the state to settle.
            None => (
                "Processing payment".to_string(),
                Some("2".to_string()),
                Body::Processing,
            ),
        },
        IntentStatus::Processing => (
            "Processing payment".to_string(),
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
                "Payment authorized"
            } else {
                "Payment successful"
            };
            (
                title.to_string(),
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
            ("Payment canceled".to_string(), None, Body::Canceled(link))
        }
    };
    CheckoutPage {
        title,
        refresh,
        token: pi.checkout_token.clone(),
        merchant,
        amount,
        description: pi.description.clone(),
        intent_id: pi.id.clone(),
        status: pi.status.as_str(),
        body,
    }
}

// ---- paying ----

/// The card form. Field names are the page's contract with its tests and with `checkout.js`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PayForm {
    pub(crate) csrf: String,
    pub(crate) nonce: String,
    pub(crate) number: String,
    pub(crate) exp: String,
    pub(crate) cvc: String,
    #[serde(default)]
    pub(crate) name: String,
}

/// A form that carries a CSRF field.
trait CsrfForm {
    fn csrf(&self) -> &str;
}

impl CsrfForm for PayForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl CsrfForm for ChallengeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
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
) -> Result<(F, String), Response> {
    if is_cross_site(headers) {
        return Err(forbidden(back));
    }
    let Ok(Form(form)) = form else {
        return Err(bad_request(back));
    };
    let cookie = csrf::secret_from_cookies(headers);
    if !csrf::verify(&st.csrf_key, cookie.as_deref(), form.csrf(), scope) {
        return Err(forbidden(back));
    }
    match cookie {
        Some(secret) => Ok((form, secret)),
        None => Err(forbidden(back)),
    }
}

async fn pay(
    State(st): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<PayForm>, FormRejection>,
) -> Response {
    let Some(token) = checkout_token(path) else {
        return not_found();
    };
    let back = format!("/checkout/{token}");
    let (form, secret) =
        match checked_form(&st, &headers, form, &back, &csrf_scope_checkout(&token)) {
            Ok(ok) => ok,
            Err(resp) => return resp,
        };
    let pi = match load_by_token(&st, &token).await {
        Ok(pi) => pi,
        Err(resp) => return resp,
    };
    if pi.status != IntentStatus::RequiresPaymentMethod {
        // Paid, pending or canceled meanwhile: the page says which.
        return see_other(&back);
    }
    if !is_valid_nonce(&form.nonce) {
        return bad_request(&back);
    }
    let method = match parse_card(&form, now_ms()) {
        Ok(m) => m,
        Err(errors) => {
            let mut input = kept_fields(&form);
            if errors.number.is_some() {
                // A number the form refused is typed again, never echoed.
                input.number.clear();
            }
            input.errors = errors;
            let page = checkout_page(&st, &pi, &secret, input).await;
            return no_store(html(StatusCode::BAD_REQUEST, &page));
        }
    };
    // What a decline re-renders; the CVC now lives only in `method`: drop the raw text at once.
    let kept = kept_fields(&form);
    let key = format!("checkout:{}", form.nonce);
    drop(form);

    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    match st
        .svc
        .store
        .idempotency_begin(
            &pi.merchant_id,
            &key,
            &hash,
            now_ms(),
            IDEM_LOCK_MS,
            IDEM_RETENTION_MS,
        )
        .await
    {
        Ok(IdemBegin::Proceed) => {}
        // Already submitted (or being submitted right now): show where things stand.
        Ok(_) => return see_other(&back),
        Err(e) => return internal(&e),
    }
    let idem = Idem {
        merchant_id: pi.merchant_id.clone(),
        key: key.clone(),
    };
    let result = st
        .svc
        .confirm_intent(
            &pi.merchant_id,
            &pi.id,
            ConfirmParams {
                method,
                return_url: None,
                three_d_secure: false,
            },
            Some(&idem),
        )
        .await;
    let store = &st.svc.store;
    let location = match result {
        Ok(done) => match (&done.status, &done.next_action) {
            (IntentStatus::RequiresAction, Some(a)) => a.redirect_to_url.url.clone(),
            _ => back.clone(),
        },
        // A decline: the form again, every field but the CVC kept, with the decline's alert.
        // (A resubmission of this POST finds its key taken and is sent to the page.)
        Err(ServiceError::Declined { .. }) => {
            if let Err(e) = store
                .idempotency_complete(&pi.merchant_id, &key, 303, &back)
                .await
            {
                tracing::warn!(error = %e, "could not complete a checkout idempotency key");
            }
            return match load_by_token(&st, &token).await {
                Ok(pi) if pi.status == IntentStatus::RequiresPaymentMethod => {
                    let page = checkout_page(&st, &pi, &secret, kept).await;
                    no_store(html(StatusCode::OK, &page))
                }
                _ => see_other(&back),
            };
        }
        // The intent was claimed by someone else: the page says where it stands.
        Err(ServiceError::State(_) | ServiceError::Conflict) => back.clone(),
        Err(e) => {
            // Nothing happened: let the same form be submitted again.
            if let Err(re) = store.idempotency_release(&pi.merchant_id, &key).await {
                tracing::warn!(error = %re, "could not release a checkout idempotency key");
            }
            return match e {
                ServiceError::NotFound { .. } => not_found(),
                ServiceError::Invalid { .. } => bad_request(&back),
                other => internal(&other),
            };
        }
    };
    // A no-op when the confirmation already completed the key in its own transaction.
    if let Err(e) = store
        .idempotency_complete(&pi.merchant_id, &key, 303, &location)
        .await
    {
        tracing::warn!(error = %e, "could not complete a checkout idempotency key");
    }
    see_other(&location)
}

/// The fields a re-rendered form keeps: all but the CVC, trimmed to what the form allows.
fn kept_fields(form: &PayForm) -> FormInput {
    FormInput {
        number: form.number.chars().take(23).collect(),
        exp: form.exp.chars().take(10).collect(),
        name: form.name.trim().chars().take(MAX_NAME_CHARS).collect(),
        errors: FieldErrors::default(),
    }
}

/// A page that echoes typed card data must not be kept by any cache.
fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub(crate) fn is_valid_nonce(n: &str) -> bool {
    (16..=64).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Turns the typed card into a payment method, or says which fields are wrong. Only formats
/// are judged here (and expiry against the current month); the issuer judges everything else.
pub(crate) fn parse_card(form: &PayForm, now: i64) -> Result<PaymentMethodInput, FieldErrors> {
    let mut errors = FieldErrors::default();
    let number_text = form.number.trim();
    let number = if number_text.is_empty() {
        errors.number = Some("Enter your card number.");
        None
    } else if number_text.len() > 32 {
        errors.number = Some("This card number is not valid.");
        None
    } else {
        match CardNumber::parse(number_text) {
            Ok(n) => Some(n),
            Err(CardError::FailedLuhn) => {
                errors.number = Some("This card number is incorrect. Check it and try again.");
                None
            }
            Err(_) => {
                errors.number = Some("This card number is not valid.");
                None
            }
        }
    };
    let exp_text = form.exp.trim();
    let expiry = if exp_text.is_empty() {
        errors.exp = Some("Enter the expiry date.");
        None
    } else {
        match Expiry::parse_mm_yy(exp_text) {
            Ok(e) => {
                let (year, month) = kassa_service::year_month(now);
                if e.is_expired_at(year, month) {
                    errors.exp = Some("This card has expired.");
                    None
                } else {
                    Some(e)
                }
            }
            Err(_) => {
                errors.exp = Some("Enter the expiry date as MM / YY.");
                None
            }
        }
    };
    let cvc = form.cvc.trim();
    let cvc_ok = match &number {
        Some(n) => validate_cvc(cvc, n.brand()).is_ok(),
        None => (3..=4).contains(&cvc.len()) && cvc.bytes().all(|b| b.is_ascii_digit()),
    };
    if cvc.is_empty() {
        errors.cvc = Some("Enter the security code.");
    } else if !cvc_ok {
        errors.cvc = Some(match &number {
            Some(n) if n.brand() == kassa_core::card::CardBrand::Amex => {
                "Enter the 3- or 4-digit security code."
            }
            Some(_) => "Enter the 3-digit security code on the back of the card.",
            None => "Enter the 3- or 4-digit security code.",
        });
    }
    let name = form.name.trim();
    if name.chars().count() > MAX_NAME_CHARS {
        errors.name = Some("The name is too long.");
    } else if name.chars().any(char::is_control) {
        errors.name = Some("The name contains characters that cannot be printed.");
    }
    match (number, expiry) {
        (Some(number), Some(expiry)) if !errors.any() => Ok(PaymentMethodInput::Card {
            number,
            expiry,
            cvc: cvc.to_string(),
            holder_name: (!name.is_empty()).then(|| name.to_string()),
        }),
        _ => Err(errors),
    }
}

// ---- the simulated issuer (3-D Secure) ----

async fn challenge_page(
    State(st): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let Some(attempt_id) = attempt_id(path) else {
        return not_found();
    };
    let (pi, attempt) = match st.svc.challenge(&attempt_id).await {
        Ok(found) => found,
        Err(ServiceError::NotFound { .. }) => return not_found(),
        Err(e) => return internal(&e),
    };
    if attempt.status != "requires_action" {
        return see_other(&format!("/checkout/{}", pi.checkout_token));
    }
    let (secret, fresh) = cookie_secret(&headers);
    let page = ChallengePage {
        title: "Your bank — simulated 3-D Secure".to_string(),
        refresh: None,
        merchant: merchant_name(&st, &pi.merchant_id).await,
        amount: view::format_amount(pi.amount, pi.currency),
        card: view::card_label(attempt.payment_method.as_deref()),
        csrf: csrf::form_token(&st.csrf_key, &secret, &csrf_scope_3ds(&attempt_id)),
        attempt_id,
    };
    with_cookie(html(StatusCode::OK, &page), &st, fresh.then_some(&secret))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChallengeForm {
    csrf: String,
    action: String,
}

async fn challenge_answer(
    State(st): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<ChallengeForm>, FormRejection>,
) -> Response {
    let Some(attempt_id) = attempt_id(path) else {
        return not_found();
    };
    let back = format!("/sandbox/3ds/{attempt_id}");
    let (form, _) = match checked_form(&st, &headers, form, &back, &csrf_scope_3ds(&attempt_id)) {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };
    let approve = match form.action.as_str() {
        "approve" => true,
        "fail" => false,
        _ => return bad_request(&back),
    };
    match st.svc.complete_challenge(&attempt_id, approve).await {
        Ok(pi) => see_other(&format!("/checkout/{}", pi.checkout_token)),
        Err(ServiceError::NotFound { .. }) => not_found(),
        // Answered concurrently (another tab, a double click): show the outcome.
        Err(ServiceError::State(_) | ServiceError::Conflict) => {
            match st.svc.challenge(&attempt_id).await {
                Ok((pi, _)) => see_other(&format!("/checkout/{}", pi.checkout_token)),
                Err(e) => internal(&e),
            }
        }
        Err(e) => internal(&e),
    }
}

// ---- helpers ----

fn csrf_scope_checkout(token: &str) -> String {
    format!("checkout:{token}")
}

fn csrf_scope_3ds(attempt_id: &str) -> String {
    format!("3ds:{attempt_id}")
}

fn checkout_token(path: Result<Path<String>, PathRejection>) -> Option<String> {
    let Path(token) = path.ok()?;
    is_valid_id(&token, prefix::CHECKOUT).then_some(token)
}

fn attempt_id(path: Result<Path<String>, PathRejection>) -> Option<String> {
    let Path(id) = path.ok()?;
    is_valid_id(&id, prefix::PAYMENT_ATTEMPT).then_some(id)
}

async fn load_by_token(st: &AppState, token: &str) -> Result<PaymentIntent, Response> {
    match st.svc.store.intent_by_checkout_token(token).await {
        Ok(Some(pi)) => Ok(pi),
        Ok(None) => Err(not_found()),
        Err(e) => Err(internal(&e)),
    }
}

async fn merchant_name(st: &AppState, merchant_id: &str) -> String {
    match st.svc.store.merchant(merchant_id).await {
        Ok(Some(m)) => m.name,
        Ok(None) => "Merchant".to_string(),
        Err(e) => {
            tracing::warn!(error = %e, "could not load the merchant for a checkout page");
            "Merchant".to_string()
        }
    }
}

/// The request's CSRF cookie secret, or a new one (`true`) to be set with the response.
fn cookie_secret(headers: &HeaderMap) -> (String, bool) {
    match csrf::secret_from_cookies(headers) {
        Some(s) => (s, false),
        None => (csrf::new_secret(), true),
    }
}

fn with_cookie(mut resp: Response, st: &AppState, secret: Option<&String>) -> Response {
    if let Some(secret) = secret {
        let secure = st.guards.secure_cookies || st.svc.base_url.starts_with("https://");
        if let Ok(v) = HeaderValue::from_str(&csrf::set_cookie_value(secret, secure)) {
            resp.headers_mut().append(SET_COOKIE, v);
        }
    }
    resp
}

/// Browsers that send Fetch Metadata tell us outright when a POST comes from another site;
/// refuse those before anything else (the CSRF token would refuse them anyway).
fn is_cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
}

fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (status, [(CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "checkout template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response()
        }
    }
}

fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut resp = StatusCode::SEE_OTHER.into_response();
            resp.headers_mut().insert(LOCATION, v);
            resp
        }
        Err(_) => internal(&"redirect target is not a valid header value"),
    }
}

fn message(status: StatusCode, heading: &str, text: &str, link: Option<(&str, &str)>) -> Response {
    let page = MessagePage {
        title: heading.to_string(),
        refresh: None,
        heading: heading.to_string(),
        message: text.to_string(),
        link: link.map(|(href, label)| (href.to_string(), label.to_string())),
    };
    html(status, &page)
}

fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Payment page not found",
        "This payment link is not valid. Check the link you were given, or go back to the shop and start again.",
        None,
    )
}

fn forbidden(back: &str) -> Response {
    message(
        StatusCode::FORBIDDEN,
        "This form has expired",
        "For your security the form could not be accepted. Reload the page and try again; you have not been charged.",
        Some((back, "Reload the payment page")),
    )
}

fn bad_request(back: &str) -> Response {
    message(
        StatusCode::BAD_REQUEST,
        "Something was wrong with the form",
        "The form arrived incomplete or changed. Go back to the payment page and try again; you have not been charged.",
        Some((back, "Back to the payment page")),
    )
}

fn internal<E: std::fmt::Display + 'static>(e: &E) -> Response {
    if kassa_service::is_unavailable(e) {
        tracing::warn!(error = %e, "checkout: database unavailable");
        return crate::unavailable(message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Please try again in a moment",
            "The payment service is briefly unavailable. You have not been charged.",
            None,
        ));
    }
    tracing::error!(error = %e, "checkout request failed");
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "We could not complete this request. Please try again in a moment.",
        None,
    )
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
        CheckoutPage {
            title: "Pay <Shop>".into(),
            refresh,
            token: "cs_abc".into(),
            merchant: "<Shop & Co>".into(),
            amount: "USD 10.00".into(),
            description: Some("<b>Tea</b>".into()),
            intent_id: "pi_1".into(),
            status,
            body,
        }
        .render()
        .unwrap()
    }

    fn form_body(decline: Option<&str>, errors: FieldErrors) -> Body {
        Body::Form(FormView {
            csrf: "tok".into(),
            nonce: "n".repeat(32),
            number: String::new(),
            exp: "12 / 31".into(),
            name: "Ada \"Quote\"".into(),
            decline: decline.map(str::to_string),
            errors,
        })
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
            "id=\"status\">requires_payment_method<",
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
        assert!(html.contains("id=\"status\">succeeded<"));
        assert!(html.contains("id=\"return\""));
        assert!(html.contains("http-equiv=\"refresh\""));
        assert!(html.contains("redirect_status=succeeded"));
        assert!(!html.contains("id=\"payment-form\""));
    }

    #[test]
    fn the_issuer_page_offers_both_answers() {
        let html = ChallengePage {
            title: "Your bank".into(),
            refresh: None,
            attempt_id: "pa_1".into(),
            merchant: "Shop".into(),
            amount: "USD 10.00".into(),
            card: Some("Visa •••• 3155".into()),
            csrf: "tok".into(),
        }
        .render()
        .unwrap();
        assert!(html.contains("id=\"approve\" name=\"action\" value=\"approve\""));
        assert!(html.contains("id=\"fail\" name=\"action\" value=\"fail\""));
        assert!(html.contains("action=\"/sandbox/3ds/pa_1\""));
        assert!(html.contains("3155"));
    }
}
