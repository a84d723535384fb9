//! The Paymob-compatible face: the Intention API, the legacy Accept API, the unified checkout
//! and Pixel's pages and script, the 3-D Secure / wallet pages, and the post-payment and
//! subscription APIs. Handlers read credentials the ways Paymob's clients send them and map
//! the service's answers to Paymob's status codes and bodies.
//!
//! The handlers are split by what they serve: `intention` (the Intention API), `legacy` (the
//! legacy Accept API), `subscriptions` (plans and subscriptions), `pages` (the payer pages and
//! their scripts) and `lang` (the pages' word tables and language links); this module has the
//! router and the plumbing they share.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kassa_service::paymob::PmError;
use kassa_store::PmProfile;
use serde_json::{json, Value};
use std::collections::HashMap;

use crate::AppState;

/// Authenticates a request whose body may carry `auth_token`, then calls `f`.
macro_rules! authed {
    ($st:expr, $headers:expr, $q:expr, $bytes:expr, |$p:ident, $body:ident| $call:expr, $status:expr) => {{
        let $body = match body_json(&$bytes) {
            Ok(b) => b,
            Err(e) => return err(e),
        };
        let $p = match profile(&$st, &$headers, &$q, Some(&$body)).await {
            Ok(p) => p,
            Err(e) => return err(e),
        };
        answer($call, $status)
    }};
}

/// A GET whose resource is named by a numeric id in the path.
macro_rules! get_by_id {
    ($name:ident, $method:ident) => {
        pub(super) async fn $name(
            State(st): State<AppState>,
            headers: HeaderMap,
            Query(q): Query<HashMap<String, String>>,
            Path(id): Path<String>,
        ) -> Response {
            let Some(id) = id_of(&id) else {
                return not_found();
            };
            let p = match profile(&st, &headers, &q, None).await {
                Ok(p) => p,
                Err(e) => return err(e),
            };
            answer(st.svc.paymob().$method(&p, id).await, StatusCode::OK)
        }
    };
}

mod intention;
mod lang;
mod legacy;
mod pages;
mod subscriptions;

pub fn router() -> Router<AppState> {
    Router::new()
        // Intention API
        .route("/v1/intention/", post(intention::create_intention))
        .route("/v1/intention", post(intention::create_intention))
        .route(
            "/v1/intention/{cs}",
            axum::routing::put(intention::update_intention),
        )
        .route(
            "/v1/intention/{cs}/",
            axum::routing::put(intention::update_intention),
        )
        .route(
            "/v1/intention/element/{pk}/{cs}/",
            get(intention::intention_element).options(preflight),
        )
        .route(
            "/v1/intention/element/{pk}/{cs}",
            get(intention::intention_element).options(preflight),
        )
        // Pages and scripts
        .merge(pages::routes())
        .route("/pm/i18n/{lang}", get(lang::i18n_table))
        // Legacy Accept API
        .route("/api/auth/tokens", post(legacy::auth_tokens))
        .route("/api/ecommerce/orders", post(legacy::create_order))
        .route("/api/ecommerce/orders/", post(legacy::create_order))
        .route("/api/ecommerce/orders/{id}", get(legacy::get_order))
        .route(
            "/api/ecommerce/orders/transaction_inquiry",
            post(legacy::transaction_inquiry),
        )
        .route("/api/acceptance/payment_keys", post(legacy::payment_keys))
        .route("/api/acceptance/payment_keys/", post(legacy::payment_keys))
        .route(
            "/api/acceptance/payments/pay",
            post(legacy::pay).options(preflight),
        )
        .route(
            "/api/acceptance/transactions/{id}",
            get(legacy::get_transaction),
        )
        .route(
            "/api/acceptance/transactions/{id}/hmac_calc",
            get(legacy::hmac_calc),
        )
        .route("/api/acceptance/void_refund/refund", post(legacy::refund))
        .route("/api/acceptance/void_refund/void", post(legacy::void))
        .route("/api/acceptance/capture", post(legacy::capture))
        // Subscriptions
        .route(
            "/api/acceptance/subscription-plans",
            post(subscriptions::create_plan).get(subscriptions::list_plans),
        )
        .route(
            "/api/acceptance/subscription-plans/",
            post(subscriptions::create_plan).get(subscriptions::list_plans),
        )
        .route(
            "/api/acceptance/subscription-plans/{id}",
            get(subscriptions::get_plan).put(subscriptions::update_plan),
        )
        .route(
            "/api/acceptance/subscription-plans/{id}/{action}",
            post(subscriptions::plan_action),
        )
        .route(
            "/api/acceptance/subscriptions",
            get(subscriptions::list_subscriptions),
        )
        .route(
            "/api/acceptance/subscriptions/",
            get(subscriptions::list_subscriptions),
        )
        .route(
            "/api/acceptance/subscriptions/{id}",
            get(subscriptions::get_subscription).put(subscriptions::update_subscription),
        )
        .route(
            "/api/acceptance/subscriptions/{id}/transactions",
            get(subscriptions::subscription_transactions),
        )
        .route(
            "/api/acceptance/subscriptions/{id}/last-transaction",
            get(subscriptions::subscription_last_transaction),
        )
        .route(
            "/api/acceptance/subscriptions/{id}/{action}",
            post(subscriptions::subscription_action),
        )
}

// ---- plumbing ----

/// A Paymob-shaped answer.
struct PmResponse(StatusCode, Value);

impl IntoResponse for PmResponse {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

fn err(e: PmError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    PmResponse(status, e.body).into_response()
}

fn ok(status: StatusCode, body: Value) -> Response {
    PmResponse(status, body).into_response()
}

fn answer(r: Result<Value, PmError>, status: StatusCode) -> Response {
    match r {
        Ok(v) => ok(status, v),
        Err(e) => err(e),
    }
}

/// The JSON body; an empty body is `{}`. Anything else that is not a JSON object is a 400.
fn body_json(bytes: &Bytes) -> Result<Value, PmError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(PmError::detail(400, "Invalid data. Expected a dictionary.")),
        Err(e) => Err(PmError::detail(400, format!("JSON parse error - {e}"))),
    }
}

/// The credential a Paymob client sent, in any of the ways they send it: `Authorization:
/// Token <k>`, `Bearer <k>` or the bare key, a `token` query parameter, or `auth_token` in the
/// body.
fn credential(
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: Option<&Value>,
) -> Option<String> {
    if let Some(v) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        let key = v
            .strip_prefix("Token ")
            .or_else(|| v.strip_prefix("Bearer "))
            .or_else(|| v.strip_prefix("token "))
            .or_else(|| v.strip_prefix("bearer "))
            .unwrap_or(v)
            .trim();
        if !key.is_empty() {
            return Some(key.to_string());
        }
    }
    if let Some(t) = query.get("token").filter(|t| !t.is_empty()) {
        return Some(t.clone());
    }
    body.and_then(|b| b.get("auth_token"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

async fn profile(
    st: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: Option<&Value>,
) -> Result<PmProfile, PmError> {
    st.svc
        .paymob()
        .authenticate_profile(credential(headers, query, body).as_deref())
        .await
}

fn with_cors(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static("content-type, authorization"),
    );
    h.insert("access-control-max-age", HeaderValue::from_static("600"));
    resp
}

async fn preflight() -> Response {
    with_cors(StatusCode::NO_CONTENT.into_response())
}

fn id_of(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|n| *n > 0)
}

fn not_found() -> Response {
    err(PmError::detail(404, "Not found."))
}
