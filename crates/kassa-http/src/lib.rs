//! Kassa's HTTP faces. A handler parses and checks its input, calls one command of
//! `kassa-service`, and renders the answer; no payment rule lives here.
#![forbid(unsafe_code)]

pub mod checkout;
pub mod error;
pub mod extract;
pub mod native;
pub mod ops;
pub mod paymentwall;
pub mod paymob;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use kassa_service::Services;
use prometheus::Registry;
use tower_http::limit::RequestBodyLimitLayer;

pub use ops::HttpMetrics;

/// Everything a handler may use.
#[derive(Clone)]
pub struct AppState {
    pub svc: Arc<Services>,
    pub registry: Registry,
    pub metrics: HttpMetrics,
    /// Key for the checkout forms' CSRF tokens.
    pub csrf_key: [u8; 32],
    /// IP-to-country database for the Paymentwall payment page's method list, if configured.
    pub country_db: Option<Arc<kassa_paymentwall::geo::CountryDb>>,
    /// Header a trusted reverse proxy puts the client address in (e.g. `x-forwarded-for`);
    /// without it the TCP peer address is the client.
    pub client_ip_header: Option<String>,
}

/// Largest request body accepted (the native API's objects are small).
pub const BODY_LIMIT: usize = 64 * 1024;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(native::router(state.clone()))
        .merge(checkout::router())
        .merge(paymentwall::router())
        .merge(paymob::router())
        .merge(ops::router())
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::observe,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .with_state(state)
}
