//! An endpoint's delivery log (newest first, by outcome or event, each delivery with its
//! attempts), resending one delivery, and resending the failed ones of a time range at once.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_core::roles::Permission;
use kassa_http::AppState;
use kassa_service::audit::with_actor;
use kassa_store::{LogOutcome, WebhookEndpoint};
use serde::Deserialize;

use super::endpoints::{self, Shown};
use super::{date_of, delivery_rows, query_string, DeliveryRow};
use crate::ctx::{Ctx, Posted};
use crate::view;

/// Deliveries per page of the log.
const PAGE_SIZE: i64 = 25;

/// The log's filters and cursor, and what the last action reported (`done`, `n`, `more`).
#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    #[serde(default)]
    pub outcome: String,
    #[serde(default)]
    pub event: String,
    #[serde(default)]
    pub after: String,
    #[serde(default)]
    done: String,
    #[serde(default)]
    n: String,
    #[serde(default)]
    more: String,
}

impl LogQuery {
    /// The message for what was just done, from the redirect's query.
    pub fn flash(&self) -> Option<String> {
        Some(match self.done.as_str() {
            "updated" => "Endpoint saved.".into(),
            "enabled" => "Endpoint enabled: new events are sent to it again.".into(),
            "disabled" => "Endpoint disabled: no new event is sent to it.".into(),
            "resent" => "Sent again: the receiver accepted it.".into(),
            "resent_failed" => {
                "Sent again, and the receiver did not accept it: see the attempt below.".into()
            }
            "bulk" => {
                let n: i64 = self.n.parse().unwrap_or(0);
                let mut s = format!(
                    "{n} failed {} queued to be sent again; the log shows each new attempt as it is made.",
                    if n == 1 { "delivery was" } else { "deliveries were" }
                );
                if self.more == "1" {
                    s.push_str(" More failed deliveries are left in that range: resend again for the next ones.");
                }
                s
            }
            _ => return None,
        })
    }
}

/// The log as the endpoint's page shows it.
pub struct LogView {
    pub outcome: String,
    pub event: String,
    pub rows: Vec<DeliveryRow>,
    pub next: Option<String>,
    pub error: Option<String>,
    pub filtered: bool,
    /// The bulk resend form's default range: the last 7 days.
    pub from_default: String,
    pub to_default: String,
}

/// One page of the endpoint's log under the query's filters.
pub async fn load(
    st: &AppState,
    ctx: &Ctx,
    ep: &WebhookEndpoint,
    q: &LogQuery,
) -> Result<LogView, Response> {
    let today = kassa_store::now_ms();
    let mut v = LogView {
        outcome: q.outcome.clone(),
        event: q.event.trim().to_string(),
        rows: Vec::new(),
        next: None,
        error: None,
        filtered: !q.outcome.is_empty() || !q.event.trim().is_empty(),
        from_default: date_of(today - 6 * 86_400_000),
        to_default: date_of(today),
    };
    let outcome = match q.outcome.as_str() {
        "" => None,
        o => match LogOutcome::parse(o) {
            Some(o) => Some(o),
            None => {
                v.error = Some("Unknown outcome.".into());
                return Ok(v);
            }
        },
    };
    if v.event.len() > 100 {
        v.error = Some("That is too long to be an event id.".into());
        return Ok(v);
    }
    let event = Some(v.event.as_str()).filter(|e| !e.is_empty());
    let after = Some(q.after.trim()).filter(|a| !a.is_empty());
    let found = st
        .svc
        .store
        .endpoint_deliveries(&ctx.scope, &ep.id, outcome, event, PAGE_SIZE + 1, after)
        .await
        .map_err(|e| view::service_error(&e.into()))?;
    let Some(mut found) = found else {
        v.error = Some("That page does not exist any more.".into());
        return Ok(v);
    };
    if found.len() as i64 > PAGE_SIZE {
        found.truncate(PAGE_SIZE as usize);
        let last = found.last().map(|d| d.id.clone()).unwrap_or_default();
        let qs = query_string(&[
            ("outcome", &v.outcome),
            ("event", &v.event),
            ("after", &last),
        ]);
        v.next = Some(format!(
            "{}/developers/webhooks/{}?{qs}#log",
            ctx.home(),
            ep.id
        ));
    }
    let urls = HashMap::from([(ep.id.clone(), ep.url.clone())]);
    v.rows = delivery_rows(st, ctx, &found, &urls).await?;
    Ok(v)
}

#[derive(Deserialize)]
pub struct ResendForm {
    #[serde(default)]
    event: String,
}

/// Sends one event to this endpoint again now (the same command as the API's resend).
pub async fn resend(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<ResendForm>,
) -> Response {
    let ctx = p.ctx;
    if let Err(resp) = ctx.require(Permission::MoveMoney) {
        return resp;
    }
    if p.form.event.is_empty() {
        return view::bad_request("Choose the event to send again.");
    }
    match with_actor(
        ctx.actor(),
        st.svc
            .webhooks()
            .resend_event(&ctx.scope, &p.form.event, &id),
    )
    .await
    {
        Ok(d) if d["status"] == "succeeded" => endpoints::done(&ctx, &id, "resent"),
        Ok(_) => endpoints::done(&ctx, &id, "resent_failed"),
        Err(e) => view::service_error(&e),
    }
}

#[derive(Deserialize)]
pub struct BulkForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// The form's range in milliseconds: from the start of `from` to the end of `to` (UTC).
fn range(form: &BulkForm) -> Result<(i64, i64), String> {
    let from = view::parse_date(&form.from).ok_or("The start date must be YYYY-MM-DD.")?;
    let to = view::parse_date(&form.to).ok_or("The end date must be YYYY-MM-DD.")?;
    if to < from {
        return Err("The end date must not come before the start date.".into());
    }
    Ok((from, to + 86_400_000))
}

/// Queues this endpoint's failed deliveries created in the range again for the workers.
pub async fn bulk_resend(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    p: Posted<BulkForm>,
) -> Response {
    let ctx = p.ctx;
    if let Err(resp) = ctx.require(Permission::MoveMoney) {
        return resp;
    }
    let (from, to) = match range(&p.form) {
        Ok(r) => r,
        Err(msg) => {
            let shown = Shown {
                error: Some(msg),
                ..Default::default()
            };
            let q = LogQuery::default();
            return endpoints::render_detail(&st, &ctx, &id, &q, StatusCode::BAD_REQUEST, shown)
                .await;
        }
    };
    match with_actor(
        ctx.actor(),
        st.svc
            .webhooks()
            .bulk_resend_failed(&ctx.scope, &id, from, to),
    )
    .await
    {
        Ok(r) => view::see_other(&format!(
            "{}/developers/webhooks/{id}?done=bulk&n={}&more={}",
            ctx.home(),
            r.queued,
            u8::from(r.more)
        )),
        Err(e) => view::service_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_covers_whole_days() {
        let f = |from: &str, to: &str| {
            range(&BulkForm {
                from: from.into(),
                to: to.into(),
            })
        };
        assert_eq!(
            f("2026-12-03", "2026-12-03"),
            Ok((1_796_256_000_000, 1_796_256_000_000 + 86_400_000))
        );
        assert!(f("2026-12-04", "2026-12-03").is_err());
        assert!(f("yesterday", "2026-12-03").is_err());
        assert!(f("2026-12-03", "").is_err());
    }

    #[test]
    fn the_bulk_flash_says_when_more_are_left() {
        let q = LogQuery {
            done: "bulk".into(),
            n: "500".into(),
            more: "1".into(),
            ..Default::default()
        };
        let f = q.flash().unwrap();
        assert!(f.starts_with("500 failed deliveries were queued"));
        assert!(f.contains("More failed deliveries are left"));
        assert_eq!(LogQuery::default().flash(), None);
    }
}
