//! The merchant REST APIs: `/api/payment-systems/`, `/api/rest/payment`,
//! `/developers/api/ticket` and `/api/delivery`, answered in Paymentwall's JSON.

use axum::extract::{RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_paymentwall::parse_query;

use crate::AppState;

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

pub(super) async fn payment_systems(State(st): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let params = match query_params(q) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match st.svc.paymentwall().payment_systems(&params).await {
        Ok(Ok(v)) => api_json(StatusCode::OK, v),
        Ok(Err(e)) => api_error(e),
        Err(e) => internal_json(&e),
    }
}

pub(super) async fn payment_status(State(st): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let params = match query_params(q) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match st.svc.paymentwall().payment_status(&params).await {
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

pub(super) async fn ticket(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let params = match form_params(&headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match st.svc.paymentwall().ticket(&params).await {
        Ok(Ok(_)) => api_json(StatusCode::OK, serde_json::json!({"result": 1})),
        Ok(Err(e)) => api_error(e),
        Err(e) => internal_json(&e),
    }
}

pub(super) async fn delivery(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let params = match form_params(&headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let key = headers.get("x-apikey").and_then(|v| v.to_str().ok());
    match st.svc.paymentwall().delivery(key, &params).await {
        Ok(Ok(_)) => api_json(StatusCode::OK, serde_json::json!({"success": 1})),
        Ok(Err(e)) => api_error(e),
        Err(e) => internal_json(&e),
    }
}
