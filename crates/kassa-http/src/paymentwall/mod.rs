//! Paymentwall-compatible HTTP faces: the signed payment-page links (`/api/subscription`,
//! `/api/ps`, `/api/cart`, `/api/`), the payment page itself (`/pw/orders/{id}`), the method
//! logos, and the merchant REST APIs (`/api/payment-systems/`, `/api/rest/payment`,
//! `/developers/api/ticket`, `/api/delivery`).
//!
//! Invariants:
//! - A link is checked completely (key, signature, path, values) before anything is written; a
//!   refused link answers with Paymentwall's error page texts and a 4xx status.
//! - The page works inside a merchant's `<iframe>`: it sets no cookie, and its forms carry an
//!   HMAC of the order id (the order id, 143 random bits, is the capability to pay it) plus a
//!   random nonce used as the idempotency key, so a double submit charges once.
//!   `frame-ancestors` is the project's setting (any site when unset, as Paymentwall's widget).
//! - Card numbers and CVCs live only in the pay handler, as with the hosted checkout.
//! - Every page has a strict CSP: no inline script or style, nothing from third parties.

mod view;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, RawQuery, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use kassa_core::intent::AttemptStatus;
use kassa_core::intent::IntentStatus;
use kassa_paymentwall::geo::resolve_country;
use kassa_paymentwall::methods::MethodKind;
use kassa_paymentwall::parse_query;
use kassa_processor::{ChallengeResult, PaymentMethodInput};
use kassa_service::paymentwall::{LinkError, LinkPath, OrderView};
use kassa_service::{Idem, ServiceError};
use kassa_store::{now_ms, IdemBegin};
use serde::Deserialize;

use crate::checkout::{asset, is_valid_nonce, parse_card, PayForm};
use crate::lang::{page_lang, Lang};
use crate::AppState;
use kassa_service::paymentwall::PendingVoucher;
use view::{field_message, ErrorPage, Kept, Mode, OrderPage};

const CSS: &str = include_str!("../../static/pw.css");
const JS: &str = include_str!("../../static/pw.js");
const IDEM_LOCK_MS: i64 = 60_000;
const IDEM_RETENTION_MS: i64 = 24 * 3600 * 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/subscription", get(link_subscription))
        .route("/api/subscription/", get(link_subscription))
        .route("/api/ps", get(link_ps))
        .route("/api/ps/", get(link_ps))
        .route("/api/cart", get(link_cart))
        .route("/api/cart/", get(link_cart))
        .route("/api/", get(link_any))
        .route("/api", get(link_any))
        .route("/pw/assets/pw.css", get(css))
        .route("/pw/assets/pw.js", get(js))
        .route("/images/ps_logos/{file}", get(logo))
        .route("/pw/orders/{id}", get(show))
        .route("/pw/orders/{id}/pay", post(pay))
        .route("/pw/orders/{id}/action", post(action))
        .route("/api/payment-systems", get(payment_systems))
        .route("/api/payment-systems/", get(payment_systems))
        .route("/api/rest/payment", get(payment_status))
        .route("/api/rest/payment/", get(payment_status))
        .route("/developers/api/ticket", post(ticket))
        .route("/api/delivery", post(delivery))
}

fn csp(frame_ancestors: &str) -> String {
    format!(
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
         form-action 'self'; frame-ancestors {frame_ancestors}; base-uri 'none'"
    )
}

fn page_response(status: StatusCode, page: &impl Template, frame_ancestors: &str) -> Response {
    match page.render() {
        Ok(body) => {
            let mut resp =
                (status, [(CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
            let h = resp.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&csp(frame_ancestors)) {
                h.insert("content-security-policy", v);
            }
            h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
            h.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "payment page template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response()
        }
    }
}

/// An error page in `lang`: a heading and a message from the catalog (keys), nothing else.
fn error_page(status: StatusCode, lang: Lang, heading: &str, message: &str) -> Response {
    error_page_with(
        status,
        ErrorPage {
            brand: Default::default(),
            lang,
            heading: lang.text(heading).to_string(),
            message: lang.text(message).to_string(),
            detail: None,
            retry_href: None,
            diagnosis: None,
        },
    )
}

/// An error page answering one of an order's forms: with a way back to the order's page.
fn form_error(status: StatusCode, lang: Lang, order_id: &str, message: &str) -> Response {
    error_page_with(
        status,
        ErrorPage {
            brand: Default::default(),
            lang,
            heading: lang.text("pw.error.title").to_string(),
            message: lang.text(message).to_string(),
            detail: None,
            retry_href: Some(format!("/pw/orders/{order_id}")),
            diagnosis: None,
        },
    )
}

fn error_page_with(status: StatusCode, page: ErrorPage) -> Response {
    // Error pages may be shown inside the merchant's iframe too.
    page_response(status, &page, "*")
}

fn not_found(lang: Lang) -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        lang,
        "common.page_not_found",
        "pw.error.not_found",
    )
}

fn internal<E: std::fmt::Display + 'static>(lang: Lang, e: &E) -> Response {
    if kassa_service::is_unavailable(e) {
        tracing::warn!(error = %e, "payment page: database unavailable");
        return crate::unavailable(error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            lang,
            "pw.error.unavailable_title",
            "pw.error.unavailable",
        ));
    }
    tracing::error!(error = %e, "payment page failed");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        lang,
        "common.something_went_wrong",
        "pw.error.internal",
    )
}

fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            r.headers_mut().insert(LOCATION, v);
            r
        }
        Err(_) => internal(Lang::En, &"redirect target is not a valid header value"),
    }
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

async fn logo(Path(file): Path<String>) -> Response {
    let svg = file
        .strip_prefix("pm_")
        .and_then(|f| f.strip_suffix(".svg"))
        .and_then(kassa_paymentwall::methods::logo_svg);
    match svg {
        Some(body) => (
            [
                (CONTENT_TYPE, "image/svg+xml"),
                (CACHE_CONTROL, "public, max-age=86400"),
                (
                    axum::http::header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'",
                ),
            ],
            body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such logo").into_response(),
    }
}

// ---- signed links ----

async fn link_subscription(st: State<AppState>, q: RawQuery, req: Request) -> Response {
    open_link(st, LinkPath::Subscription, q, req).await
}
async fn link_ps(st: State<AppState>, q: RawQuery, req: Request) -> Response {
    open_link(st, LinkPath::Ps, q, req).await
}
async fn link_cart(st: State<AppState>, q: RawQuery, req: Request) -> Response {
    open_link(st, LinkPath::Cart, q, req).await
}
async fn link_any(st: State<AppState>, q: RawQuery, req: Request) -> Response {
    open_link(st, LinkPath::Any, q, req).await
}

/// The customer's country: `country_code` on the link, else the configured IP database.
fn customer_country(st: &AppState, raw_query: &str, req: &Request) -> Option<String> {
    let param = parse_query(raw_query).ok().and_then(|p| {
        p.iter()
            .find(|(k, _)| k == "country_code")
            .map(|(_, v)| v.clone())
    });
    let ip = crate::guards::client_addr(st, req);
    resolve_country(param.as_deref(), ip, st.country_db.as_deref())
}

async fn open_link(
    State(st): State<AppState>,
    path: LinkPath,
    RawQuery(q): RawQuery,
    req: Request,
) -> Response {
    let raw = q.unwrap_or_default();
    // The link's own `lang` speaks even when the link is refused (its signature is not needed
    // to choose the words of the refusal), else the browser's languages.
    let lang = page_lang(req.headers(), link_lang(&raw).as_deref());
    if raw.len() > 16 * 1024 {
        return error_page(
            StatusCode::URI_TOO_LONG,
            lang,
            "pw.error.too_long_title",
            "pw.error.too_long",
        );
    }
    let country = customer_country(&st, &raw, &req);
    match st.svc.pw_open_link(path, &raw, country).await {
        Ok(Ok(order)) => see_other(&format!("/pw/orders/{}", order.id)),
        Ok(Err(e)) => link_error(&st, lang, e),
        Err(e) => internal(lang, &e),
    }
}

/// The `lang` parameter of a link's query, whether or not the link is valid.
fn link_lang(raw_query: &str) -> Option<String> {
    let params = parse_query(raw_query).ok()?;
    params
        .into_iter()
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v)
}

/// The project's look (each field from the project's branding, else the merchant's): display
/// name in place of the project's name, logo, accent theme. A failed read keeps the plain page.
async fn apply_branding(st: &AppState, view: &OrderView, page: &mut OrderPage) {
    let scope = kassa_service::branding::BrandScope::PwProject(view.project.row.id.clone());
    match st
        .svc
        .page_branding(&view.project.row.merchant_id, &scope)
        .await
    {
        Ok(look) => {
            if let Some(name) = look.display_name {
                page.title = page.title.replace(&page.project, &name);
                page.project = name;
            }
            page.brand = crate::checkout::view::Brand {
                logo: look.logo_path,
                theme: look.accent_color.map(crate::native::branding::theme_href),
            };
        }
        Err(e) => tracing::warn!(error = %e, "could not load the branding for a Paymentwall page"),
    }
}

fn link_error(st: &AppState, lang: Lang, e: LinkError) -> Response {
    let page = |message: String, detail: Option<String>| ErrorPage {
        brand: Default::default(),
        lang,
        heading: lang.text("pw.error.title").to_string(),
        message,
        detail,
        retry_href: None,
        diagnosis: None,
    };
    match e {
        LinkError::MissingKeyOrUid => error_page_with(
            StatusCode::BAD_REQUEST,
            page(lang.text("pw.error.missing_key").to_string(), None),
        ),
        LinkError::NotAuthorized(why) => {
            // Paymentwall's own words first; then, since every Kassa key is a test key, what
            // the developer needs to fix the link (no secret: it is never part of the base).
            tracing::warn!(check = %why.check(), "paymentwall link refused");
            let mut p = page(lang.text("pw.error.not_authorized").to_string(), None);
            p.diagnosis = Some(view::LinkDiagnosis::of(&why));
            error_page_with(StatusCode::FORBIDDEN, p)
        }
        LinkError::WrongPath { api } => error_page_with(
            StatusCode::BAD_REQUEST,
            page(
                lang.fmt(
                    "pw.error.wrong_path",
                    &[
                        ("api", api.display_name()),
                        ("url", &format!("{}{}", st.svc.base_url, api.path())),
                    ],
                ),
                None,
            ),
        ),
        LinkError::Invalid(m) => {
            let detail = (lang != Lang::En).then(|| m.clone());
            let message = if lang == Lang::En {
                m
            } else {
                lang.text("pw.error.invalid_link").to_string()
            };
            error_page_with(StatusCode::BAD_REQUEST, page(message, detail))
        }
    }
}

// ---- the payment page ----

fn form_token(st: &AppState, order_id: &str) -> String {
    hex::encode(kassa_core::secret::hmac_sha256(
        &st.csrf_key,
        format!("pw order {order_id}").as_bytes(),
    ))
}

fn token_ok(st: &AppState, order_id: &str, token: &str) -> bool {
    kassa_core::secret::constant_time_eq(form_token(st, order_id).as_bytes(), token.as_bytes())
}

fn order_id(id: &str) -> Option<&str> {
    kassa_core::ids::is_valid_id(id, kassa_service::paymentwall::ORDER_PREFIX).then_some(id)
}

/// The order, or the page saying why not (in the browser's language: the order's is unknown).
async fn load(st: &AppState, headers: &HeaderMap, id: &str) -> Result<OrderView, Response> {
    let lang = page_lang(headers, None);
    let Some(id) = order_id(id) else {
        return Err(not_found(lang));
    };
    match st.svc.pw_order_view(id).await {
        Ok(v) => Ok(v),
        Err(ServiceError::NotFound { .. }) => Err(not_found(lang)),
        Err(e) => Err(internal(lang, &e)),
    }
}

/// The order's language: the link's `lang`, else the browser's, else English. Every page and
/// every answer to a form of the order reads it here, so a flow keeps one language.
fn order_lang(headers: &HeaderMap, view: &OrderView) -> Lang {
    page_lang(headers, view.lang.as_deref())
}

#[derive(Deserialize)]
struct ShowQuery {
    ps: Option<String>,
}

async fn show(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Result<Query<ShowQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let view = match load(&st, &headers, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let lang = order_lang(&headers, &view);
    let chosen = q.ok().and_then(|Query(q)| q.ps);
    render(&st, lang, &view, chosen.as_deref(), StatusCode::OK, None).await
}

/// Renders the page for the order's current state.
async fn render(
    st: &AppState,
    lang: Lang,
    view: &OrderView,
    chosen: Option<&str>,
    status: StatusCode,
    field_error: Option<String>,
) -> Response {
    render_kept(st, lang, view, chosen, status, field_error, Kept::default()).await
}

/// [`render`], with the fields the payer typed echoed back into the form (after a decline or a
/// refused field, answering the same POST; never the CVC, and the response is `no-store`).
async fn render_kept(
    st: &AppState,
    lang: Lang,
    view: &OrderView,
    chosen: Option<&str>,
    status: StatusCode,
    field_error: Option<String>,
    kept: Kept,
) -> Response {
    let pi = &view.intent;
    let mode = match pi.status {
        IntentStatus::Succeeded => {
            let payment = match st.svc.pw_payment_object(&view.order).await {
                Ok(p) => p,
                Err(e) => return internal(lang, &e),
            };
            Mode::Success {
                payment: payment.to_string(),
                success_url: view.success_url.clone(),
            }
        }
        IntentStatus::RequiresCapture => Mode::Review,
        IntentStatus::Canceled => Mode::Closed {
            failure_url: view.failure_url.clone(),
            reviewed: view.order.r#ref.is_some(),
        },
        IntentStatus::Processing => Mode::Processing,
        IntentStatus::RequiresAction => match st.svc.store.open_attempt(&pi.id).await {
            Ok(Some(attempt)) if attempt.status == AttemptStatus::RequiresAction => {
                let state = attempt.challenge_state.clone().unwrap_or_default();
                let kind = kassa_processor::challenge_kind(&state).unwrap_or("3ds");
                Mode::Action {
                    kind: kind.to_string(),
                    voucher: PendingVoucher::of(&attempt, pi.pay_before),
                }
            }
            Ok(_) => Mode::Processing,
            Err(e) => return internal(lang, &e),
        },
        IntentStatus::RequiresPaymentMethod => {
            let pick = chosen
                .and_then(|c| view.methods.iter().find(|m| m.id == c).copied())
                .or(view.preselected)
                .or_else(|| (view.methods.len() == 1).then(|| view.methods[0]));
            match pick {
                Some(m) => Mode::Form {
                    ps: m.id.to_string(),
                    kind: match m.kind {
                        MethodKind::Card => "card",
                        MethodKind::Wallet => "wallet",
                        MethodKind::BankRedirect => "bank",
                        MethodKind::Voucher => "voucher",
                        MethodKind::Test => "test",
                    }
                    .to_string(),
                    method_name: m.name.to_string(),
                    can_switch: view.methods.len() > 1 && view.preselected.is_none(),
                },
                None => Mode::Methods,
            }
        }
    };
    let decline = match (&mode, &pi.last_payment_error) {
        (Mode::Form { .. } | Mode::Methods, Some(e)) => {
            Some(lang.decline(&e.code, e.decline_code.as_deref(), &e.message))
        }
        _ => None,
    };
    let mut page = OrderPage::new(
        st,
        view,
        lang,
        mode,
        decline.or(field_error),
        form_token(st, &view.order.id),
    );
    if page.state == "form" {
        page.kept = kept;
    }
    apply_branding(st, view, &mut page).await;
    let fa = view
        .project
        .row
        .frame_ancestors
        .clone()
        .unwrap_or_else(|| "*".to_string());
    page_response(status, &page, &fa)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PwPayForm {
    token: String,
    nonce: String,
    ps: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    exp: String,
    #[serde(default)]
    cvc: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    bank: String,
}

async fn pay(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<PwPayForm>, FormRejection>,
) -> Response {
    let view = match load(&st, &headers, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let lang = order_lang(&headers, &view);
    let back = format!("/pw/orders/{}", view.order.id);
    let Ok(Form(form)) = form else {
        return form_error(
            StatusCode::BAD_REQUEST,
            lang,
            &view.order.id,
            "pw.error.form_unreadable",
        );
    };
    if !token_ok(&st, &view.order.id, &form.token) || !is_valid_nonce(&form.nonce) {
        return form_error(
            StatusCode::FORBIDDEN,
            lang,
            &view.order.id,
            "pw.error.form_expired",
        );
    }
    if view.intent.status != IntentStatus::RequiresPaymentMethod {
        return see_other(&back);
    }
    let Some(system) = view.methods.iter().find(|m| m.id == form.ps).copied() else {
        return form_error(
            StatusCode::BAD_REQUEST,
            lang,
            &view.order.id,
            "pw.error.method_not_offered",
        );
    };
    let kept = Kept {
        number: form.number.chars().take(23).collect(),
        exp: form.exp.chars().take(10).collect(),
        name: form.name.trim().chars().take(100).collect(),
        phone: form.phone.trim().chars().take(20).collect(),
    };
    let method = match system.kind {
        MethodKind::Card => {
            let card = PayForm {
                csrf: String::new(),
                nonce: form.nonce.clone(),
                number: form.number.clone(),
                exp: form.exp.clone(),
                cvc: form.cvc.clone(),
                name: form.name.clone(),
                save: None,
            };
            match parse_card(&card, now_ms()) {
                Ok(m) => m,
                Err(errors) => {
                    let msg = [errors.number, errors.exp, errors.cvc, errors.name]
                        .into_iter()
                        .flatten()
                        .map(|m| field_message(lang, m))
                        .collect::<Vec<_>>()
                        .join(" ");
                    return render_kept(
                        &st,
                        lang,
                        &view,
                        Some(system.id),
                        StatusCode::BAD_REQUEST,
                        Some(msg),
                        kept,
                    )
                    .await;
                }
            }
        }
        MethodKind::Wallet => PaymentMethodInput::Wallet {
            phone: form.phone.trim().chars().take(32).collect(),
        },
        MethodKind::BankRedirect => PaymentMethodInput::BankRedirect {
            bank: form.bank.trim().chars().take(40).collect(),
        },
        MethodKind::Voucher => PaymentMethodInput::Voucher,
        MethodKind::Test => PaymentMethodInput::TestMethod,
    };
    let key = format!("pw:{}", form.nonce);
    drop(form);
    let merchant = view.order.merchant_id.clone();
    let hash = kassa_core::secret::hash_api_key(&view.order.id);
    match st
        .svc
        .store
        .idempotency_begin(
            &merchant,
            &key,
            &hash,
            now_ms(),
            IDEM_LOCK_MS,
            IDEM_RETENTION_MS,
        )
        .await
    {
        Ok(IdemBegin::Proceed) => {}
        Ok(_) => return see_other(&back),
        Err(e) => return internal(lang, &e),
    }
    let idem = Idem {
        merchant_id: merchant.clone(),
        key: key.clone(),
    };
    let result = st.svc.pw_pay(&view, system.id, method, Some(&idem)).await;
    let declined = matches!(result, Err(ServiceError::Declined { .. }));
    match result {
        Ok(_)
        | Err(ServiceError::Declined { .. } | ServiceError::State(_) | ServiceError::Conflict) => {}
        Err(e) => {
            if let Err(re) = st.svc.store.idempotency_release(&merchant, &key).await {
                tracing::warn!(error = %re, "could not release a payment page idempotency key");
            }
            return match e {
                ServiceError::Invalid { message, .. } => {
                    render(
                        &st,
                        lang,
                        &view,
                        Some(system.id),
                        StatusCode::BAD_REQUEST,
                        Some(field_message(lang, &message)),
                    )
                    .await
                }
                other => internal(lang, &other),
            };
        }
    }
    if let Err(e) = st
        .svc
        .store
        .idempotency_complete(&merchant, &key, 303, &back)
        .await
    {
        tracing::warn!(error = %e, "could not complete a payment page idempotency key");
    }
    if declined {
        // The form again in answer to this POST, every field but the CVC kept.
        if let Ok(fresh) = load(&st, &headers, &id).await {
            if fresh.intent.status == IntentStatus::RequiresPaymentMethod {
                return render_kept(
                    &st,
                    lang,
                    &fresh,
                    Some(system.id),
                    StatusCode::OK,
                    None,
                    kept,
                )
                .await;
            }
        }
    }
    back_to_page(&st, &view, system.id).await
}

/// After the customer answered: the order page, which shows the outcome; after a decline, the
/// chosen method's form again (with the message).
async fn back_to_page(st: &AppState, view: &OrderView, ps: &str) -> Response {
    let back = format!("/pw/orders/{}", view.order.id);
    match st
        .svc
        .store
        .intent_by_id_any_merchant(&view.intent.id)
        .await
    {
        Ok(Some(pi)) if pi.status == IntentStatus::RequiresPaymentMethod => {
            see_other(&format!("{back}?ps={ps}"))
        }
        _ => see_other(&back),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionForm {
    token: String,
    action: String,
    #[serde(default)]
    otp: String,
}

/// The customer's answer on a method's own step: 3-D Secure, wallet code, bank approval,
/// voucher paid in cash (sandbox).
async fn action(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let view = match load(&st, &headers, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let lang = order_lang(&headers, &view);
    let back = format!("/pw/orders/{}", view.order.id);
    let Ok(Form(form)) = form else {
        return form_error(
            StatusCode::BAD_REQUEST,
            lang,
            &view.order.id,
            "pw.error.form_unreadable",
        );
    };
    if !token_ok(&st, &view.order.id, &form.token) {
        return form_error(
            StatusCode::FORBIDDEN,
            lang,
            &view.order.id,
            "pw.error.form_expired",
        );
    }
    let result = match form.action.as_str() {
        "approve" => ChallengeResult::Approve,
        "fail" => ChallengeResult::Fail,
        "otp" => ChallengeResult::Otp(form.otp.trim().chars().take(12).collect()),
        _ => {
            return form_error(
                StatusCode::BAD_REQUEST,
                lang,
                &view.order.id,
                "pw.error.unknown_action",
            )
        }
    };
    let attempt = match st.svc.store.open_attempt(&view.intent.id).await {
        Ok(Some(a)) if a.status == AttemptStatus::RequiresAction => a,
        Ok(_) => return see_other(&back),
        Err(e) => return internal(lang, &e),
    };
    // A voucher past its expiry can no longer be paid: the core declines it as expired.
    match st.svc.complete_challenge_with(&attempt.id, result).await {
        Ok(_) | Err(ServiceError::State(_) | ServiceError::Conflict) => {}
        Err(ServiceError::NotFound { .. }) => return not_found(lang),
        Err(e) => return internal(lang, &e),
    }
    back_to_page(&st, &view, view.order.method.as_deref().unwrap_or("")).await
}

// ---- REST APIs ----

fn api_json(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

fn api_error(e: kassa_service::paymentwall::ApiError) -> Response {
    api_json(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        e.body(),
    )
}

fn query_params(q: Option<String>) -> Result<Vec<(String, String)>, Box<Response>> {
    parse_query(&q.unwrap_or_default()).map_err(|e| {
        Box::new(api_error(kassa_service::paymentwall::ApiError {
            status: 400,
            code: 4009,
            message: e.to_string(),
        }))
    })
}

async fn payment_systems(State(st): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let params = match query_params(q) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match st.svc.pw_payment_systems(&params).await {
        Ok(Ok(v)) => api_json(StatusCode::OK, v),
        Ok(Err(e)) => api_error(e),
        Err(e) => internal_json(&e),
    }
}

async fn payment_status(State(st): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let params = match query_params(q) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match st.svc.pw_payment_status(&params).await {
        Ok(Ok(v)) => api_json(StatusCode::OK, v),
        Ok(Err(e)) => api_error(e),
        Err(e) => internal_json(&e),
    }
}

fn internal_json<E: std::fmt::Display + 'static>(e: &E) -> Response {
    if kassa_service::is_unavailable(e) {
        tracing::warn!(error = %e, "paymentwall API: database unavailable");
        return crate::unavailable(api_json(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"type": "Error", "code": 5000, "error": "Service temporarily unavailable, try again later"}),
        ));
    }
    tracing::error!(error = %e, "paymentwall API failed");
    api_json(
        StatusCode::INTERNAL_SERVER_ERROR,
        serde_json::json!({"type": "Error", "code": 5000, "error": "Internal error"}),
    )
}

/// A form body as ordered pairs (strict decoding, duplicates kept for the signature check).
fn form_params(headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, String)>, Box<Response>> {
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let bad = |m: &str| {
        Box::new(api_error(kassa_service::paymentwall::ApiError {
            status: 400,
            code: 4009,
            message: m.to_string(),
        }))
    };
    if !is_form && !body.is_empty() {
        return Err(bad("The body must be application/x-www-form-urlencoded"));
    }
    let text = std::str::from_utf8(body).map_err(|_| bad("The body is not UTF-8"))?;
    parse_query(text).map_err(|e| bad(&e.to_string()))
}

async fn ticket(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let params = match form_params(&headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match st.svc.pw_ticket(&params).await {
        Ok(Ok(_)) => api_json(StatusCode::OK, serde_json::json!({"result": 1})),
        Ok(Err(e)) => api_error(e),
        Err(e) => internal_json(&e),
    }
}

async fn delivery(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let params = match form_params(&headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let key = headers.get("x-apikey").and_then(|v| v.to_str().ok());
    match st.svc.pw_delivery(key, &params).await {
        Ok(Ok(_)) => api_json(StatusCode::OK, serde_json::json!({"success": 1})),
        Ok(Err(e)) => api_error(e),
        Err(e) => internal_json(&e),
    }
}
