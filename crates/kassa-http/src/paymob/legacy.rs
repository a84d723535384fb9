//! The legacy Accept API: auth tokens, orders, payment keys, `payments/pay`, transactions,
//! their HMAC, and refund, void and capture.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::collections::HashMap;

use super::lang::{keep_lang, LangQuery};
use super::{answer, body_json, err, id_of, not_found, ok, profile, with_cors};
use crate::lang::Lang;
use crate::AppState;

pub(super) async fn auth_tokens(State(st): State<AppState>, bytes: Bytes) -> Response {
    let body = match body_json(&bytes) {
        Ok(b) => b,
        Err(e) => return err(e),
    };
    answer(st.svc.paymob().auth_token(&body).await, StatusCode::CREATED)
}

pub(super) async fn create_order(
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
        |p, body| st.svc.paymob().create_order(&p, &body).await,
        StatusCode::CREATED
    )
}

pub(super) async fn payment_keys(
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
        |p, body| st.svc.paymob().create_payment_key(&p, &body).await,
        StatusCode::CREATED
    )
}

pub(super) async fn transaction_inquiry(
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
        |p, body| st.svc.paymob().transaction_inquiry(&p, &body).await,
        StatusCode::OK
    )
}

pub(super) async fn refund(
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
        |p, body| st.svc.paymob().refund(&p, &body).await,
        StatusCode::OK
    )
}

pub(super) async fn void(
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
        |p, body| st.svc.paymob().void(&p, &body).await,
        StatusCode::OK
    )
}

pub(super) async fn capture(
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
        |p, body| st.svc.paymob().capture(&p, &body).await,
        StatusCode::OK
    )
}

/// `POST /api/acceptance/payments/pay[?lang=]`: Kassa's pages pass the payer's language, and
/// the 3-D Secure / wallet / status page the answer sends them to keeps it.
pub(super) async fn pay(
    State(st): State<AppState>,
    Query(q): Query<LangQuery>,
    bytes: Bytes,
) -> Response {
    let body = match body_json(&bytes) {
        Ok(b) => b,
        Err(e) => return with_cors(err(e)),
    };
    let lang = q.lang.as_deref().and_then(Lang::from_tag);
    with_cors(match st.svc.paymob().pay(&body).await {
        Ok(mut r) => {
            for k in ["redirect_url", "redirection_url", "iframe_redirection_url"] {
                if let Some(u) = r
                    .body
                    .get(k)
                    .and_then(Value::as_str)
                    .filter(|u| !u.is_empty())
                {
                    let kept = keep_lang(&st, u, lang);
                    r.body[k] = json!(kept);
                }
            }
            ok(
                StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK),
                r.body,
            )
        }
        Err(e) => err(e),
    })
}

get_by_id!(get_order, get_order);
get_by_id!(get_transaction, get_transaction);
get_by_id!(hmac_calc, hmac_calc);
