//! Kassa's HTTP faces. A handler parses and checks its input, calls one command of
//! `kassa-service`, and renders the answer; no payment rule lives here.
#![forbid(unsafe_code)]

pub mod assets;
pub mod checkout;
pub mod error;
pub mod extract;
pub mod guards;
pub mod home;
pub mod lang;
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
    /// Rate limits and the deployment's header rules.
    pub guards: guards::Guards,
    /// Longest a request may take before it is answered 408.
    pub request_timeout: Duration,
}

/// Default for [`AppState::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Adds `Retry-After` to a 503 answered because the database is unavailable.
pub fn unavailable(mut resp: axum::response::Response) -> axum::response::Response {
    resp.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(kassa_service::RETRY_AFTER_SECS),
    );
    resp
}

/// Largest request body accepted (the native API's objects are small).
pub const BODY_LIMIT: usize = 64 * 1024;

pub fn router(state: AppState) -> Router {
    router_with(state, Router::new(), Router::new())
}

/// [`router`] with `extra` routes served alongside the faces (the dashboard, when it shares the
/// API's listener), under the same limits and observation; `uploads` are routes that bring
/// their own body limit (file uploads) instead of the 64 KiB one.
pub fn router_with(state: AppState, extra: Router<AppState>, uploads: Router<AppState>) -> Router {
    let routes = Router::new()
        .merge(native::router(state.clone()))
        .merge(native::branding::public_routes())
        .merge(assets::router())
        .merge(checkout::router())
        .merge(paymentwall::router())
        .merge(paymob::router())
        .merge(ops::router())
        .merge(home::router())
        .merge(extra)
        .fallback(home::not_found)
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        // Logo uploads carry a file: added after the 64 KiB limit, with their own.
        .merge(native::upload_router(state.clone()))
        .merge(uploads);
    with_common_layers(state, routes)
}

/// `routes` alone on a listener of their own (the dashboard's `dashboard_listen`), under the
/// same body limit, rate limits, observation and timeouts as the main listener.
pub fn standalone_router(
    state: AppState,
    routes: Router<AppState>,
    uploads: Router<AppState>,
) -> Router {
    let routes = routes
        .fallback(home::not_found)
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .merge(uploads);
    with_common_layers(state, routes)
}

fn with_common_layers(state: AppState, routes: Router<AppState>) -> Router {
    routes
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guards::limit_by_address,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::observe,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.request_timeout,
        ))
        .layer(axum::middleware::map_response(close_if_body_unread))
        .with_state(state)
}

/// A request refused for its size (413) or its slowness (408) was answered before its body was
/// read: the connection closes after the answer, and says so, so a client does not send its
/// next request on a connection the server is closing.
async fn close_if_body_unread(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::{header, HeaderValue, StatusCode};
    if matches!(
        response.status(),
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
    ) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// The operations listener (`ops_listen`): health, readiness and metrics only, with no
/// authentication, for an address that only the operator's monitoring can reach.
pub fn ops_router(state: AppState) -> Router {
    ops::ops_only_router().with_state(state)
}
