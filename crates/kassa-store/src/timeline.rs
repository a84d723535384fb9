//! What a payment's page shows besides the payment: the events of it and of its refunds.

use kassa_core::events::Event;

use sqlx::Row;

use crate::{event_from_row, Result, Scope, Store, EVENT_COLUMNS};

/// Most events one page lists.
const MAX_EVENTS: i64 = 200;

impl Store {
    /// The scope's events about any of `object_ids` (a payment and its refunds), oldest first.
    pub async fn events_of_objects(
        &self,
        scope: &Scope,
        object_ids: &[String],
    ) -> Result<Vec<Event>> {
        let mut out = Vec::new();
        for id in object_ids.iter().take(50) {
            let rows = sqlx::query(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE object_id = $1 AND merchant_id = $2 \
                 AND livemode = $3 ORDER BY created_at, id LIMIT $4"
            ))
            .bind(id)
            .bind(&scope.merchant_id)
            .bind(i64::from(scope.livemode))
            .bind(MAX_EVENTS)
            .fetch_all(&self.reader)
            .await?;
            for r in &rows {
                out.push(event_from_row(r)?);
            }
        }
        out.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        out.truncate(MAX_EVENTS as usize);
        Ok(out)
    }
}

/// Payments of one hour and status, for the home page's chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourStat {
    /// Hours since the epoch.
    pub hour: i64,
    pub status: String,
    pub count: i64,
    pub amount: i64,
}

impl Store {
    /// The scope's payments created since `since`, counted by hour and status.
    pub async fn payment_stats(&self, scope: &Scope, since: i64) -> Result<Vec<HourStat>> {
        let rows = sqlx::query(
            "SELECT created_at / 3600000 AS hour, status, COUNT(*) AS n, \
             CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total FROM payment_intents \
             WHERE merchant_id = $1 AND livemode = $2 AND created_at >= $3 \
             GROUP BY created_at / 3600000, status",
        )
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .bind(since)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| HourStat {
                hour: r.get("hour"),
                status: r.get("status"),
                count: r.get("n"),
                amount: r.get("total"),
            })
            .collect())
    }

    /// Whether the scope has a payment that succeeded (for the getting-started list): one row
    /// from the `(merchant_id, livemode, status, …)` index, not a count of the whole history.
    pub async fn has_succeeded_payment(&self, scope: &Scope) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 FROM payment_intents WHERE merchant_id = $1 AND livemode = $2 \
             AND status = 'succeeded' LIMIT 1",
        )
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.is_some())
    }

    /// Whether the scope has a webhook delivery that succeeded (for the getting-started list).
    pub async fn has_delivered_webhook(&self, scope: &Scope) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 FROM deliveries WHERE merchant_id = $1 AND livemode = $2 \
             AND status = 'succeeded' LIMIT 1",
        )
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.is_some())
    }
}

impl Store {
    /// Succeeded amounts since `since`, per currency.
    pub async fn succeeded_volume(&self, scope: &Scope, since: i64) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT currency, CAST(COALESCE(SUM(amount_received), 0) AS BIGINT) AS total \
             FROM payment_intents WHERE merchant_id = $1 AND livemode = $2 \
             AND created_at >= $3 AND status = 'succeeded' GROUP BY currency ORDER BY currency",
        )
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .bind(since)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("currency"), r.get("total")))
            .collect())
    }
}

/// Most payments read to count declines for the home page (a bound on its cost).
const MAX_DECLINES_READ: i64 = 10_000;

impl Store {
    /// The last decline of each of the scope's payments created since `since`, counted by
    /// reason (the decline code, else the error code), most frequent first.
    pub async fn declines_by_reason(
        &self,
        scope: &Scope,
        since: i64,
    ) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT last_payment_error FROM payment_intents WHERE merchant_id = $1 \
             AND livemode = $2 AND created_at >= $3 AND last_payment_error IS NOT NULL LIMIT $4",
        )
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .bind(since)
        .bind(MAX_DECLINES_READ)
        .fetch_all(&self.reader)
        .await?;
        let mut counts = std::collections::BTreeMap::<String, i64>::new();
        for r in &rows {
            let text: String = r.get(0);
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let reason = v["decline_code"]
                .as_str()
                .or_else(|| v["code"].as_str())
                .unwrap_or("unknown")
                .to_string();
            *counts.entry(reason).or_default() += 1;
        }
        let mut out: Vec<(String, i64)> = counts.into_iter().collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(out)
    }

    /// The scope's webhook endpoints with deliveries that failed for good, or are being
    /// retried after a failed attempt, updated since `since`: endpoint id and count.
    pub async fn failing_endpoints(&self, scope: &Scope, since: i64) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT endpoint_id, COUNT(*) AS n FROM deliveries WHERE merchant_id = $1 \
             AND livemode = $2 AND channel = 'webhook' AND updated_at >= $3 \
             AND (status = 'failed' OR (status = 'pending' AND attempt_count > 0)) \
             GROUP BY endpoint_id ORDER BY n DESC LIMIT 20",
        )
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .bind(since)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("endpoint_id"), r.get("n")))
            .collect())
    }
}

impl Store {
    /// A payment's attempts (each confirmation, its challenge and outcome), oldest first. The
    /// caller has checked the payment is the scope's.
    pub async fn attempts_of_intent(&self, intent_id: &str) -> Result<Vec<crate::PaymentAttempt>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM payment_attempts WHERE payment_intent_id = $1 \
             ORDER BY created_at, id LIMIT 100",
            crate::ATTEMPT_COLUMNS
        ))
        .bind(intent_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(crate::PaymentAttempt::from_row).collect()
    }
}
