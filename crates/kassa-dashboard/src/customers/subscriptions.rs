//! Subscriptions: the list (by status, newest first) and a subscription's page: what it bills,
//! where it stands in its period, its retries, its invoices and the payment each made, and
//! the buttons that cancel, pause or resume it through the same billing commands as the API.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_core::roles::Permission;
use kassa_core::subscription::{FinalAction, RetryPolicy, SubscriptionStatus};
use kassa_http::AppState;
use kassa_service::audit::with_actor;
use serde::Deserialize;

use super::{every, next_step, sub_row, subscriptions_by_id, SubRow, PAGE_SIZE};
use crate::ctx::{Ctx, Posted};
use crate::view::{self, Nav};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    after: String,
}

impl ListQuery {
    pub fn is_status(&self, s: &str) -> bool {
        self.status == s
    }
}

#[derive(Template)]
#[template(path = "dash/subscriptions.html")]
struct ListPage {
    nav: Nav,
    q: ListQuery,
    statuses: Vec<&'static str>,
    rows: Vec<SubRow>,
    error: Option<String>,
    next: Option<String>,
}

pub async fn list(State(st): State<AppState>, ctx: Ctx, Query(q): Query<ListQuery>) -> Response {
    let mut page = ListPage {
        nav: Nav::new(&ctx, "subscriptions"),
        statuses: SubscriptionStatus::ALL.iter().map(|s| s.as_str()).collect(),
        rows: Vec::new(),
        error: None,
        next: None,
        q: ListQuery::default(),
    };
    let status = match q.status.trim() {
        "" => None,
        s => match SubscriptionStatus::parse(s) {
            Some(s) => Some(s.as_str()),
            None => {
                page.error = Some("Unknown status.".into());
                page.q = q;
                return view::html(StatusCode::BAD_REQUEST, &page);
            }
        },
    };
    let after = Some(q.after.trim()).filter(|a| !a.is_empty());
    let ids = match st
        .svc
        .store
        .dashboard_subscription_ids(&ctx.scope, status, PAGE_SIZE + 1, after)
        .await
    {
        Ok(Some(ids)) => ids,
        Ok(None) => {
            page.error = Some("That page does not exist any more.".into());
            page.q = q;
            return view::html(StatusCode::BAD_REQUEST, &page);
        }
        Err(e) => return view::service_error(&e.into()),
    };
    let mut ids = ids;
    if ids.len() as i64 > PAGE_SIZE {
        ids.truncate(PAGE_SIZE as usize);
        if let Some(last) = ids.last() {
            let filter = status.map(|s| format!("status={s}&")).unwrap_or_default();
            page.next = Some(format!("{}/subscriptions?{filter}after={last}", ctx.home()));
        }
    }
    match subscriptions_by_id(&st, &ctx.scope, &ids).await {
        Ok(subs) => page.rows = subs.iter().map(sub_row).collect(),
        Err(resp) => return resp,
    }
    page.q = q;
    view::page(&page)
}

pub struct ItemRow {
    pub product: String,
    pub unit: String,
    pub quantity: i64,
    pub every: String,
}

pub struct InvoiceRow {
    pub id: String,
    pub created: String,
    pub period: String,
    pub amount_due: String,
    pub amount_paid: String,
    pub status: &'static str,
    pub attempts: i64,
    pub reason: String,
    pub payment: String,
}

#[derive(Template)]
#[template(path = "dash/subscriptions_detail.html")]
struct DetailPage {
    nav: Nav,
    s: SubRow,
    items: Vec<ItemRow>,
    period: String,
    next: String,
    trial: String,
    ended: String,
    canceled: String,
    card: String,
    clock_time: String,
    retry: String,
    policy: String,
    metadata: Vec<(String, String)>,
    invoices: Vec<InvoiceRow>,
    can_cancel: bool,
    can_pause: bool,
    can_resume: bool,
    may_change: bool,
    flash: Option<&'static str>,
}

/// The retry policy in words: `after 1, 3 and 5 days, then cancel`.
fn policy_text(p: &RetryPolicy) -> String {
    let list = |v: &[i64], unit: &str| match v {
        [] => "no retries".to_string(),
        [only] => format!("a retry after {only} {unit}"),
        [init @ .., last] => format!(
            "retries after {} and {last} {unit}",
            init.iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let retries = match &p.retry_seconds {
        Some(secs) => list(secs, "seconds"),
        None => list(&p.retry_days, "days"),
    };
    let then = match p.final_action {
        FinalAction::Cancel => "cancel",
        FinalAction::MarkUnpaid => "mark unpaid",
        FinalAction::LeavePastDue => "leave past due",
        FinalAction::Pause => "pause",
    };
    format!("{retries}, then {then}")
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
    let sub = match st.svc.billing().subscription(&ctx.scope, &id).await {
        Ok(s) => s,
        Err(e) => return view::service_error(&e),
    };
    let invoices = match st
        .svc
        .billing()
        .list_invoices(&ctx.scope, Some(("subscription", &sub.id)), 100, None)
        .await
    {
        Ok(i) => i.unwrap_or_default(),
        Err(e) => return view::service_error(&e),
    };
    // The card that pays, as a person knows it: brand and last four digits.
    let card = match &sub.default_payment_method {
        Some(pm) => match st.svc.store.payment_method(&ctx.scope, pm).await {
            Ok(Some(m)) => format!("{} •••• {}", m.details.brand, m.details.last4),
            Ok(None) => String::new(),
            Err(e) => return view::service_error(&e.into()),
        },
        None => String::new(),
    };
    let clock_time = match &sub.test_clock {
        Some(clock) => match st.svc.store.test_clock(&ctx.scope, clock).await {
            Ok(Some(t)) => view::time(t.frozen_time),
            Ok(None) => "deleted".to_string(),
            Err(e) => return view::service_error(&e.into()),
        },
        None => String::new(),
    };
    use SubscriptionStatus as S;
    let latest_attempts = invoices.first().map(|i| i.attempt_count).unwrap_or(0);
    let retry = match (sub.status, sub.retry_at) {
        (S::PastDue, Some(at)) => format!(
            "Payment failed {latest_attempts} time(s); next try {}",
            view::time(at)
        ),
        (S::PastDue, None) => "Payment failed; no retry is left".to_string(),
        (S::Unpaid, _) => "Retries exhausted: nothing is billed any more".to_string(),
        _ => String::new(),
    };
    let page = DetailPage {
        nav: Nav::new(&ctx, "subscriptions"),
        items: sub
            .items
            .iter()
            .map(|i| ItemRow {
                product: i.product_name.clone(),
                unit: view::money(i.unit_amount, &i.currency),
                quantity: i.quantity,
                every: every(&i.recurring),
            })
            .collect(),
        period: if sub.cycle < 0 && sub.trial_end.is_none() {
            String::new()
        } else {
            format!(
                "{} to {}",
                view::time(sub.current_period_start),
                view::time(sub.current_period_end)
            )
        },
        next: next_step(&sub),
        trial: match (sub.trial_start, sub.trial_end) {
            (Some(a), Some(b)) => format!("{} to {}", view::time(a), view::time(b)),
            _ => String::new(),
        },
        ended: sub.ended_at.map(view::time).unwrap_or_default(),
        canceled: sub.canceled_at.map(view::time).unwrap_or_default(),
        card,
        clock_time,
        retry,
        policy: policy_text(&sub.retry_policy),
        metadata: sub
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        invoices: invoices
            .iter()
            .map(|i| InvoiceRow {
                id: i.id.clone(),
                created: view::time(i.created),
                period: format!(
                    "{} to {}",
                    view::time(i.period_start),
                    view::time(i.period_end)
                ),
                amount_due: view::money(i.amount_due, &i.currency),
                amount_paid: view::money(i.amount_paid, &i.currency),
                status: i.status.as_str(),
                attempts: i.attempt_count,
                reason: i.billing_reason.replace('_', " "),
                payment: i.payment_intent.clone().unwrap_or_default(),
            })
            .collect(),
        can_cancel: !sub.status.is_final(),
        can_pause: matches!(sub.status, S::Active | S::PastDue | S::Trialing),
        can_resume: sub.status == S::Paused,
        may_change: ctx.role.allows(Permission::MoveMoney),
        flash: match q.done.as_str() {
            "cancel" => Some("Subscription canceled."),
            "pause" => Some("Subscription paused: nothing is billed until it resumes."),
            "resume" => Some("Subscription resumed."),
            _ => None,
        },
        s: sub_row(&sub),
    };
    view::page(&page)
}

/// The three changes a merchant makes from the page.
#[derive(Clone, Copy)]
enum Change {
    Cancel,
    Pause,
    Resume,
}

/// Forms carry only the session's token.
#[derive(Deserialize)]
pub struct Empty {}

async fn change(st: AppState, id: String, p: Posted<Empty>, what: Change) -> Response {
    let ctx = p.ctx;
    if let Err(resp) = ctx.require(Permission::MoveMoney) {
        return resp;
    }
    let billing = st.svc.billing();
    let (done, result) = match what {
        Change::Cancel => (
            "cancel",
            with_actor(ctx.actor(), billing.cancel_subscription(&ctx.scope, &id)).await,
        ),
        Change::Pause => (
            "pause",
            with_actor(ctx.actor(), billing.pause_subscription(&ctx.scope, &id)).await,
        ),
        Change::Resume => (
            "resume",
            with_actor(ctx.actor(), billing.resume_subscription(&ctx.scope, &id)).await,
        ),
    };
    match result {
        Ok(_) => view::see_other(&format!("{}/subscriptions/{id}?done={done}", ctx.home())),
        Err(e) => view::service_error(&e),
    }
}

pub async fn cancel(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<Empty>,
) -> Response {
    change(st, id, p, Change::Cancel).await
}

pub async fn pause(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<Empty>,
) -> Response {
    change(st, id, p, Change::Pause).await
}

pub async fn resume(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<Empty>,
) -> Response {
    change(st, id, p, Change::Resume).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_policies_read_as_words() {
        let mut p = RetryPolicy::default();
        assert_eq!(
            policy_text(&p),
            "retries after 1, 3 and 5 days, then cancel"
        );
        p.retry_days = vec![2];
        p.final_action = FinalAction::MarkUnpaid;
        assert_eq!(policy_text(&p), "a retry after 2 days, then mark unpaid");
        p.retry_days = vec![];
        p.retry_seconds = Some(vec![30, 60]);
        assert_eq!(
            policy_text(&p),
            "retries after 30 and 60 seconds, then mark unpaid"
        );
    }
}
