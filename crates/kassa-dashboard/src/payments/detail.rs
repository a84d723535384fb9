//! A payment's page: facts, attempts, refunds, and the timeline of its events with every
//! delivery attempt on every channel.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use kassa_core::intent::IntentStatus;
use kassa_core::money::Money;
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_store::Channel;
use serde::Deserialize;

use crate::ctx::Ctx;
use crate::view::{self, Nav};

use super::{row, Row};

pub struct DeliveryRow {
    pub row: crate::webhooks::DeliveryRow,
    /// What was signed (a pingback's base string or a Paymob callback's HMAC message), to help
    /// a merchant see why their check fails. The secret is never part of it.
    pub signed: Option<String>,
    /// The request as sent (a pingback's URL with its query).
    pub request: Option<String>,
}

pub struct EventRow {
    pub id: String,
    pub kind: &'static str,
    pub at: String,
    pub deliveries: Vec<DeliveryRow>,
}

/// One confirmation of the payment: when, how it ended, the challenge it asked for.
pub struct AttemptInfo {
    pub id: String,
    pub at: String,
    pub status: &'static str,
    pub challenge: String,
    pub error: String,
}

pub struct RefundRow {
    pub id: String,
    pub amount: String,
    pub status: &'static str,
    pub kind: &'static str,
    pub reason: String,
    pub at: String,
}

#[derive(Template)]
#[template(path = "dash/payment.html")]
struct DetailPage {
    nav: Nav,
    pi: Row,
    currency: String,
    received: String,
    refunded: String,
    refundable: String,
    capturable: String,
    can_refund: bool,
    can_capture: bool,
    can_cancel: bool,
    may_move_money: bool,
    error: String,
    customer: String,
    card: String,
    refunds: Vec<RefundRow>,
    attempts: Vec<AttemptInfo>,
    events: Vec<EventRow>,
    flash: Option<String>,
}

/// The string a notification's signature covers, recomputed from the request as sent.
fn signed_string(d: &kassa_store::Delivery) -> Option<String> {
    match d.channel {
        Channel::Webhook => None,
        Channel::Pingback => {
            let url = url::Url::parse(d.request_url.as_deref()?).ok()?;
            let params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            if params.iter().any(|(k, _)| k == "sign_version") {
                Some(format!(
                    "{}<secret key>",
                    kassa_paymentwall::signature_base(
                        &params,
                        "sig",
                        kassa_paymentwall::Ordering::Nested
                    )
                ))
            } else {
                Some("v1: uid, goodsid, slength, speriod, type, ref (in that order) followed by the secret key".into())
            }
        }
        Channel::PaymobCallback => {
            let body: serde_json::Value = serde_json::from_str(d.request_body.as_deref()?).ok()?;
            Some(kassa_paymob::hmac::transaction_message(&body["obj"]))
        }
    }
}

async fn detail_page(st: &AppState, ctx: &Ctx, id: &str, flash: Option<String>) -> Response {
    let pi = match st.svc.payments().intent(&ctx.scope, id).await {
        Ok(pi) => pi,
        Err(e) => return view::service_error(&e),
    };
    let refunds = match st
        .svc
        .store
        .list_refunds(&ctx.scope, 100, None, Some(&pi.id))
        .await
    {
        Ok(r) => r.unwrap_or_default(),
        Err(e) => return view::service_error(&e.into()),
    };
    let attempts = match st.svc.store.attempts_of_intent(&pi.id).await {
        Ok(a) => a
            .into_iter()
            .map(|a| AttemptInfo {
                at: view::time(a.created_at),
                status: a.status.as_str(),
                challenge: match a.challenge_state.as_deref() {
                    None => String::new(),
                    Some(state) => match kassa_processor::challenge_kind(state) {
                        Some("3ds") => "3-D Secure".into(),
                        Some(kind) => kind.to_string(),
                        None => "at the processor".into(),
                    },
                },
                error: a.error.unwrap_or_default(),
                id: a.id,
            })
            .collect(),
        Err(e) => return view::service_error(&e.into()),
    };
    let mut objects = vec![pi.id.clone()];
    objects.extend(refunds.iter().map(|r| r.id.clone()));
    let events = match st.svc.store.events_of_objects(&ctx.scope, &objects).await {
        Ok(e) => e,
        Err(e) => return view::service_error(&e.into()),
    };
    // A webhook is shown by its endpoint's URL, a face's notification by its own.
    let urls = match st.svc.store.list_endpoints(&ctx.scope).await {
        Ok(eps) => eps.into_iter().map(|ep| (ep.id, ep.url)).collect(),
        Err(e) => return view::service_error(&e.into()),
    };
    let mut event_rows = Vec::new();
    for ev in &events {
        let deliveries = match st.svc.store.deliveries_for_event(&ctx.scope, &ev.id).await {
            Ok(d) => d,
            Err(e) => return view::service_error(&e.into()),
        };
        let rows = match crate::webhooks::delivery_rows(st, ctx, &deliveries, &urls).await {
            Ok(r) => r,
            Err(resp) => return resp,
        };
        event_rows.push(EventRow {
            id: ev.id.clone(),
            kind: ev.event_type.as_str(),
            at: view::time(ev.created),
            deliveries: deliveries
                .iter()
                .zip(rows)
                .map(|(d, row)| DeliveryRow {
                    row,
                    signed: signed_string(d),
                    request: d.request_url.clone(),
                })
                .collect(),
        });
    }
    let refundable = pi.amount_received - pi.amount_refunded;
    let page = DetailPage {
        nav: Nav::new(ctx, "payments"),
        currency: pi.currency.code().to_uppercase(),
        received: view::money(pi.amount_received, &pi.currency),
        refunded: view::money(pi.amount_refunded, &pi.currency),
        refundable: Money::new(refundable.max(0), pi.currency)
            .map(|m| m.to_decimal_string())
            .unwrap_or_default(),
        capturable: Money::new(pi.amount_capturable, pi.currency)
            .map(|m| m.to_decimal_string())
            .unwrap_or_default(),
        can_refund: pi.status == IntentStatus::Succeeded && refundable > 0,
        can_capture: pi.status == IntentStatus::RequiresCapture,
        can_cancel: matches!(
            pi.status,
            IntentStatus::RequiresPaymentMethod
                | IntentStatus::RequiresAction
                | IntentStatus::RequiresCapture
        ),
        may_move_money: ctx.role.allows(Permission::MoveMoney),
        error: pi
            .last_payment_error
            .as_ref()
            .map(|e| {
                format!(
                    "{} ({})",
                    e.message,
                    e.decline_code.clone().unwrap_or(e.code.clone())
                )
            })
            .unwrap_or_default(),
        customer: pi.customer.clone().unwrap_or_default(),
        card: pi
            .payment_method
            .as_ref()
            .map(|m| {
                format!(
                    "{} •••• {} (expires {:02}/{})",
                    m.brand, m.last4, m.exp_month, m.exp_year
                )
            })
            .unwrap_or_default(),
        refunds: refunds
            .iter()
            .map(|r| RefundRow {
                id: r.id.clone(),
                amount: view::money(r.amount, &r.currency),
                status: r.status.as_str(),
                kind: r.kind.as_str(),
                reason: r.reason.clone().unwrap_or_default(),
                at: view::time(r.created),
            })
            .collect(),
        attempts,
        events: event_rows,
        pi: row(&pi),
        flash,
    };
    view::page(&page)
}

#[derive(Deserialize)]
pub struct FlashQuery {
    #[serde(default)]
    done: String,
}

pub async fn detail(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<FlashQuery>,
) -> Response {
    let flash = match q.done.as_str() {
        "refund" => Some("Refund created.".to_string()),
        "capture" => Some("Payment captured.".to_string()),
        "cancel" => Some("Payment canceled.".to_string()),
        "resend" => Some("Sent again: the new attempt is listed below.".to_string()),
        _ => None,
    };
    detail_page(&st, &ctx, &id, flash).await
}
