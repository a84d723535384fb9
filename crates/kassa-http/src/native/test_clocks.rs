//! `/v1/test_helpers/test_clocks`.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use kassa_service::clock_json;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::schemas::billing::{DeletedTestClock, TestClockList, TestClockObject};
use super::{cursor_not_found, list_body, Caller, ListParams};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTestClock {
    /// The clock's time, Unix seconds (within ten years of now).
    pub frozen_time: i64,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceTestClock {
    /// The new time, Unix seconds, later than the clock's.
    pub frozen_time: i64,
}

/// Create a test clock.
#[utoipa::path(post, path = "/v1/test_helpers/test_clocks", operation_id = "create_test_clock", request_body = CreateTestClock,
    responses((status = 200, description = "The clock", body = TestClockObject), (status = 400, description = "A field is not valid")),
    security(("bearer" = [])), tag = "test_clocks")]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(req): ApiJson<CreateTestClock>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let c = state
        .svc
        .billing()
        .create_test_clock(&caller.scope, req.frozen_time, req.name)
        .await?;
    Ok(Json(clock_json(&c)))
}

/// Retrieve a test clock.
#[utoipa::path(get, path = "/v1/test_helpers/test_clocks/{id}", operation_id = "retrieve_test_clock", params(("id" = String, Path)),
    responses((status = 200, description = "The clock", body = TestClockObject), (status = 404, description = "No such clock")),
    security(("bearer" = [])), tag = "test_clocks")]
pub async fn retrieve(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let c = state.svc.billing().test_clock(&caller.scope, &id).await?;
    Ok(Json(clock_json(&c)))
}

/// List test clocks, newest first.
#[utoipa::path(get, path = "/v1/test_helpers/test_clocks", operation_id = "list_test_clocks", params(ListParams),
    responses((status = 200, description = "A page of clocks", body = TestClockList)),
    security(("bearer" = [])), tag = "test_clocks")]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<ListParams>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let limit = q.limit()?;
    let items = state
        .svc
        .billing()
        .list_test_clocks(&caller.scope, limit + 1, q.starting_after.as_deref())
        .await?
        .ok_or_else(|| cursor_not_found(q.starting_after.as_deref().unwrap_or_default()))?;
    let items = items.iter().map(clock_json).collect();
    Ok(Json(list_body(
        "/v1/test_helpers/test_clocks",
        items,
        limit,
    )))
}

/// Advance a test clock: every renewal, retry, trial notice, trial end and subscription end it
/// passes runs, in order, before this answers.
#[utoipa::path(post, path = "/v1/test_helpers/test_clocks/{id}/advance", operation_id = "advance_test_clock", params(("id" = String, Path)), request_body = AdvanceTestClock,
    responses((status = 200, description = "The clock at its new time", body = TestClockObject), (status = 400, description = "Not later than the clock")),
    security(("bearer" = [])), tag = "test_clocks")]
pub async fn advance(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AdvanceTestClock>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let c = state
        .svc
        .billing()
        .advance_test_clock(&caller.scope, &id, req.frozen_time)
        .await?;
    Ok(Json(clock_json(&c)))
}

/// Delete a test clock whose subscriptions have all ended.
#[utoipa::path(delete, path = "/v1/test_helpers/test_clocks/{id}", operation_id = "delete_test_clock", params(("id" = String, Path)),
    responses((status = 200, description = "The deleted stub", body = DeletedTestClock), (status = 400, description = "Subscriptions still running")),
    security(("bearer" = [])), tag = "test_clocks")]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    Ok(Json(
        state
            .svc
            .billing()
            .delete_test_clock(&caller.scope, &id)
            .await?,
    ))
}
