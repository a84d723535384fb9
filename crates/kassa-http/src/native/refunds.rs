//! `/v1/refunds`.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use kassa_core::intent::Metadata;
use kassa_service::{CreateRefundParams, Idem};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::schemas::refunds::{RefundList, RefundObject};
use super::schemas::ErrorBody;
use super::{cursor_not_found, list_body, Caller, ListParams};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRefund {
    /// The succeeded payment intent to refund.
    pub payment_intent: String,
    /// Defaults to everything still refundable.
    #[schema(minimum = 1)]
    pub amount: Option<i64>,
    /// `duplicate`, `fraudulent` or `requested_by_customer`.
    pub reason: Option<String>,
    /// Up to 50 keys of your own (keys 1 to 40 characters, values at most 500).
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub metadata: Option<Metadata>,
}

/// Refund a payment, in full or in part.
#[utoipa::path(post, path = "/v1/refunds", operation_id = "create_refund", request_body = CreateRefund,
    responses((status = 200, description = "The refund", body = RefundObject),
        (status = 400, description = "More than is refundable, not refundable, or an invalid parameter", body = ErrorBody),
        (status = 404, description = "No such payment intent", body = ErrorBody)),
    security(("bearer" = [])), tag = "refunds")]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    idem: Option<Extension<Idem>>,
    ApiJson(req): ApiJson<CreateRefund>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let refund = state
        .svc
        .payments()
        .create_refund(
            &caller.scope,
            CreateRefundParams {
                payment_intent: req.payment_intent,
                amount: req.amount,
                kind: Default::default(),
                reason: req.reason,
                metadata: req.metadata.unwrap_or_default(),
            },
            idem.as_ref().map(|e| &e.0),
        )
        .await?;
    Ok(Json(refund.to_json()))
}

/// Retrieve a refund.
#[utoipa::path(get, path = "/v1/refunds/{id}", operation_id = "retrieve_refund", params(("id" = String, Path)),
    responses((status = 200, description = "The refund", body = RefundObject), (status = 404, description = "No such refund", body = ErrorBody)),
    security(("bearer" = [])), tag = "refunds")]
pub async fn retrieve(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    Ok(Json(
        state
            .svc
            .payments()
            .refund(&caller.scope, &id)
            .await?
            .to_json(),
    ))
}

/// List refunds, newest first.
#[utoipa::path(get, path = "/v1/refunds", operation_id = "list_refunds", params(ListParams),
    responses((status = 200, description = "A page of refunds", body = RefundList),
        (status = 400, description = "`limit` out of range or an unknown `starting_after`", body = ErrorBody)),
    security(("bearer" = [])), tag = "refunds")]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<ListParams>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let limit = q.limit()?;
    let items = state
        .svc
        .store
        .list_refunds(
            &caller.scope,
            limit + 1,
            q.starting_after.as_deref(),
            q.payment_intent.as_deref(),
        )
        .await
        .map_err(kassa_service::ServiceError::from)?
        .ok_or_else(|| cursor_not_found(q.starting_after.as_deref().unwrap_or_default()))?;
    let items = items.iter().map(|r| r.to_json()).collect();
    Ok(Json(list_body("/v1/refunds", items, limit)))
}
