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
//!
//! The handlers are split by what they serve: `links` (the signed links), `page` (the payment
//! page and its forms), `api` (the merchant REST APIs); this module has the router, the
//! responses they share and the static assets.

mod api;
mod links;
mod page;
mod view;

use askama::Template;
use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::checkout::asset;
use crate::lang::Lang;
use crate::AppState;
use view::ErrorPage;

const CSS: &str = include_str!("../../static/pw.css");
const JS: &str = include_str!("../../static/pw.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/subscription", get(links::link_subscription))
        .route("/api/subscription/", get(links::link_subscription))
        .route("/api/ps", get(links::link_ps))
        .route("/api/ps/", get(links::link_ps))
        .route("/api/cart", get(links::link_cart))
        .route("/api/cart/", get(links::link_cart))
        .route("/api/", get(links::link_any))
        .route("/api", get(links::link_any))
        .route("/pw/assets/pw.css", get(css))
        .route("/pw/assets/pw.js", get(js))
        .route("/images/ps_logos/{file}", get(logo))
        .route("/pw/orders/{id}", get(page::show))
        .route("/pw/orders/{id}/pay", post(page::pay))
        .route("/pw/orders/{id}/action", post(page::action))
        .route("/api/payment-systems", get(api::payment_systems))
        .route("/api/payment-systems/", get(api::payment_systems))
        .route("/api/rest/payment", get(api::payment_status))
        .route("/api/rest/payment/", get(api::payment_status))
        .route("/developers/api/ticket", post(api::ticket))
        .route("/api/delivery", post(api::delivery))
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
