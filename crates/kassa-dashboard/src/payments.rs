//! Payments: the list with its filters and search by any id a merchant holds, the CSV export,
//! and a payment's page (timeline, refunds, events, every delivery attempt on every channel)
//! with the money actions, which run the same service commands as the API.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kassa_core::intent::{IntentStatus, PaymentIntent, RefundKind};
use kassa_core::money::{Currency, Money};
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_service::audit::with_actor;
use kassa_service::CreateRefundParams;
use kassa_store::{Channel, Face, PaymentFilter};
use serde::Deserialize;

use crate::ctx::{Ctx, Posted};
use crate::view::{self, Nav};

const PAGE_SIZE: i64 = 50;
/// Most rows one CSV export holds (narrow the filters for more).
const EXPORT_MAX: usize = 100_000;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    face: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    amount_min: String,
    #[serde(default)]
    amount_max: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    last4: String,
    #[serde(default)]
    after: String,
}

pub const STATUSES: [&str; 6] = [
    "requires_payment_method",
    "requires_action",
    "processing",
    "requires_capture",
    "succeeded",
    "canceled",
];

/// Amounts in filters are in major units of the chosen currency (cents when none is chosen
/// would surprise): without a currency they are read as two-decimal amounts.
fn minor_units(s: &str, currency: Option<&Currency>) -> Result<Option<i64>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let c = currency
        .copied()
        .unwrap_or_else(|| Currency::parse("usd").expect("usd is a currency"));
    Money::from_decimal_str(s, c)
        .map(|m| Some(m.amount))
        .map_err(|_| format!("“{s}” is not an amount."))
}

impl ListQuery {
    pub fn is_status(&self, s: &str) -> bool {
        self.status == s
    }

    fn filter(&self) -> Result<PaymentFilter, String> {
        let status = match self.status.as_str() {
            "" => None,
            s if STATUSES.contains(&s) => Some(s.to_string()),
            _ => return Err("Unknown status.".into()),
        };
        let face = match self.face.as_str() {
            "" => None,
            "native" => Some(Face::Native),
            "paymentwall" => Some(Face::Paymentwall),
            "paymob" => Some(Face::Paymob),
            _ => return Err("Unknown face.".into()),
        };
        let currency = match self.currency.trim() {
            "" => None,
            c => Some(Currency::parse(c).map_err(|_| format!("“{c}” is not a currency."))?),
        };
        let date = |s: &str, what: &str| -> Result<Option<i64>, String> {
            match s.trim() {
                "" => Ok(None),
                d => view::parse_date(d)
                    .map(Some)
                    .ok_or_else(|| format!("The {what} date must be YYYY-MM-DD.")),
            }
        };
        let last4 = match self.last4.trim() {
            "" => None,
            l if l.len() == 4 && l.bytes().all(|b| b.is_ascii_digit()) => Some(l.to_string()),
            _ => return Err("Card last 4 must be four digits.".into()),
        };
        Ok(PaymentFilter {
            status,
            face,
            amount_min: minor_units(&self.amount_min, currency.as_ref())?,
            amount_max: minor_units(&self.amount_max, currency.as_ref())?,
            currency: currency.map(|c| c.code().to_string()),
            created_from: date(&self.from, "from")?,
            // "To" includes that whole day.
            created_to: date(&self.to, "to")?.map(|d| d + 86_400_000),
            customer: Some(self.customer.trim().to_string()).filter(|c| !c.is_empty()),
            last4,
        })
    }

    /// The filters as a query string, without the cursor (for the next page and the export).
    fn query_string(&self) -> String {
        let pairs = [
            ("status", &self.status),
            ("face", &self.face),
            ("currency", &self.currency),
            ("amount_min", &self.amount_min),
            ("amount_max", &self.amount_max),
            ("from", &self.from),
            ("to", &self.to),
            ("customer", &self.customer),
            ("last4", &self.last4),
        ];
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            if !v.trim().is_empty() {
                s.append_pair(k, v.trim());
            }
        }
        s.finish()
    }
}

pub struct Row {
    pub id: String,
    pub amount: String,
    pub status: &'static str,
    pub method: String,
    pub description: String,
    pub created: String,
}

fn row(pi: &PaymentIntent) -> Row {
    Row {
        id: pi.id.clone(),
        amount: view::money(pi.amount, &pi.currency),
        status: pi.status.as_str(),
        method: pi
            .payment_method
            .as_ref()
            .map(|m| format!("{} •••• {}", m.brand, m.last4))
            .unwrap_or_default(),
        description: pi
            .description
            .clone()
            .unwrap_or_default()
            .chars()
            .take(60)
            .collect(),
        created: view::time(pi.created),
    }
}

#[derive(Template)]
#[template(path = "dash/payments.html")]
struct ListPage {
    nav: Nav,
    q: ListQuery,
    statuses: [&'static str; 6],
    rows: Vec<Row>,
    searched: bool,
    error: Option<String>,
    next: Option<String>,
    export: String,
}

pub async fn list(State(st): State<AppState>, ctx: Ctx, Query(q): Query<ListQuery>) -> Response {
    let nav = Nav::new(&ctx, "payments");
    let mut page = ListPage {
        export: format!("{}/payments.csv?{}", ctx.home(), q.query_string()),
        nav,
        statuses: STATUSES,
        rows: Vec::new(),
        searched: false,
        error: None,
        next: None,
        q: ListQuery::default(),
    };
    let needle = q.q.trim().to_string();
    if !needle.is_empty() {
        page.searched = true;
        if needle.len() > 200 {
            page.error = Some("That is too long to be an id.".into());
        } else {
            match st
                .svc
                .store
                .find_payments_by_reference(&ctx.scope, &needle)
                .await
            {
                Ok(found) => page.rows = found.iter().map(row).collect(),
                Err(e) => return view::service_error(&e.into()),
            }
        }
        page.q = q;
        return view::page(&page);
    }
    match q.filter() {
        Err(e) => page.error = Some(e),
        Ok(filter) => {
            let after = Some(q.after.trim()).filter(|a| !a.is_empty());
            match st
                .svc
                .store
                .dashboard_payments(&ctx.scope, &filter, PAGE_SIZE + 1, after)
                .await
            {
                Ok(Some(mut found)) => {
                    if found.len() as i64 > PAGE_SIZE {
                        found.truncate(PAGE_SIZE as usize);
                        let last = found.last().map(|p| p.id.clone()).unwrap_or_default();
                        let qs = q.query_string();
                        let sep = if qs.is_empty() { "" } else { "&" };
                        page.next = Some(format!("{}/payments?{qs}{sep}after={last}", ctx.home()));
                    }
                    page.rows = found.iter().map(row).collect();
                }
                Ok(None) => page.error = Some("That page does not exist any more.".into()),
                Err(e) => return view::service_error(&e.into()),
            }
        }
    }
    let status = if page.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page.q = q;
    view::html(status, &page)
}

/// A CSV cell: quoted, and a leading `=`, `+`, `-` or `@` defused so a spreadsheet does not
/// run it as a formula.
fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub async fn export_csv(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<ListQuery>,
) -> Response {
    let filter = match q.filter() {
        Ok(f) => f,
        Err(e) => return view::bad_request(&e),
    };
    let mut out = String::from(
        "id,created,amount,currency,status,amount_received,amount_refunded,card_brand,card_last4,customer,description\n",
    );
    let mut after: Option<String> = None;
    let mut n = 0usize;
    loop {
        let found = match st
            .svc
            .store
            .dashboard_payments(&ctx.scope, &filter, 500, after.as_deref())
            .await
        {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return view::service_error(&e.into()),
        };
        for pi in &found {
            let (brand, last4) = pi
                .payment_method
                .as_ref()
                .map(|m| (m.brand.clone(), m.last4.clone()))
                .unwrap_or_default();
            let cells = [
                pi.id.clone(),
                view::time(pi.created),
                Money::new(pi.amount, pi.currency)
                    .map(|m| m.to_decimal_string())
                    .unwrap_or_default(),
                pi.currency.code().to_string(),
                pi.status.as_str().to_string(),
                pi.amount_received.to_string(),
                pi.amount_refunded.to_string(),
                brand,
                last4,
                pi.customer.clone().unwrap_or_default(),
                pi.description.clone().unwrap_or_default(),
            ];
            out.push_str(
                &cells
                    .iter()
                    .map(|c| csv_cell(c))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push('\n');
        }
        n += found.len();
        if found.len() < 500 || n >= EXPORT_MAX {
            break;
        }
        after = found.last().map(|p| p.id.clone());
    }
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                CONTENT_DISPOSITION,
                "attachment; filename=\"kassa-payments.csv\"",
            ),
        ],
        out,
    )
        .into_response()
}

/// A notification of one of the payment's events: the delivery as the log shows it, and what
/// its signature covers.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "\"plain\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "\"'=HYPERLINK(1)\"");
        assert_eq!(csv_cell("-5"), "\"'-5\"");
    }

    #[test]
    fn filter_amounts_are_major_units_of_the_currency() {
        let q = ListQuery {
            currency: "jpy".into(),
            amount_min: "500".into(),
            ..Default::default()
        };
        assert_eq!(q.filter().unwrap().amount_min, Some(500));
        let q = ListQuery {
            amount_min: "12.5".into(),
            to: "2026-12-03".into(),
            ..Default::default()
        };
        let f = q.filter().unwrap();
        assert_eq!(f.amount_min, Some(1250));
        assert_eq!(f.created_to, Some(1_796_256_000_000 + 86_400_000));
        for bad in [
            ListQuery {
                status: "paid".into(),
                ..Default::default()
            },
            ListQuery {
                last4: "42".into(),
                ..Default::default()
            },
            ListQuery {
                from: "yesterday".into(),
                ..Default::default()
            },
            ListQuery {
                currency: "xxx1".into(),
                ..Default::default()
            },
        ] {
            assert!(bad.filter().is_err());
        }
    }
}
