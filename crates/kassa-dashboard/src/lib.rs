//! The merchant dashboard: server-rendered pages under `/dashboard`, working without
//! JavaScript, over the same `kassa-service` commands as the API (no payment rule lives here).
//!
//! Security, in the order a request meets it:
//! - every answer carries a strict CSP (`'self'` only, `frame-ancestors 'none'`), `no-store`
//!   and `nosniff`;
//! - a session is a random token in an `HttpOnly`, `SameSite=Lax` cookie (`__Host-` and
//!   `Secure` when served over https); the database keeps its SHA-256, so sessions can be
//!   revoked and expire after 30 idle minutes or 12 hours;
//! - every POST must come from this origin (`Origin` and `Sec-Fetch-Site`) and carry the
//!   session's CSRF token ([`Posted`]); the sign-in forms, before there is a session, use a
//!   double-submit cookie;
//! - each page checks the user's role ([`kassa_core::roles`]); live mode needs a second factor.
#![forbid(unsafe_code)]
// A page helper's error is the page to answer with (`Result<_, Response>`), returned once per
// request on the way out; boxing every one would only add noise to each handler.
#![allow(clippy::result_large_err)]

mod auth_pages;
mod ctx;
mod customers;
mod home;
mod keys;
mod logo_form;
mod payments;
mod paymentwall;
mod paymob;
mod settings;
mod view;
mod webhooks;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use kassa_http::AppState;

pub use ctx::{Ctx, Posted};

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
    script-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; \
    frame-ancestors 'none'";

const CSS: &str = include_str!("../static/dashboard.css");
const JS: &str = include_str!("../static/dashboard.js");

/// The dashboard's routes, for [`kassa_http::router_with`] (same listener as the API) or
/// [`kassa_http::standalone_router`] (`dashboard_listen`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(auth_pages::entry))
        .route("/dashboard/", get(auth_pages::entry))
        .route("/dashboard/assets/dashboard.css", get(css))
        .route("/dashboard/assets/dashboard.js", get(js))
        .route(
            "/dashboard/login",
            get(auth_pages::login_page).post(auth_pages::login),
        )
        .route(
            "/dashboard/setup/{token}",
            get(auth_pages::setup_page).post(auth_pages::setup),
        )
        .route(
            "/dashboard/second-factor",
            get(auth_pages::second_factor_page).post(auth_pages::second_factor),
        )
        .route("/dashboard/logout", post(auth_pages::logout))
        .route("/dashboard/{mode}", get(home::home))
        .route(
            "/dashboard/{mode}/account/security",
            get(auth_pages::security_page),
        )
        .route(
            "/dashboard/{mode}/account/totp",
            post(auth_pages::enrol_totp),
        )
        .route(
            "/dashboard/{mode}/account/totp/confirm",
            post(auth_pages::confirm_totp),
        )
        .route(
            "/dashboard/{mode}/account/sessions/revoke",
            post(auth_pages::revoke_sessions),
        )
        .route(
            "/dashboard/{mode}/account/reauth",
            get(auth_pages::reauth_page).post(auth_pages::reauth),
        )
        .route("/dashboard/{mode}/payments", get(payments::list))
        .route("/dashboard/{mode}/payments.csv", get(payments::export_csv))
        .route("/dashboard/{mode}/payments/{id}", get(payments::detail))
        .route(
            "/dashboard/{mode}/payments/{id}/refund",
            post(payments::refund),
        )
        .route(
            "/dashboard/{mode}/payments/{id}/capture",
            post(payments::capture),
        )
        .route(
            "/dashboard/{mode}/payments/{id}/cancel",
            post(payments::cancel),
        )
        .route(
            "/dashboard/{mode}/payments/{id}/resend",
            post(payments::resend),
        )
        .route(
            "/dashboard/{mode}/developers/keys",
            get(keys::list).post(keys::create),
        )
        .route(
            "/dashboard/{mode}/developers/keys/{id}/roll",
            post(keys::roll),
        )
        .route(
            "/dashboard/{mode}/developers/keys/{id}/revoke",
            post(keys::revoke),
        )
        // Each section's pages (their own modules, their own routes).
        .merge(webhooks::routes())
        .merge(paymentwall::routes())
        .merge(paymob::routes())
        .merge(customers::routes())
        .merge(settings::routes())
        .layer(map_response(security_headers))
}

/// The routes that take a file (the logo forms): for
/// [`kassa_http::router_with`]/[`kassa_http::standalone_router`]'s `uploads`, outside the
/// dashboard's 64 KiB body limit, with a limit of their own.
pub fn upload_routes() -> Router<AppState> {
    Router::new()
        .merge(paymentwall::upload_routes())
        .merge(paymob::upload_routes())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            logo_form::LOGO_FORM_LIMIT,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(
            logo_form::LOGO_FORM_LIMIT,
        ))
        .layer(map_response(security_headers))
}

async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    if !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

async fn css() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        JS,
    )
        .into_response()
}
