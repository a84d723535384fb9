//! `/v1/webhook_endpoints` and `/v1/events`.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use kassa_service::{endpoint_json, EndpointParams, EndpointUpdate, Idem};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::schemas::webhooks::{
    DeletedWebhookEndpoint, DeliveryList, DeliveryObject, EventList, EventObject,
    WebhookEndpointList, WebhookEndpointObject,
};
use super::schemas::ErrorBody;
use super::{cursor_not_found, list_body, Caller, ListParams};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpoint {
    pub url: String,
    /// Event types, or `["*"]` for all.
    pub enabled_events: Vec<String>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookEndpoint {
    pub url: Option<String>,
    pub enabled_events: Option<Vec<String>>,
    pub description: Option<String>,
    pub disabled: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// Seconds the previous secret keeps signing (default 86400, at most 604800).
    pub expires_in: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendEvent {
    /// The endpoint to send the event to.
    pub webhook_endpoint: String,
}

/// Create a webhook endpoint; the response carries its signing secret (`whsec_…`).
#[utoipa::path(post, path = "/v1/webhook_endpoints", operation_id = "create_webhook_endpoint", request_body = CreateWebhookEndpoint,
    responses((status = 200, description = "The endpoint with its secret", body = WebhookEndpointObject),
        (status = 400, description = "An invalid URL or event type, a refused address, or too many endpoints", body = ErrorBody)),
    security(("bearer" = [])), tag = "webhooks")]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    idem: Option<Extension<Idem>>,
    ApiJson(req): ApiJson<CreateWebhookEndpoint>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let body = state
        .svc
        .webhooks()
        .create_endpoint(
            &caller.scope,
            EndpointParams {
                url: req.url,
                enabled_events: req.enabled_events,
                description: req.description,
            },
            idem.as_ref().map(|e| &e.0),
        )
        .await?;
    Ok(Json(body))
}

/// List webhook endpoints.
#[utoipa::path(get, path = "/v1/webhook_endpoints", operation_id = "list_webhook_endpoints",
    responses((status = 200, description = "All endpoints", body = WebhookEndpointList)),
    security(("bearer" = [])), tag = "webhooks")]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let eps = state
        .svc
        .store
        .list_endpoints(&caller.scope)
        .await
        .map_err(kassa_service::ServiceError::from)?;
    let n = eps.len() as i64;
    Ok(Json(list_body(
        "/v1/webhook_endpoints",
        eps.iter().map(endpoint_json).collect(),
        n,
    )))
}

/// Retrieve a webhook endpoint.
#[utoipa::path(get, path = "/v1/webhook_endpoints/{id}", operation_id = "retrieve_webhook_endpoint", params(("id" = String, Path)),
    responses((status = 200, description = "The endpoint", body = WebhookEndpointObject),
        (status = 404, description = "No such endpoint", body = ErrorBody)),
    security(("bearer" = [])), tag = "webhooks")]
pub async fn retrieve(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    Ok(Json(endpoint_json(
        &state.svc.webhooks().endpoint(&caller.scope, &id).await?,
    )))
}

/// Update a webhook endpoint.
#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}", operation_id = "update_webhook_endpoint", params(("id" = String, Path)), request_body = UpdateWebhookEndpoint,
    responses((status = 200, description = "The endpoint", body = WebhookEndpointObject),
        (status = 400, description = "An invalid URL or event type, or a refused address", body = ErrorBody),
        (status = 404, description = "No such endpoint", body = ErrorBody)),
    security(("bearer" = [])), tag = "webhooks")]
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateWebhookEndpoint>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let ep = state
        .svc
        .webhooks()
        .update_endpoint(
            &caller.scope,
            &id,
            EndpointUpdate {
                url: req.url,
                enabled_events: req.enabled_events,
                description: req.description,
                disabled: req.disabled,
            },
        )
        .await?;
    Ok(Json(endpoint_json(&ep)))
}

/// Delete a webhook endpoint; its pending deliveries stop.
#[utoipa::path(delete, path = "/v1/webhook_endpoints/{id}", operation_id = "delete_webhook_endpoint", params(("id" = String, Path)),
    responses((status = 200, description = "Deleted", body = DeletedWebhookEndpoint),
        (status = 404, description = "No such endpoint", body = ErrorBody)),
    security(("bearer" = [])), tag = "webhooks")]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    Ok(Json(
        state
            .svc
            .webhooks()
            .delete_endpoint(&caller.scope, &id)
            .await?,
    ))
}

/// Rotate an endpoint's signing secret; the old one keeps signing for `expires_in` seconds.
#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/rotate_secret", operation_id = "rotate_webhook_endpoint_secret", params(("id" = String, Path)), request_body = RotateSecret,
    responses((status = 200, description = "The endpoint with its new secret", body = WebhookEndpointObject),
        (status = 400, description = "`expires_in` out of range", body = ErrorBody),
        (status = 404, description = "No such endpoint", body = ErrorBody)),
    security(("bearer" = [])), tag = "webhooks")]
pub async fn rotate(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    idem: Option<Extension<Idem>>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<RotateSecret>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    Ok(Json(
        state
            .svc
            .webhooks()
            .rotate_endpoint_secret(
                &caller.scope,
                &id,
                req.expires_in,
                idem.as_ref().map(|e| &e.0),
            )
            .await?,
    ))
}

/// List events, newest first.
#[utoipa::path(get, path = "/v1/events", operation_id = "list_events", params(ListParams),
    responses((status = 200, description = "A page of events", body = EventList),
        (status = 400, description = "`limit` out of range or an unknown `starting_after`", body = ErrorBody)),
    security(("bearer" = [])), tag = "events")]
pub async fn list_events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<ListParams>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let limit = q.limit()?;
    let items = state
        .svc
        .store
        .list_events(&caller.scope, limit + 1, q.starting_after.as_deref())
        .await
        .map_err(kassa_service::ServiceError::from)?
        .ok_or_else(|| cursor_not_found(q.starting_after.as_deref().unwrap_or_default()))?;
    Ok(Json(list_body(
        "/v1/events",
        items.iter().map(|e| e.to_json()).collect(),
        limit,
    )))
}

/// Retrieve an event.
#[utoipa::path(get, path = "/v1/events/{id}", operation_id = "retrieve_event", params(("id" = String, Path)),
    responses((status = 200, description = "The event", body = EventObject),
        (status = 404, description = "No such event", body = ErrorBody)),
    security(("bearer" = [])), tag = "events")]
pub async fn retrieve_event(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    Ok(Json(
        state
            .svc
            .webhooks()
            .event(&caller.scope, &id)
            .await?
            .to_json(),
    ))
}

/// The deliveries of an event, with every attempt (status code, latency, response excerpt).
#[utoipa::path(get, path = "/v1/events/{id}/deliveries", operation_id = "list_event_deliveries", params(("id" = String, Path)),
    responses((status = 200, description = "Deliveries and attempts", body = DeliveryList),
        (status = 404, description = "No such event", body = ErrorBody)),
    security(("bearer" = [])), tag = "events")]
pub async fn event_deliveries(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    Ok(Json(
        state
            .svc
            .webhooks()
            .event_deliveries(&caller.scope, &id)
            .await?,
    ))
}

/// Send an event to an endpoint again, now.
#[utoipa::path(post, path = "/v1/events/{id}/resend", operation_id = "resend_event", params(("id" = String, Path)), request_body = ResendEvent,
    responses((status = 200, description = "The delivery with its attempts", body = DeliveryObject),
        (status = 404, description = "No such event or endpoint, or no delivery of this event to that Paymentwall project or Paymob profile", body = ErrorBody)),
    security(("bearer" = [])), tag = "events")]
pub async fn resend(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ResendEvent>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    Ok(Json(
        state
            .svc
            .webhooks()
            .resend_event(&caller.scope, &id, &req.webhook_endpoint)
            .await?,
    ))
}
