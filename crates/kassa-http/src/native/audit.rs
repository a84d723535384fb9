//! `GET /v1/audit_log`: who changed what, for the key's mode, newest first.

use axum::extract::State;
use axum::{Extension, Json};
use serde_json::Value;

use super::schemas::audit::AuditRecordList;
use super::schemas::ErrorBody;
use super::{cursor_not_found, list_body, Caller, ListParams};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::AppState;

/// List audit records (configuration changes and money actions from the API, the dashboard and
/// the CLI), newest first. Secrets are never recorded.
#[utoipa::path(get, path = "/v1/audit_log", operation_id = "list_audit_records", params(ListParams),
    responses((status = 200, description = "A page of audit records", body = AuditRecordList),
        (status = 400, description = "`limit` out of range or an unknown `starting_after`", body = ErrorBody)),
    security(("bearer" = [])), tag = "audit_log")]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<ListParams>,
) -> Result<Json<Value>, ApiError> {
    caller.require_secret()?;
    let limit = q.limit()?;
    let store = &state.svc.store;
    let before = match q.starting_after.as_deref() {
        None => None,
        Some(id) => {
            let r = store
                .audit_record(&caller.scope, id)
                .await
                .map_err(kassa_service::ServiceError::from)?
                .ok_or_else(|| cursor_not_found(id))?;
            Some((r.at, r.id))
        }
    };
    let items = store
        .audit_records(
            &caller.scope,
            limit + 1,
            before.as_ref().map(|(at, id)| (*at, id.as_str())),
        )
        .await
        .map_err(kassa_service::ServiceError::from)?;
    let items = items.iter().map(|r| r.to_json()).collect();
    Ok(Json(list_body("/v1/audit_log", items, limit)))
}
