//! The Intention API: create and update an intention (`/v1/intention/`), and the element
//! data Pixel reads on the merchant's page (`/v1/intention/element/…`, with CORS).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::HashMap;

use super::{answer, body_json, err, profile, with_cors};
use crate::AppState;

pub(super) async fn create_intention(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> Response {
    let p = match profile(&st, &headers, &q, None).await {
        Ok(p) => p,
        Err(e) => return err(e),
    };
    let body = match body_json(&bytes) {
        Ok(b) => b,
        Err(e) => return err(e),
    };
    answer(
        st.svc.paymob().create_intention(&p, &body).await,
        StatusCode::CREATED,
    )
}

pub(super) async fn update_intention(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Path(cs): Path<String>,
    bytes: Bytes,
) -> Response {
    let p = match profile(&st, &headers, &q, None).await {
        Ok(p) => p,
        Err(e) => return err(e),
    };
    let body = match body_json(&bytes) {
        Ok(b) => b,
        Err(e) => return err(e),
    };
    answer(
        st.svc.paymob().update_intention(&p, &cs, &body).await,
        StatusCode::OK,
    )
}

pub(super) async fn intention_element(
    State(st): State<AppState>,
    Path((pk, cs)): Path<(String, String)>,
) -> Response {
    with_cors(answer(
        st.svc.paymob().intention_element(&pk, &cs).await,
        StatusCode::OK,
    ))
}
