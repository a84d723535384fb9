//! Developers › Webhooks and Developers › Events: the mode's webhook endpoints with their
//! health, an endpoint's page (edit, enable or disable, rotate its secret, delete, its delivery
//! log with resend and bulk resend of failed deliveries), and the event log with every
//! delivery of an event on every channel.
//!
//! Every change runs the same `kassa-service` command as the API. Reading needs `Read`;
//! changing an endpoint `ManageIntegrations`; resending `MoveMoney`; anything that shows a
//! signing secret (creating an endpoint, rotating its secret) also the password again.

mod endpoints;
mod events;
mod list;
mod log;

use std::collections::HashMap;

use axum::routing::{get, post};
use axum::Router;
use kassa_http::AppState;
use kassa_store::{Channel, Delivery, DeliveryAttempt};

use crate::ctx::Ctx;
use crate::view;

pub fn routes() -> Router<AppState> {
    const EP: &str = "/dashboard/{mode}/developers/webhooks";
    const EV: &str = "/dashboard/{mode}/developers/events";
    Router::new()
        .route(EP, get(list::list).post(list::create))
        .route(
            &format!("{EP}/{{id}}"),
            get(endpoints::detail).post(endpoints::update),
        )
        .route(&format!("{EP}/{{id}}/enable"), post(endpoints::enable))
        .route(&format!("{EP}/{{id}}/disable"), post(endpoints::disable))
        .route(&format!("{EP}/{{id}}/rotate"), post(endpoints::rotate))
        .route(&format!("{EP}/{{id}}/delete"), post(endpoints::delete))
        .route(&format!("{EP}/{{id}}/resend"), post(log::resend))
        .route(&format!("{EP}/{{id}}/bulk-resend"), post(log::bulk_resend))
        .route(EV, get(events::list))
        .route(&format!("{EV}/{{id}}"), get(events::detail))
        .route(&format!("{EV}/{{id}}/resend"), post(events::resend))
}

/// One attempt at sending a delivery, as the log shows it.
pub struct AttemptRow {
    pub number: i64,
    pub at: String,
    /// `automatic` or `manual`.
    pub trigger: String,
    /// The HTTP status, or why there was none.
    pub answer: String,
    pub ok: bool,
    pub latency_ms: i64,
    pub excerpt: String,
}

/// One delivery (of one event to one target) with its attempts.
pub struct DeliveryRow {
    pub id: String,
    pub channel: &'static str,
    /// Where it goes: the endpoint's URL, or a face's notification URL without its query
    /// (which carries the signature).
    pub target: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub created: String,
    /// What the merchant reads: succeeded, retrying, failed, …
    pub state: &'static str,
    /// The CSS class of the state's badge.
    pub state_class: &'static str,
    /// When the next automatic attempt is due, while retrying or pending.
    pub next: Option<String>,
    pub attempts: Vec<AttemptRow>,
}

/// The state shown for a delivery and its badge class.
pub fn state_of(d: &Delivery) -> (&'static str, &'static str) {
    match (d.status.as_str(), d.attempt_count) {
        ("succeeded", _) => ("succeeded", "s-succeeded"),
        ("failed", _) => ("failed (gave up)", "s-failed"),
        ("manual", 0) => ("manual resend", "s-pending"),
        ("manual", _) => ("failed (manual resend)", "s-failed"),
        ("pending", 0) => ("pending", "s-pending"),
        ("pending", _) => ("retrying", "s-failed"),
        ("canceled", _) => ("canceled", "s-canceled"),
        _ => ("unknown", "s-pending"),
    }
}

pub fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::Webhook => "webhook",
        Channel::Pingback => "Paymentwall pingback",
        Channel::PaymobCallback => "Paymob callback",
    }
}

fn attempt_row(a: &DeliveryAttempt) -> AttemptRow {
    AttemptRow {
        number: a.attempt_number,
        at: view::time(a.started_at),
        trigger: a.trigger.clone(),
        answer: a
            .status_code
            .map(|c| c.to_string())
            .or_else(|| a.error.clone())
            .unwrap_or_else(|| "no answer".into()),
        ok: a.status_code.is_some_and(|c| (200..300).contains(&c)),
        latency_ms: a.latency_ms,
        excerpt: a
            .response_excerpt
            .clone()
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect(),
    }
}

/// The rows of a page of deliveries, with every attempt (one query for all of them).
/// `urls` maps a webhook endpoint's id to its URL.
pub async fn delivery_rows(
    st: &AppState,
    ctx: &Ctx,
    deliveries: &[Delivery],
    urls: &HashMap<String, String>,
) -> Result<Vec<DeliveryRow>, axum::response::Response> {
    let ids: Vec<String> = deliveries.iter().map(|d| d.id.clone()).collect();
    let mut attempts = st
        .svc
        .store
        .attempts_of_deliveries(&ctx.scope, &ids)
        .await
        .map_err(|e| view::service_error(&e.into()))?;
    Ok(deliveries
        .iter()
        .map(|d| {
            let (state, state_class) = state_of(d);
            let target = match d.channel {
                Channel::Webhook => urls.get(&d.endpoint_id).cloned(),
                _ => d
                    .request_url
                    .as_deref()
                    .map(|u| u.split('?').next().unwrap_or("").to_string()),
            };
            DeliveryRow {
                id: d.id.clone(),
                channel: channel_name(d.channel),
                target: target.unwrap_or_else(|| d.endpoint_id.clone()),
                endpoint_id: d.endpoint_id.clone(),
                event_id: d.event_id.clone(),
                created: view::time(d.created_at),
                state,
                state_class,
                next: (d.status == "pending").then(|| view::time(d.next_attempt_at)),
                attempts: attempts
                    .remove(&d.id)
                    .unwrap_or_default()
                    .iter()
                    .map(attempt_row)
                    .collect(),
            }
        })
        .collect())
}

/// `YYYY-MM-DD` of a time in milliseconds (UTC).
pub fn date_of(ms: i64) -> String {
    let (y, m, d) = view::civil_from_days(ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

/// A query string from pairs, leaving out empty values.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.trim().is_empty() {
            s.append_pair(k, v.trim());
        }
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_queries_for_links() {
        assert_eq!(date_of(1_796_297_903_000), "2026-12-03");
        assert_eq!(
            query_string(&[("outcome", "failed"), ("event", " "), ("after", "msg_1")]),
            "outcome=failed&after=msg_1"
        );
        assert_eq!(query_string(&[("event", "a&b")]), "event=a%26b");
    }
}
