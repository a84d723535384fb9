//! What the dashboard's Developers › Webhooks and Events pages read: one endpoint's deliveries
//! (newest first, by outcome or event), its health, the attempts of a page of deliveries, the
//! event log by type, and the re-queueing of an endpoint's failed deliveries for the workers.
//!
//! Every query names the merchant and the mode, so another merchant's (or the other mode's)
//! endpoint, event or delivery is simply not found. The indexes are in migration 0023. SQL is
//! assembled from fixed fragments only; every value is a bound parameter.

use std::collections::HashMap;

use kassa_core::events::Event;
use sqlx::any::AnyArguments;
use sqlx::query::Query;

use super::*;

/// How a delivery ended, or where it stands, as the delivery log filters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutcome {
    /// The receiver accepted it.
    Succeeded,
    /// Not accepted: given up, a manual resend that failed, or failing and waiting for its
    /// next automatic retry.
    Failed,
    /// Queued and not tried yet.
    Pending,
}

impl LogOutcome {
    pub fn parse(s: &str) -> Option<LogOutcome> {
        match s {
            "succeeded" => Some(LogOutcome::Succeeded),
            "failed" => Some(LogOutcome::Failed),
            "pending" => Some(LogOutcome::Pending),
            _ => None,
        }
    }

    /// The condition on `deliveries` (no placeholders).
    fn condition(self) -> &'static str {
        match self {
            LogOutcome::Succeeded => "status = 'succeeded'",
            LogOutcome::Failed => FAILED,
            LogOutcome::Pending => "(status = 'pending' AND attempt_count = 0)",
        }
    }
}

/// A delivery that was tried and not accepted: given up (`failed`), a manual resend that
/// failed (`manual` after an attempt), or retrying (`pending` after an attempt).
const FAILED: &str = "(status = 'failed' \
    OR (status IN ('manual', 'pending') AND attempt_count > 0))";

/// How an endpoint has been doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EndpointHealth {
    /// Deliveries among the last [`HEALTH_WINDOW`] tried ones.
    pub recent: i64,
    /// Of those, how many the receiver accepted.
    pub recent_succeeded: i64,
    /// Deliveries not accepted (given up, or failing and retrying), up to [`FAILING_CAP`].
    pub failing: i64,
}

/// How many of an endpoint's most recent tried deliveries the health figure covers.
pub const HEALTH_WINDOW: i64 = 50;
/// The failing count stops here (the page says "10000 or more"): counting an endpoint that
/// has failed for months to the last delivery would read all of them for one figure.
pub const FAILING_CAP: i64 = 10_000;

/// A bound value of a query assembled at run time.
enum Arg {
    Int(i64),
    Text(String),
}

/// SQL assembled from fixed fragments, and the values its `$n` placeholders stand for.
#[derive(Default)]
struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    fn int(&mut self, v: i64) -> String {
        self.args.push(Arg::Int(v));
        format!("${}", self.args.len())
    }

    fn text(&mut self, v: &str) -> String {
        self.args.push(Arg::Text(v.to_string()));
        format!("${}", self.args.len())
    }

    fn push(&mut self, fragment: &str) {
        self.text.push_str(fragment);
    }

    /// One-off statement (the text changes with the filters given, see dashboard_payments).
    fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text).persistent(false);
        for a in &self.args {
            q = match a {
                Arg::Int(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.as_str()),
            };
        }
        q
    }

    /// `endpoint_id = … AND merchant_id = … AND livemode = … AND channel = 'webhook'`: an
    /// endpoint's own webhook deliveries in the scope.
    fn endpoint_scope(&mut self, scope: &Scope, endpoint_id: &str) {
        let e = self.text(endpoint_id);
        let m = self.text(&scope.merchant_id);
        let l = self.int(i64::from(scope.livemode));
        self.push(&format!(
            "endpoint_id = {e} AND merchant_id = {m} AND livemode = {l} AND channel = 'webhook'"
        ));
    }
}

impl Store {
    /// The share of the endpoint's last [`HEALTH_WINDOW`] tried deliveries that succeeded, and
    /// how many of its deliveries are failing.
    pub async fn endpoint_health(
        &self,
        scope: &Scope,
        endpoint_id: &str,
    ) -> Result<EndpointHealth> {
        let mut recent = Sql::default();
        recent.push("SELECT status FROM deliveries WHERE ");
        recent.endpoint_scope(scope, endpoint_id);
        let n = recent.int(HEALTH_WINDOW);
        recent.push(&format!(
            " AND attempt_count > 0 ORDER BY created_at DESC, id DESC LIMIT {n}"
        ));
        let rows = recent.query().fetch_all(&self.reader).await?;
        let recent_succeeded = rows
            .iter()
            .filter(|r| r.get::<String, _>(0) == "succeeded")
            .count() as i64;
        let mut failing = Sql::default();
        failing.push("SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT id FROM deliveries WHERE ");
        failing.endpoint_scope(scope, endpoint_id);
        let cap = failing.int(FAILING_CAP);
        failing.push(&format!(" AND {FAILED} LIMIT {cap}) t"));
        let failing: i64 = failing.query().fetch_one(&self.reader).await?.get(0);
        Ok(EndpointHealth {
            recent: rows.len() as i64,
            recent_succeeded,
            failing,
        })
    }

    /// One page of the endpoint's webhook deliveries, newest first, of one outcome and/or one
    /// event when given. `after` is the last delivery of the previous page (any delivery of
    /// this endpoint); `None` when it names none.
    pub async fn endpoint_deliveries(
        &self,
        scope: &Scope,
        endpoint_id: &str,
        outcome: Option<LogOutcome>,
        event_id: Option<&str>,
        limit: i64,
        after: Option<&str>,
    ) -> Result<Option<Vec<Delivery>>> {
        let (after_created, after_id) = match after {
            None => (i64::MAX, "~".to_string()),
            Some(cursor) => {
                let mut q = Sql::default();
                let id = q.text(cursor);
                q.push(&format!(
                    "SELECT created_at FROM deliveries WHERE id = {id} AND "
                ));
                q.endpoint_scope(scope, endpoint_id);
                let Some(row) = q.query().fetch_optional(&self.reader).await? else {
                    return Ok(None);
                };
                (row.get::<i64, _>(0), cursor.to_string())
            }
        };
        let mut q = Sql::default();
        q.push(&format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE "));
        q.endpoint_scope(scope, endpoint_id);
        if let Some(o) = outcome {
            q.push(&format!(" AND {}", o.condition()));
        }
        if let Some(ev) = event_id {
            let p = q.text(ev);
            q.push(&format!(" AND event_id = {p}"));
        }
        let c = q.int(after_created);
        let i = q.text(&after_id);
        let n = q.int(limit);
        q.push(&format!(
            " AND (created_at < {c} OR (created_at = {c} AND id < {i})) \
             ORDER BY created_at DESC, id DESC LIMIT {n}"
        ));
        let rows = q.query().fetch_all(&self.reader).await?;
        rows.iter()
            .map(Delivery::from_row)
            .collect::<Result<_>>()
            .map(Some)
    }

    /// Every attempt of the given deliveries of the scope (a page's worth: at most 100 ids),
    /// oldest first, by delivery id.
    pub async fn attempts_of_deliveries(
        &self,
        scope: &Scope,
        delivery_ids: &[String],
    ) -> Result<HashMap<String, Vec<DeliveryAttempt>>> {
        let mut out: HashMap<String, Vec<DeliveryAttempt>> = HashMap::new();
        if delivery_ids.is_empty() {
            return Ok(out);
        }
        let mut q = Sql::default();
        let m = q.text(&scope.merchant_id);
        let l = q.int(i64::from(scope.livemode));
        let ids: Vec<String> = delivery_ids.iter().take(100).map(|id| q.text(id)).collect();
        q.push(&format!(
            "SELECT a.id, a.delivery_id, a.attempt_number, a.trigger, a.started_at, \
             a.status_code, a.latency_ms, a.response_excerpt, a.error \
             FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id \
             WHERE d.merchant_id = {m} AND d.livemode = {l} AND a.delivery_id IN ({}) \
             ORDER BY a.delivery_id, a.attempt_number",
            ids.join(", ")
        ));
        for r in q.query().fetch_all(&self.reader).await? {
            let a = DeliveryAttempt::from_row(&r);
            out.entry(a.delivery_id.clone()).or_default().push(a);
        }
        Ok(out)
    }

    /// One page of the scope's events of one type (any type when `None`), newest first.
    /// `None` when `after` names no event of the scope of that type.
    pub async fn events_of_type(
        &self,
        scope: &Scope,
        event_type: Option<&str>,
        limit: i64,
        after: Option<&str>,
    ) -> Result<Option<Vec<Event>>> {
        let rows = self
            .page_where(
                "events",
                EVENT_COLUMNS,
                scope,
                event_type.map(|t| ("type", t)),
                limit,
                after,
            )
            .await?;
        rows.map(|rows| rows.iter().map(event_from_row).collect())
            .transpose()
    }
}

/// What [`Tx::requeue_failed_deliveries`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requeued {
    /// The deliveries queued again, oldest first.
    pub ids: Vec<String>,
    /// More failed deliveries in the range were left for another call.
    pub more: bool,
}

impl Tx {
    /// Queues the endpoint's failed webhook deliveries created in `[from, to)` again, due at
    /// `now`, at most `limit` of them (oldest first), for the workers to send. A delivery whose
    /// next automatic retry is already due, or that a worker is sending now, is left alone: it
    /// is about to be tried anyway.
    pub async fn requeue_failed_deliveries(
        &mut self,
        scope: &Scope,
        endpoint_id: &str,
        from: i64,
        to: i64,
        limit: i64,
        now: i64,
    ) -> Result<Requeued> {
        // Failed, and not about to be tried: given up or a failed manual resend, or retrying
        // with its next try later (pulled forward to now).
        let selection = |q: &mut Sql| {
            let n = q.int(now);
            let f = q.int(from);
            let t = q.int(to);
            q.push("SELECT id FROM deliveries WHERE ");
            q.endpoint_scope(scope, endpoint_id);
            q.push(&format!(
                " AND created_at >= {f} AND created_at < {t} \
                 AND (status = 'failed' OR (status = 'manual' AND attempt_count > 0) \
                 OR (status = 'pending' AND attempt_count > 0 AND next_attempt_at > {n})) \
                 AND (lease_until IS NULL OR lease_until < {n})"
            ));
            n
        };
        let mut count = Sql::default();
        count.push("SELECT CAST(COUNT(*) AS BIGINT) FROM (");
        selection(&mut count);
        let cap = count.int(limit + 1);
        count.push(&format!(" LIMIT {cap}) t"));
        let found: i64 = count.query().fetch_one(&mut *self.tx).await?.get(0);

        let mut update = Sql::default();
        update.push(
            "UPDATE deliveries SET status = 'pending', lease_owner = NULL, lease_until = NULL, ",
        );
        // The selection binds `now` first: $1.
        update.push("next_attempt_at = $1, updated_at = $1 WHERE id IN (");
        let n = selection(&mut update);
        debug_assert_eq!(n, "$1");
        let lim = update.int(limit);
        update.push(&format!(
            " ORDER BY created_at, id LIMIT {lim}) AND (lease_until IS NULL OR lease_until < $1) \
             RETURNING id, created_at"
        ));
        let rows = update.query().fetch_all(&mut *self.tx).await?;
        // RETURNING gives no order: sort oldest first as the selection was made.
        let mut requeued: Vec<(i64, String)> = rows
            .iter()
            .map(|r| (r.get::<i64, _>(1), r.get::<String, _>(0)))
            .collect();
        requeued.sort();
        Ok(Requeued {
            ids: requeued.into_iter().map(|(_, id)| id).collect(),
            more: found > limit,
        })
    }
}
