//! `/v1/processor_accounts`: where a merchant's live payments go.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use kassa_service::processor_webhooks::{WebhookApplied, WebhookRefused};
use kassa_service::processors::AccountParams;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::schemas::processors::{ProcessorAccountList, ProcessorAccountObject};
use super::schemas::ErrorBody;
use super::{list_body, Caller};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProcessorAccount {
    /// The connector, e.g. `stripe`.
    pub connector: String,
    /// What the connector's credential schema asks for, e.g. `{"secret_key": "sk_live_…",
    /// "webhook_secret": "whsec_…"}`. Stored encrypted; never shown again.
    pub credentials: BTreeMap<String, String>,
}

/// Add the live processor account (one is active per mode). Live keys only.
#[utoipa::path(post, path = "/v1/processor_accounts", operation_id = "create_processor_account", request_body = CreateProcessorAccount,
    responses((status = 200, description = "The account, credentials masked", body = ProcessorAccountObject),
        (status = 400, description = "A test key, an unknown connector, credentials the connector refuses, or an active account already", body = ErrorBody),
        (status = 403, description = "Live mode is off on this server", body = ErrorBody)),
    security(("bearer" = [])), tag = "processor_accounts")]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(req): ApiJson<CreateProcessorAccount>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let body = state
        .svc
        .processors()
        .add_account(
            &caller.scope,
            AccountParams {
                connector: req.connector,
                credentials: req.credentials,
            },
        )
        .await?;
    Ok(Json(body))
}

/// List the mode's processor accounts, removed ones included.
#[utoipa::path(get, path = "/v1/processor_accounts", operation_id = "list_processor_accounts",
    responses((status = 200, description = "All accounts, newest first", body = ProcessorAccountList)),
    security(("bearer" = [])), tag = "processor_accounts")]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let all = state.svc.processors().accounts(&caller.scope).await?;
    let n = all.len() as i64;
    Ok(Json(list_body("/v1/processor_accounts", all, n)))
}

/// Retrieve a processor account.
#[utoipa::path(get, path = "/v1/processor_accounts/{id}", operation_id = "retrieve_processor_account", params(("id" = String, Path)),
    responses((status = 200, description = "The account", body = ProcessorAccountObject),
        (status = 404, description = "No such account", body = ErrorBody)),
    security(("bearer" = [])), tag = "processor_accounts")]
pub async fn retrieve(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    Ok(Json(
        state.svc.processors().account(&caller.scope, &id).await?,
    ))
}

/// Remove a processor account: new live payments are refused until another is added; the
/// payments it took keep using it for capture, void and refunds.
#[utoipa::path(delete, path = "/v1/processor_accounts/{id}", operation_id = "delete_processor_account", params(("id" = String, Path)),
    responses((status = 200, description = "The removed account", body = ProcessorAccountObject),
        (status = 404, description = "No such active account", body = ErrorBody)),
    security(("bearer" = [])), tag = "processor_accounts")]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    Ok(Json(
        state
            .svc
            .processors()
            .remove_account(&caller.scope, &id)
            .await?,
    ))
}

/// A processor's webhook for one account (`webhook_url` of the account): verified by the
/// account's connector (Stripe: `Stripe-Signature`, 300 s tolerance) and applied once. A
/// signature that does not verify costs the sender's address a credential attempt.
pub async fn webhook(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> Response {
    let ip = crate::guards::client_addr(&state, &req);
    let headers: HeaderMap = req.headers().clone();
    let body: Bytes = match axum::body::to_bytes(req.into_body(), crate::BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                "body_too_large",
                "The webhook's body is too large.",
            )
            .into_response()
        }
    };
    match state
        .svc
        .processors()
        .handle_webhook(&id, &headers, &body)
        .await
    {
        Ok(applied) => Json(serde_json::json!({
            "received": true,
            "settled": match applied {
                WebhookApplied::Settled(id) => Some(id),
                WebhookApplied::Ignored => None,
            },
        }))
        .into_response(),
        Err(WebhookRefused::UnknownAccount) => {
            ApiError::not_found("No such processor account.".to_string()).into_response()
        }
        Err(WebhookRefused::Invalid(e)) => {
            if let Some(ip) = ip {
                if let Err(wait) = state.guards.limits.check_credentials(ip) {
                    return crate::guards::too_many("/v1/processor_webhooks", wait);
                }
            }
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "webhook_invalid",
                format!("The webhook was not accepted: {e}."),
            )
            .into_response()
        }
        Err(WebhookRefused::Service(e)) => ApiError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::schemas::tests::pinned;
    use serde_json::json;

    /// The documented schema is the object the service answers (unknown fields refused).
    #[test]
    fn the_schema_matches_the_object() {
        let o = json!({
            "id": "pa_1", "object": "processor_account", "connector": "stripe", "livemode": true,
            "status": "active", "credentials": {"secret_key": "sk_live_…abcd"},
            "capabilities": {"methods": ["card"], "manual_capture": true, "partial_capture": true,
                "partial_refund": true, "void": true, "three_d_secure": "processor_redirect",
                "saved_cards": true, "async_refunds": true, "webhooks": true, "currencies": "any"},
            "webhook_url": "https://pay.example/v1/processor_webhooks/pa_1",
            "created": 1, "removed": null,
        });
        let a: ProcessorAccountObject = pinned(&o);
        assert_eq!(a.credentials["secret_key"], "sk_live_…abcd");
        let l: ProcessorAccountList = pinned(&list_body("/v1/processor_accounts", vec![o], 1));
        assert_eq!(l.data.len(), 1);
    }
}
