//! The money actions of a payment's page (refund, capture, cancel) and resending a
//! notification: the same service commands as the API, in the user's name.

use axum::extract::{Path, State};
use axum::response::Response;
use kassa_core::intent::RefundKind;
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_service::audit::with_actor;
use kassa_service::CreateRefundParams;
use serde::Deserialize;

use crate::ctx::{Ctx, Posted};
use crate::view::{self};

use super::minor_units;

#[derive(Deserialize)]
pub struct AmountForm {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
}

/// The form's amount in the payment's minor units; empty means "all".
async fn form_amount(
    st: &AppState,
    ctx: &Ctx,
    id: &str,
    amount: &str,
) -> Result<Option<i64>, Response> {
    let pi = st
        .svc
        .payments()
        .intent(&ctx.scope, id)
        .await
        .map_err(|e| view::service_error(&e))?;
    minor_units(amount, Some(&pi.currency)).map_err(|e| view::bad_request(&e))
}

fn done(ctx: &Ctx, id: &str, what: &str) -> Response {
    view::see_other(&format!("{}/payments/{id}?done={what}", ctx.home()))
}

pub async fn refund(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<AmountForm>,
) -> Response {
    let ctx = p.ctx;
    if let Err(resp) = ctx.require(Permission::MoveMoney) {
        return resp;
    }
    if ctx.mode.is_live() {
        if let Err(resp) = ctx.require_recent_password() {
            return resp;
        }
    }
    let amount = match form_amount(&st, &ctx, &id, &p.form.amount).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let params = CreateRefundParams {
        payment_intent: id.clone(),
        amount,
        kind: RefundKind::Refund,
        reason: Some(p.form.reason.clone()).filter(|r| !r.is_empty()),
        metadata: Default::default(),
    };
    match with_actor(
        ctx.actor(),
        st.svc.payments().create_refund(&ctx.scope, params, None),
    )
    .await
    {
        Ok(_) => done(&ctx, &id, "refund"),
        Err(e) => view::service_error(&e),
    }
}

pub async fn capture(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<AmountForm>,
) -> Response {
    let ctx = p.ctx;
    if let Err(resp) = ctx.require(Permission::MoveMoney) {
        return resp;
    }
    let amount = match form_amount(&st, &ctx, &id, &p.form.amount).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    match with_actor(
        ctx.actor(),
        st.svc
            .payments()
            .capture_intent(&ctx.scope, &id, amount, None),
    )
    .await
    {
        Ok(_) => done(&ctx, &id, "capture"),
        Err(e) => view::service_error(&e),
    }
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    reason: String,
}

pub async fn cancel(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<CancelForm>,
) -> Response {
    let ctx = p.ctx;
    if let Err(resp) = ctx.require(Permission::MoveMoney) {
        return resp;
    }
    let reason = Some(p.form.reason.clone()).filter(|r| !r.is_empty());
    match with_actor(
        ctx.actor(),
        st.svc
            .payments()
            .cancel_intent(&ctx.scope, &id, reason, None),
    )
    .await
    {
        Ok(_) => done(&ctx, &id, "cancel"),
        Err(e) => view::service_error(&e),
    }
}

#[derive(Deserialize)]
pub struct ResendForm {
    event: String,
    endpoint: String,
}

pub async fn resend(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<ResendForm>,
) -> Response {
    let ctx = p.ctx;
    if let Err(resp) = ctx.require(Permission::MoveMoney) {
        return resp;
    }
    match with_actor(
        ctx.actor(),
        st.svc
            .webhooks()
            .resend_event(&ctx.scope, &p.form.event, &p.form.endpoint),
    )
    .await
    {
        Ok(_) => done(&ctx, &id, "resend"),
        Err(e) => view::service_error(&e),
    }
}
