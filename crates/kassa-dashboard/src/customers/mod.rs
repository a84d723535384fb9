//! Customers, subscriptions and test clocks: lists and detail pages over the same reads as the
//! API, the subscription changes (cancel, pause, resume) through the billing commands, and
//! test clocks (test mode only) that a merchant creates, advances and deletes to see renewals
//! happen without waiting for them.

mod clocks;
mod customer_pages;
mod subscriptions;

use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use kassa_core::subscription::{Interval, Recurring, Subscription, SubscriptionStatus};
use kassa_http::AppState;
use kassa_service::Scope;

use crate::view;

/// Rows per list page.
const PAGE_SIZE: i64 = 50;
/// Rows of a related list on a detail page (a customer's payments, a clock's subscriptions).
const RELATED: i64 = 20;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/{mode}/customers", get(customer_pages::list))
        .route(
            "/dashboard/{mode}/customers/{id}",
            get(customer_pages::detail),
        )
        .route("/dashboard/{mode}/subscriptions", get(subscriptions::list))
        .route(
            "/dashboard/{mode}/subscriptions/{id}",
            get(subscriptions::detail),
        )
        .route(
            "/dashboard/{mode}/subscriptions/{id}/cancel",
            post(subscriptions::cancel),
        )
        .route(
            "/dashboard/{mode}/subscriptions/{id}/pause",
            post(subscriptions::pause),
        )
        .route(
            "/dashboard/{mode}/subscriptions/{id}/resume",
            post(subscriptions::resume),
        )
        .route(
            "/dashboard/{mode}/clocks",
            get(clocks::list).post(clocks::create),
        )
        .route("/dashboard/{mode}/clocks/{id}", get(clocks::detail))
        .route(
            "/dashboard/{mode}/clocks/{id}/advance",
            post(clocks::advance),
        )
        .route("/dashboard/{mode}/clocks/{id}/delete", post(clocks::delete))
}

/// `month`, `3 months`.
fn every(r: &Recurring) -> String {
    let unit = match r.interval {
        Interval::Day => "day",
        Interval::Week => "week",
        Interval::Month => "month",
        Interval::Year => "year",
    };
    if r.interval_count == 1 {
        unit.to_string()
    } else {
        format!("{} {unit}s", r.interval_count)
    }
}

/// A subscription as one line of a list.
pub struct SubRow {
    pub id: String,
    pub customer: String,
    pub status: &'static str,
    /// What one period costs: `30.00 USD / month`.
    pub price: String,
    /// When it next renews, or ends; empty when nothing more happens.
    pub next: String,
    pub created: String,
    pub clock: String,
}

/// What a period of `sub` costs, all items together.
fn price_of(sub: &Subscription) -> String {
    let total = kassa_core::subscription::amount_of(&sub.items).unwrap_or(0);
    match sub.items.first() {
        Some(first) => format!(
            "{} / {}",
            view::money(total, &sub.currency),
            every(&first.recurring)
        ),
        None => view::money(total, &sub.currency),
    }
}

/// What happens next to a subscription, in words: a renewal, a retry, its end, or nothing.
fn next_step(sub: &Subscription) -> String {
    use SubscriptionStatus as S;
    let ends = |at: i64| format!("ends {}", view::time(at));
    // An end date the merchant set wins when it comes before the period's end.
    let running = matches!(
        sub.status,
        S::Trialing | S::Active | S::PastDue | S::Incomplete
    );
    if let Some(c) = sub
        .cancel_at
        .filter(|c| running && *c <= sub.current_period_end)
    {
        return ends(c);
    }
    match sub.status {
        S::Trialing if sub.cancel_at_period_end => ends(sub.current_period_end),
        S::Trialing => format!(
            "trial ends, first bill {}",
            view::time(sub.trial_end.unwrap_or(sub.current_period_end))
        ),
        S::Active | S::PastDue if sub.cancel_at_period_end => ends(sub.current_period_end),
        S::PastDue if sub.retry_at.is_some() => {
            format!("retry {}", view::time(sub.retry_at.unwrap_or_default()))
        }
        S::Active | S::PastDue => format!("renews {}", view::time(sub.current_period_end)),
        S::Incomplete => "waiting for the first payment".to_string(),
        _ => String::new(),
    }
}

fn sub_row(sub: &Subscription) -> SubRow {
    SubRow {
        id: sub.id.clone(),
        customer: sub.customer.clone(),
        status: sub.status.as_str(),
        price: price_of(sub),
        next: next_step(sub),
        created: view::time(sub.created),
        clock: sub.test_clock.clone().unwrap_or_default(),
    }
}

/// The subscriptions with these ids, in the same order; one deleted meanwhile is left out.
async fn subscriptions_by_id(
    st: &AppState,
    scope: &Scope,
    ids: &[String],
) -> Result<Vec<Subscription>, Response> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match st.svc.store.subscription(scope, id).await {
            Ok(Some(s)) => out.push(s),
            Ok(None) => {}
            Err(e) => return Err(view::service_error(&e.into())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_as_words() {
        let r = |interval, interval_count| Recurring {
            interval,
            interval_count,
        };
        assert_eq!(every(&r(Interval::Month, 1)), "month");
        assert_eq!(every(&r(Interval::Week, 2)), "2 weeks");
    }
}
