//! Operations: liveness, readiness, Prometheus metrics, and the request observer that gives
//! every request an id, a structured log line and a latency sample by route.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use kassa_store::now_ms;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntGauge, Registry, TextEncoder};

use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::guards::MetricsAccess;
use crate::AppState;

#[derive(Clone)]
pub struct HttpMetrics {
    latency: HistogramVec,
    backlog: IntGauge,
    backlog_age: IntGauge,
}

impl HttpMetrics {
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "kassa_http_request_duration_seconds",
                "HTTP request latency by route, method and status class",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["route", "method", "status"],
        )?;
        let backlog = IntGauge::new(
            "kassa_outbox_pending",
            "Notifications waiting in the outbox",
        )?;
        let backlog_age = IntGauge::new(
            "kassa_outbox_oldest_due_age_ms",
            "How long the oldest due notification has been waiting, in milliseconds",
        )?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(backlog.clone()))?;
        registry.register(Box::new(backlog_age.clone()))?;
        Ok(HttpMetrics {
            latency,
            backlog,
            backlog_age,
        })
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(public_metrics))
}

/// The same endpoints for the operations listener, where `/metrics` needs no token.
pub fn ops_only_router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// `/metrics` on the public listener: open, behind a bearer token, or not there at all, as
/// the deployment says.
async fn public_metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match &state.guards.metrics {
        MetricsAccess::Public => metrics(State(state)).await,
        MetricsAccess::Hidden => StatusCode::NOT_FOUND.into_response(),
        MetricsAccess::Token(token) => {
            let given = headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .unwrap_or_default();
            let ok: bool = subtle::ConstantTimeEq::ct_eq(
                Sha256::digest(given.as_bytes()).as_slice(),
                Sha256::digest(token.as_bytes()).as_slice(),
            )
            .into();
            if ok {
                metrics(State(state)).await
            } else {
                let mut r =
                    (StatusCode::UNAUTHORIZED, "metrics need a bearer token").into_response();
                r.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"metrics\""),
                );
                r
            }
        }
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.svc.store.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    if let Ok((pending, age)) = state.svc.store.outbox_backlog(now_ms()).await {
        state.metrics.backlog.set(pending);
        state.metrics.backlog_age.set(age);
    }
    let mut buf = Vec::new();
    if TextEncoder::new()
        .encode(&state.registry.gather(), &mut buf)
        .is_err()
    {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    ([("content-type", "text/plain; version=0.0.4")], buf).into_response()
}

/// Who a request acts as, for the audit records its commands write: the credential it carries
/// (shown the way keys are shown, never whole), from which address, with which request id. The
/// dashboard names its signed-in user instead, around each of its commands.
fn request_actor(state: &AppState, req: &Request, request_id: &str) -> kassa_service::audit::Actor {
    let credential = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' ').map(|(_, c)| c.trim()))
        .filter(|c| !c.is_empty());
    let shown = credential.map(|c| {
        let chars: Vec<char> = c.chars().collect();
        if chars.len() <= 12 {
            "…".to_string()
        } else {
            let head: String = chars[..chars.len().min(8)].iter().collect();
            let tail: String = chars[chars.len() - 4..].iter().collect();
            format!("{head}…{tail}")
        }
    });
    kassa_service::audit::Actor {
        kind: if shown.is_some() {
            "api_key"
        } else {
            "request"
        },
        id: None,
        label: shown,
        ip: crate::guards::client_addr(state, req).map(|a| a.to_string()),
        user_agent: req
            .headers()
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(300).collect()),
        request_id: Some(request_id.to_string()),
    }
}

/// Request id (kept from `X-Request-Id` when sane, else new), one log line per request, a
/// latency sample, and baseline security headers.
pub async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string)
        .unwrap_or_else(|| kassa_core::ids::new_id(kassa_core::ids::prefix::REQUEST));
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        req.headers_mut().insert("x-request-id", v);
    }
    let span = tracing::info_span!("request", id = %request_id, method = %method, route = %route);
    let mut resp = {
        let _enter = span.enter();
        drop(_enter);
        let actor = request_actor(&state, &req, &request_id);
        tracing::Instrument::instrument(
            kassa_service::audit::with_actor(actor, next.run(req)),
            span.clone(),
        )
        .await
    };
    let elapsed = started.elapsed();
    let status = resp.status();
    state
        .metrics
        .latency
        .with_label_values(&[
            &route,
            method.as_str(),
            &format!("{}xx", status.as_u16() / 100),
        ])
        .observe(elapsed.as_secs_f64());
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::error!(
                status = status.as_u16(),
                ms = elapsed.as_millis() as u64,
                "request failed"
            );
        } else {
            tracing::info!(
                status = status.as_u16(),
                ms = elapsed.as_millis() as u64,
                "request"
            );
        }
    });
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-request-id", v);
    }
    headers
        .entry("x-content-type-options")
        .or_insert(HeaderValue::from_static("nosniff"));
    headers
        .entry("referrer-policy")
        .or_insert(HeaderValue::from_static("no-referrer"));
    headers
        .entry("cache-control")
        .or_insert(HeaderValue::from_static("no-store"));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers
            .entry("retry-after")
            .or_insert(HeaderValue::from(kassa_service::RETRY_AFTER_SECS));
    }
    if state.guards.hsts {
        headers.insert(
            "strict-transport-security",
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    resp
}
