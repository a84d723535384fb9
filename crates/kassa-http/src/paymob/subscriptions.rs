//! The subscription APIs: plans (create, list, read, update, suspend/resume) and
//! subscriptions (list, read, update, their transactions, and their actions).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kassa_service::paymob::PmError;
use serde_json::json;
use std::collections::HashMap;

use super::{answer, body_json, err, id_of, not_found, profile};
use crate::AppState;

get_by_id!(get_plan, get_plan);
get_by_id!(get_subscription, get_subscription);
get_by_id!(subscription_transactions, subscription_transactions);

pub(super) async fn subscription_last_transaction(
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
    answer(
        st.svc
            .paymob()
            .subscription_transactions(&p, id)
            .await
            .and_then(|list| {
                list["results"]
                    .get(0)
                    .cloned()
                    .ok_or_else(|| PmError::detail(404, "No transactions."))
            }),
        StatusCode::OK,
    )
}

pub(super) async fn create_plan(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> Response {
    authed!(
        st,
        headers,
        q,
        bytes,
        |p, body| st.svc.paymob().create_plan(&p, &body).await,
        StatusCode::CREATED
    )
}

pub(super) async fn list_plans(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match profile(&st, &headers, &q, None).await {
        Ok(p) => answer(st.svc.paymob().list_plans(&p).await, StatusCode::OK),
        Err(e) => err(e),
    }
}

pub(super) async fn list_subscriptions(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match profile(&st, &headers, &q, None).await {
        Ok(p) => answer(st.svc.paymob().list_subscriptions(&p).await, StatusCode::OK),
        Err(e) => err(e),
    }
}

pub(super) async fn update_plan(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    let Some(id) = id_of(&id) else {
        return not_found();
    };
    authed!(
        st,
        headers,
        q,
        bytes,
        |p, body| st.svc.paymob().update_plan(&p, id, &body).await,
        StatusCode::OK
    )
}

pub(super) async fn plan_action(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Path((id, action)): Path<(String, String)>,
    bytes: Bytes,
) -> Response {
    let Some(id) = id_of(&id) else {
        return not_found();
    };
    let active = match action.as_str() {
        "suspend" => false,
        "resume" => true,
        _ => return not_found(),
    };
    authed!(
        st,
        headers,
        q,
        bytes,
        |p, _body| st
            .svc
            .paymob()
            .update_plan(&p, id, &json!({"is_active": active}))
            .await,
        StatusCode::OK
    )
}

pub(super) async fn update_subscription(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    let Some(id) = id_of(&id) else {
        return not_found();
    };
    authed!(
        st,
        headers,
        q,
        bytes,
        |p, body| st
            .svc
            .paymob()
            .change_subscription(&p, id, "update", &body)
            .await,
        StatusCode::OK
    )
}

pub(super) async fn subscription_action(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Path((id, action)): Path<(String, String)>,
    bytes: Bytes,
) -> Response {
    let Some(id) = id_of(&id) else {
        return not_found();
    };
    if !["suspend", "resume", "cancel", "register_webhook"].contains(&action.as_str()) {
        return not_found();
    }
    authed!(
        st,
        headers,
        q,
        bytes,
        |p, body| st
            .svc
            .paymob()
            .change_subscription(&p, id, &action, &body)
            .await,
        StatusCode::OK
    )
}
