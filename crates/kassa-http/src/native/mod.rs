//! The native JSON API under `/v1`: payment intents, refunds, webhook endpoints, events.
//!
//! Authentication and idempotency are middleware: a request reaches a handler only with a known
//! key, and a POST with an `Idempotency-Key` reaches it only once per key.

mod audit;
pub mod branding;
mod customers;
mod intents;
mod openapi;
mod payment_methods;
mod paymentwall;
mod paymob;
mod processor_accounts;
mod refunds;
pub mod schemas;
mod subscriptions;
mod test_clocks;
mod webhooks;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use kassa_service::{Idem, KeyKind};
use kassa_store::{now_ms, IdemBegin, Merchant};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::AppState;

pub use openapi::ApiDoc;

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Caller {
    pub merchant: Merchant,
    pub kind: KeyKind,
    /// The merchant and the key's mode: every object the request reads or writes is in it.
    pub scope: kassa_service::Scope,
}

impl Caller {
    pub fn require_secret(&self) -> Result<(), ApiError> {
        match self.kind {
            KeyKind::Secret => Ok(()),
            KeyKind::Publishable => Err(publishable_forbidden()),
        }
    }
}

fn publishable_forbidden() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "invalid_request_error",
        "secret_key_required",
        "This request needs a secret key (sk_test_…); a publishable key may only retrieve and \
         confirm a payment intent with its client_secret.",
    )
}

/// Idempotency keys are kept this long (at least 24 hours, as merchants rely on).
pub const IDEMPOTENCY_RETENTION_MS: i64 = 24 * 3600 * 1000;
/// A request holding a key is presumed dead after this long, and the key may be retried.
const IDEMPOTENCY_LOCK_MS: i64 = 60_000;

pub fn router(state: AppState) -> Router<AppState> {
    let api = Router::new()
        .route(
            "/v1/payment_intents",
            post(intents::create).get(intents::list),
        )
        .route("/v1/payment_intents/{id}", get(intents::retrieve))
        .route("/v1/payment_intents/{id}/confirm", post(intents::confirm))
        .route("/v1/payment_intents/{id}/capture", post(intents::capture))
        .route("/v1/payment_intents/{id}/cancel", post(intents::cancel))
        .route("/v1/refunds", post(refunds::create).get(refunds::list))
        .route("/v1/refunds/{id}", get(refunds::retrieve))
        .route(
            "/v1/customers",
            post(customers::create).get(customers::list),
        )
        .route(
            "/v1/customers/{id}",
            get(customers::retrieve)
                .post(customers::update)
                .delete(customers::delete),
        )
        .route(
            "/v1/customers/{id}/payment_methods",
            get(payment_methods::list_for_customer),
        )
        .route("/v1/payment_methods/{id}", get(payment_methods::retrieve))
        .route(
            "/v1/subscriptions",
            post(subscriptions::create).get(subscriptions::list),
        )
        .route(
            "/v1/subscriptions/{id}",
            get(subscriptions::retrieve)
                .post(subscriptions::update)
                .delete(subscriptions::cancel),
        )
        .route("/v1/subscriptions/{id}/pause", post(subscriptions::pause))
        .route("/v1/subscriptions/{id}/resume", post(subscriptions::resume))
        .route("/v1/invoices", get(subscriptions::list_invoices))
        .route("/v1/invoices/{id}", get(subscriptions::retrieve_invoice))
        .route(
            "/v1/test_helpers/test_clocks",
            post(test_clocks::create).get(test_clocks::list),
        )
        .route(
            "/v1/test_helpers/test_clocks/{id}",
            get(test_clocks::retrieve).delete(test_clocks::delete),
        )
        .route(
            "/v1/test_helpers/test_clocks/{id}/advance",
            post(test_clocks::advance),
        )
        .route(
            "/v1/payment_methods/{id}/detach",
            post(payment_methods::detach),
        )
        .route(
            "/v1/webhook_endpoints",
            post(webhooks::create).get(webhooks::list),
        )
        .route(
            "/v1/webhook_endpoints/{id}",
            get(webhooks::retrieve)
                .post(webhooks::update)
                .delete(webhooks::delete),
        )
        .route(
            "/v1/webhook_endpoints/{id}/rotate_secret",
            post(webhooks::rotate),
        )
        .route(
            "/v1/processor_accounts",
            post(processor_accounts::create).get(processor_accounts::list),
        )
        .route(
            "/v1/processor_accounts/{id}",
            get(processor_accounts::retrieve).delete(processor_accounts::delete),
        )
        .route("/v1/audit_log", get(audit::list))
        .route("/v1/events", get(webhooks::list_events))
        .route("/v1/events/{id}", get(webhooks::retrieve_event))
        .route(
            "/v1/events/{id}/deliveries",
            get(webhooks::event_deliveries),
        )
        .route("/v1/events/{id}/resend", post(webhooks::resend))
        .route(
            "/v1/paymentwall/projects",
            post(paymentwall::create_project).get(paymentwall::list_projects),
        )
        .route(
            "/v1/paymentwall/projects/{id}",
            get(paymentwall::retrieve_project).post(paymentwall::update_project),
        )
        .route(
            "/v1/paymentwall/projects/{id}/test_pingback",
            post(paymentwall::test_pingback),
        )
        .route(
            "/v1/paymentwall/projects/{id}/subscriptions",
            get(paymentwall::project_subscriptions),
        )
        .route(
            "/v1/paymentwall/projects/{id}/payments/{ref}",
            get(paymentwall::retrieve_payment),
        )
        .route(
            "/v1/paymentwall/projects/{id}/payments/{ref}/chargeback",
            post(paymentwall::chargeback),
        )
        .route(
            "/v1/paymentwall/subscriptions/{id}",
            get(paymentwall::retrieve_subscription),
        )
        .route(
            "/v1/paymentwall/subscriptions/{id}/cancel",
            post(paymentwall::cancel_subscription),
        )
        .route(
            "/v1/paymentwall/subscriptions/{id}/advance_clock",
            post(paymentwall::advance_clock),
        )
        .route(
            "/v1/paymob/profiles",
            post(paymob::create_profile).get(paymob::list_profiles),
        )
        .route(
            "/v1/paymob/profiles/{id}",
            get(paymob::retrieve_profile).post(paymob::update_profile),
        )
        .route(
            "/v1/paymob/profiles/{id}/integrations",
            post(paymob::add_integration),
        )
        .route(
            "/v1/paymob/profiles/{id}/integrations/{integration}",
            post(paymob::update_integration),
        )
        .route(
            "/v1/paymob/transactions/{id}/sandbox_settle",
            post(paymob::sandbox_settle),
        )
        .route(
            "/v1/paymob/subscriptions/{id}/advance_clock",
            post(paymob::advance_clock),
        )
        .merge(branding::routes())
        // Only known routes ask for a key: an unknown path is a 404 (crate::home::not_found),
        // not an authentication error.
        .route_layer(axum::middleware::from_fn_with_state(state, authenticate));
    Router::new()
        .route("/v1/openapi.json", get(openapi::serve))
        // Signed by the processor, not authenticated with a key: the connector verifies it.
        .route(
            "/v1/processor_webhooks/{id}",
            post(processor_accounts::webhook),
        )
        .merge(api)
}

/// The authenticated routes whose body is a file (logos): merged outside the API's 64 KiB body
/// limit, with their own.
pub fn upload_router(state: AppState) -> Router<AppState> {
    branding::upload_routes().route_layer(axum::middleware::from_fn_with_state(state, authenticate))
}

fn api_key(req: &Request) -> Option<String> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    if let Some(token) = value.strip_prefix("Bearer ") {
        return Some(token.trim().to_string());
    }
    if let Some(b64) = value.strip_prefix("Basic ") {
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        return Some(text.split(':').next()?.to_string());
    }
    None
}

/// Authenticates the key, limits publishable keys to what a checkout page needs, and applies
/// idempotency to POSTs.
/// Most of a refused request's body read before the answer. A client still sending its body
/// (a logo upload) when the refusal comes would otherwise see the connection closed under it
/// (a broken pipe) instead of the answer.
const REFUSED_BODY_DRAIN: usize = 1024 * 1024;

/// Answers `response` to a request refused before its handler ran, after reading (and
/// dropping) what it sends of its body, up to [`REFUSED_BODY_DRAIN`].
async fn refuse(req: Request, response: Response) -> Response {
    let _ = axum::body::to_bytes(req.into_body(), REFUSED_BODY_DRAIN).await;
    response
}

async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(key) = api_key(&req) else {
        let refused = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "api_key_missing",
            "No API key provided. Send it as `Authorization: Bearer sk_test_…`.",
        );
        return refuse(req, refused.into_response()).await;
    };
    let caller = match state.svc.authenticate(&key).await {
        Ok(Some(owner)) => Caller {
            merchant: owner.merchant,
            kind: owner.kind,
            scope: owner.scope,
        },
        Ok(None) => {
            // Guessing keys costs a credential attempt from the caller's address.
            if let Some(ip) = crate::guards::client_addr(&state, &req) {
                if let Err(wait) = state.guards.limits.check_credentials(ip) {
                    let refused = crate::guards::too_many(req.uri().path(), wait);
                    return refuse(req, refused).await;
                }
            }
            let refused = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "api_key_invalid",
                "Invalid API key provided.",
            );
            return refuse(req, refused.into_response()).await;
        }
        Err(e) => return refuse(req, ApiError::from(e).into_response()).await,
    };
    if let Err(wait) = state.guards.limits.check_api_key(&key) {
        let refused = crate::guards::too_many(req.uri().path(), wait);
        return refuse(req, refused).await;
    }
    if caller.kind == KeyKind::Publishable && !publishable_may(req.method(), req.uri().path()) {
        return refuse(req, publishable_forbidden().into_response()).await;
    }
    let scope = caller.scope.clone();
    req.extensions_mut().insert(caller);

    let idem_key = match req.headers().get("idempotency-key") {
        None => None,
        Some(v) => match v.to_str() {
            Ok(k)
                if !k.is_empty()
                    && k.len() <= 255
                    && k.bytes().all(|b| (0x20..0x7f).contains(&b)) =>
            {
                Some(k.to_string())
            }
            _ => {
                let refused = ApiError::invalid(
                    Some("Idempotency-Key"),
                    "Idempotency-Key must be 1 to 255 printable ASCII characters.",
                );
                return refuse(req, refused.into_response()).await;
            }
        },
    };
    match (req.method().clone(), idem_key) {
        (Method::POST, Some(key)) => with_idempotency(state, scope, key, req, next).await,
        _ => next.run(req).await,
    }
}

fn publishable_may(method: &Method, path: &str) -> bool {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    matches!(
        (method, parts.as_slice()),
        (&Method::GET, ["", "v1", "payment_intents", _])
            | (&Method::POST, ["", "v1", "payment_intents", _, "confirm"])
    )
}

async fn with_idempotency(
    state: AppState,
    scope: kassa_service::Scope,
    key: String,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let limit = if branding::is_logo_upload(parts.uri.path()) {
        branding::UPLOAD_BODY_LIMIT
    } else {
        crate::BODY_LIMIT
    };
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                "body_too_large",
                "The request body is too large.",
            )
            .into_response()
        }
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(parts.uri.path().as_bytes());
    hasher.update(b"\n");
    hasher.update(&bytes);
    let request_hash = hex::encode(hasher.finalize());
    let store = &state.svc.store;
    let begun = store
        .idempotency_begin(
            &scope,
            &key,
            &request_hash,
            now_ms(),
            IDEMPOTENCY_LOCK_MS,
            IDEMPOTENCY_RETENTION_MS,
        )
        .await;
    match begun {
        Err(e) => return ApiError::from(kassa_service::ServiceError::from(e)).into_response(),
        Ok(IdemBegin::Mismatch) => {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_error",
                "idempotency_key_in_use",
                "This Idempotency-Key was already used with a different request. Use a new key \
                 for a new request.",
            )
            .into_response()
        }
        Ok(IdemBegin::InProgress) => {
            return ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_error",
                "idempotency_key_in_progress",
                "A request with this Idempotency-Key is still being processed. Retry shortly.",
            )
            .into_response()
        }
        Ok(IdemBegin::Replay { status, body }) => {
            let mut resp = Response::new(Body::from(body));
            *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            resp.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            resp.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return resp;
        }
        Ok(IdemBegin::Proceed) => {}
    }
    let mut req = Request::from_parts(parts, Body::from(bytes));
    req.extensions_mut().insert(Idem {
        scope: scope.clone(),
        key: key.clone(),
    });
    let resp = next.run(req).await;
    let status = resp.status();
    if status.is_success() || status == StatusCode::PAYMENT_REQUIRED {
        // The effect's transaction normally stored the response already; this covers commands
        // without one and is a no-op otherwise.
        let (parts, body) = resp.into_parts();
        let bytes: Bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        if let Err(e) = store
            .idempotency_complete(
                &scope,
                &key,
                status.as_u16(),
                &String::from_utf8_lossy(&bytes),
            )
            .await
        {
            tracing::error!(error = %e, "storing an idempotent response failed");
        }
        Response::from_parts(parts, Body::from(bytes))
    } else {
        // Nothing took effect (validation, state or server error): the key may be used again.
        if let Err(e) = store.idempotency_release(&scope, &key).await {
            tracing::error!(error = %e, "releasing an idempotency key failed");
        }
        resp
    }
}

/// `limit` and `starting_after` of list endpoints.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// 1 to 100, default 10.
    pub limit: Option<i64>,
    /// Id of the last object of the previous page.
    pub starting_after: Option<String>,
    /// Refunds only: those of one payment intent.
    pub payment_intent: Option<String>,
}

impl ListParams {
    pub fn limit(&self) -> Result<i64, ApiError> {
        page_limit(self.limit)
    }
}

/// A list's page size: 1 to 100, default 10.
pub fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(10),
        Some(n) if (1..=100).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid(
            Some("limit"),
            "limit must be between 1 and 100.",
        )),
    }
}

/// A list page: fetches `limit + 1` to know whether there is more.
pub fn list_body(url: &str, mut items: Vec<serde_json::Value>, limit: i64) -> serde_json::Value {
    let has_more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    serde_json::json!({"object": "list", "url": url, "has_more": has_more, "data": items})
}

pub fn cursor_not_found(id: &str) -> ApiError {
    ApiError::invalid(
        Some("starting_after"),
        format!(
            "No such object for starting_after: '{}'",
            id.chars().take(100).collect::<String>()
        ),
    )
}
