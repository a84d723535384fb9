//! Events, webhook endpoints and the outbox of deliveries (claimed with leases, each attempt
//! recorded).

use super::*;

impl Store {
    pub async fn event(&self, scope: &Scope, id: &str) -> Result<Option<Event>> {
        let row = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM (SELECT * FROM events WHERE id = $1 LIMIT 1) t WHERE merchant_id = $2 AND livemode = $3"
        ))
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| event_from_row(&r)).transpose()
    }

    pub async fn list_events(
        &self,
        scope: &Scope,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Option<Vec<Event>>> {
        let rows = self
            .page("events", EVENT_COLUMNS, scope, limit, starting_after)
            .await?;
        rows.map(|rows| rows.iter().map(event_from_row).collect())
            .transpose()
    }

    pub async fn endpoint(&self, scope: &Scope, id: &str) -> Result<Option<WebhookEndpoint>> {
        let row = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM (SELECT * FROM webhook_endpoints WHERE id = $1 LIMIT 1) t WHERE merchant_id = $2 AND livemode = $3 \
             AND status <> 'deleted'"
        ))
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| WebhookEndpoint::from_row(&r)).transpose()
    }

    pub async fn endpoint_by_id(&self, id: &str) -> Result<Option<WebhookEndpoint>> {
        let row = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| WebhookEndpoint::from_row(&r)).transpose()
    }

    pub async fn list_endpoints(&self, scope: &Scope) -> Result<Vec<WebhookEndpoint>> {
        let rows = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE merchant_id = $1 AND livemode = $2 \
             AND status <> 'deleted' ORDER BY created_at DESC, id DESC"
        ))
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(WebhookEndpoint::from_row).collect()
    }

    pub async fn deliveries_for_event(
        &self,
        scope: &Scope,
        event_id: &str,
    ) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE merchant_id = $1 AND livemode = $3 AND event_id = $2 \
             ORDER BY created_at, id"
        ))
        .bind(&scope.merchant_id)
        .bind(event_id)
        .bind(i64::from(scope.livemode))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(Delivery::from_row).collect()
    }

    pub async fn delivery(&self, scope: &Scope, id: &str) -> Result<Option<Delivery>> {
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM (SELECT * FROM deliveries WHERE id = $1 LIMIT 1) t WHERE merchant_id = $2 AND livemode = $3"
        ))
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| Delivery::from_row(&r)).transpose()
    }

    pub async fn delivery_attempts(&self, delivery_id: &str) -> Result<Vec<DeliveryAttempt>> {
        let rows = sqlx::query(
            "SELECT id, delivery_id, attempt_number, trigger, started_at, status_code, latency_ms, \
             response_excerpt, error FROM delivery_attempts WHERE delivery_id = $1 \
             ORDER BY attempt_number",
        )
        .bind(delivery_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(DeliveryAttempt::from_row).collect())
    }

    /// Claims up to `limit` due deliveries for `owner` until `lease_until`. A delivery whose
    /// lease has run out (its worker died) is due again.
    pub async fn claim_deliveries(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        // The outer lease condition is re-checked by PostgreSQL on the row's newest version, so
        // two workers racing for one row cannot both win it.
        let sql = format!(
            "UPDATE deliveries SET lease_owner = $1, lease_until = $2 \
             WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' \
                 AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until < $3) \
                 ORDER BY next_attempt_at LIMIT $4{lock}) \
             AND status = 'pending' AND (lease_until IS NULL OR lease_until < $3) \
             RETURNING {DELIVERY_COLUMNS}"
        );
        let rows = sqlx::query(&sql)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.writer)
            .await?;
        rows.iter().map(Delivery::from_row).collect()
    }

    /// Records one attempt and schedules the next (or ends the delivery), only if `owner` still
    /// holds the lease. Returns false when the lease was lost (another worker owns it now).
    /// The attempt keeps its number unless a manual resend recorded that number meanwhile;
    /// then it is numbered after the last one recorded. A delivery canceled while it was being
    /// sent keeps its attempt but is not scheduled again.
    pub async fn record_attempt(
        &self,
        owner: &str,
        attempt: &DeliveryAttempt,
        outcome: DeliveryOutcome,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let (status, next_at) = match outcome {
            DeliveryOutcome::Succeeded => ("succeeded", None),
            DeliveryOutcome::Retry { at } => ("pending", Some(at)),
            DeliveryOutcome::GaveUp => ("failed", None),
        };
        // Also locks the delivery's row (PostgreSQL) before its attempts are numbered. A
        // delivery canceled meanwhile (its endpoint was deleted) stays canceled.
        let updated = sqlx::query(
            "UPDATE deliveries SET \
             status = CASE WHEN status = 'canceled' THEN status ELSE $1 END, \
             next_attempt_at = COALESCE($2, next_attempt_at), lease_owner = NULL, \
             lease_until = NULL, last_status_code = $3, updated_at = $4 \
             WHERE id = $5 AND lease_owner = $6",
        )
        .bind(status)
        .bind(next_at)
        .bind(attempt.status_code)
        .bind(attempt.started_at)
        .bind(&attempt.delivery_id)
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        let mut attempt = attempt.clone();
        attempt.attempt_number = attempt
            .attempt_number
            .max(next_attempt_number(&mut tx, &attempt.delivery_id).await?);
        insert_attempt(&mut tx, &attempt).await?;
        set_attempt_count(&mut tx, &attempt.delivery_id, attempt.attempt_number).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records a manual resend's attempt without touching the automatic schedule, except that a
    /// success ends a delivery that was still pending or had given up. The attempt is numbered
    /// after the last one recorded (resends of one delivery at once wait for each other).
    pub async fn record_manual_attempt(&self, attempt: &DeliveryAttempt, ok: bool) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        // Lock the delivery's row first (PostgreSQL), so a concurrent resend or automatic
        // attempt is numbered after this one rather than taking the same number.
        let status_sql = if ok {
            "UPDATE deliveries SET status = 'succeeded', lease_owner = NULL, lease_until = NULL, \
             last_status_code = $1, updated_at = $2 WHERE id = $3"
        } else {
            "UPDATE deliveries SET last_status_code = $1, updated_at = $2 WHERE id = $3"
        };
        let found = sqlx::query(status_sql)
            .bind(attempt.status_code)
            .bind(attempt.started_at)
            .bind(&attempt.delivery_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if found == 0 {
            // The delivery was deleted meanwhile (its test data purged): nothing to record.
            return Ok(());
        }
        let mut attempt = attempt.clone();
        attempt.attempt_number = next_attempt_number(&mut tx, &attempt.delivery_id).await?;
        insert_attempt(&mut tx, &attempt).await?;
        set_attempt_count(&mut tx, &attempt.delivery_id, attempt.attempt_number).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Number of pending deliveries and the age in ms of the oldest due one.
    pub async fn outbox_backlog(&self, now: i64) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(MIN(next_attempt_at), $1) AS BIGINT) \
             FROM deliveries WHERE status = 'pending'",
        )
        .bind(now)
        .fetch_one(&self.reader)
        .await?;
        let count: i64 = row.get(0);
        let oldest: i64 = row.get(1);
        Ok((count, (now - oldest).max(0)))
    }
}

impl Tx {
    /// Writes an event and one pending delivery for every enabled endpoint of the merchant that
    /// subscribed to its type.
    pub async fn insert_event(&mut self, event: &Event, object_id: &str) -> Result<()> {
        // One statement queues a delivery for every enabled endpoint subscribed to this type
        // (or to `*`), so an event costs the same round trips with or without endpoints. The
        // delivery id is derived from the event and endpoint ids: unique per pair. PostgreSQL
        // also takes the event row in the same statement (a data-modifying CTE; the foreign key
        // is checked at the end of the statement); SQLite has no such CTEs and no network round
        // trip to save.
        const QUEUE: &str = "INSERT INTO deliveries (id, merchant_id, channel, endpoint_id, \
             event_id, status, attempt_count, next_attempt_at, created_at, updated_at, livemode) \
             SELECT 'msg_' || $7 || SUBSTR(id, 4), merchant_id, 'webhook', id, $1, 'pending', \
             0, $6, $6, $6, livemode FROM webhook_endpoints \
             WHERE merchant_id = $2 AND livemode = $9 AND status = 'enabled' \
             AND (enabled_events LIKE '%\"*\"%' OR enabled_events LIKE $8 ESCAPE '\\')";
        const EVENT: &str =
            "INSERT INTO events (id, merchant_id, type, object_id, data, created_at, livemode) \
             VALUES ($1, $2, $3, $4, $5, $6, $9)";
        let pattern = format!("%\"{}\"%", event.event_type.as_str().replace('_', "\\_"));
        let event_rand = event
            .id
            .split_once('_')
            .map(|(_, r)| r)
            .unwrap_or(&event.id)
            .to_string();
        let data = event.object.to_string();
        let bind = |sql| {
            sqlx::query(sql)
                .bind(event.id.clone())
                .bind(event.merchant_id.clone())
                .bind(event.event_type.as_str())
                .bind(object_id.to_string())
                .bind(data.clone())
                .bind(event.created)
                .bind(event_rand.clone())
                .bind(pattern.clone())
                .bind(i64::from(event.livemode))
        };
        match self.backend {
            Backend::Postgres => {
                let sql = format!("WITH ev AS ({EVENT}) {QUEUE}");
                bind(sql.as_str()).execute(&mut *self.tx).await?;
            }
            Backend::Sqlite => {
                bind(EVENT).execute(&mut *self.tx).await?;
                bind(QUEUE).execute(&mut *self.tx).await?;
            }
        }
        Ok(())
    }

    /// Queues a delivery for the workers.
    pub async fn insert_delivery(
        &mut self,
        scope: &Scope,
        channel: Channel,
        endpoint_id: &str,
        event_id: &str,
        now: i64,
    ) -> Result<String> {
        self.insert_delivery_with_status(scope, channel, endpoint_id, event_id, now, "pending")
            .await
    }

    /// A delivery made for a manual resend only: not pending, so no worker picks it up.
    pub async fn insert_manual_delivery(
        &mut self,
        scope: &Scope,
        channel: Channel,
        endpoint_id: &str,
        event_id: &str,
        now: i64,
    ) -> Result<String> {
        self.insert_delivery_with_status(scope, channel, endpoint_id, event_id, now, "manual")
            .await
    }

    /// Queues a notification whose request is rendered now (`request_url`), so every retry
    /// sends it byte for byte. `target_id` names what it goes to (e.g. a Paymentwall project).
    pub async fn insert_request_delivery(
        &mut self,
        scope: &Scope,
        channel: Channel,
        target_id: &str,
        event_id: &str,
        request_url: &str,
        now: i64,
    ) -> Result<String> {
        self.insert_delivery_row(
            scope,
            channel,
            target_id,
            event_id,
            now,
            "pending",
            Some(request_url),
            None,
        )
        .await
    }

    /// Queues a POST of `request_body` (JSON) to `request_url`, both rendered now so every
    /// retry sends the identical request (Paymob callbacks).
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_post_delivery(
        &mut self,
        scope: &Scope,
        channel: Channel,
        target_id: &str,
        event_id: &str,
        request_url: &str,
        request_body: &str,
        now: i64,
    ) -> Result<String> {
        self.insert_delivery_row(
            scope,
            channel,
            target_id,
            event_id,
            now,
            "pending",
            Some(request_url),
            Some(request_body),
        )
        .await
    }

    async fn insert_delivery_with_status(
        &mut self,
        scope: &Scope,
        channel: Channel,
        endpoint_id: &str,
        event_id: &str,
        now: i64,
        status: &str,
    ) -> Result<String> {
        self.insert_delivery_row(
            scope,
            channel,
            endpoint_id,
            event_id,
            now,
            status,
            None,
            None,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_delivery_row(
        &mut self,
        scope: &Scope,
        channel: Channel,
        endpoint_id: &str,
        event_id: &str,
        now: i64,
        status: &str,
        request_url: Option<&str>,
        request_body: Option<&str>,
    ) -> Result<String> {
        let id = kassa_core::ids::new_id(kassa_core::ids::prefix::DELIVERY);
        sqlx::query(
            "INSERT INTO deliveries (id, merchant_id, channel, endpoint_id, event_id, status, \
             attempt_count, next_attempt_at, created_at, updated_at, request_url, request_body, \
             livemode) VALUES ($1, $2, $3, $4, $5, $7, 0, $6, $6, $6, $8, $9, $10)",
        )
        .bind(&id)
        .bind(&scope.merchant_id)
        .bind(channel.as_str())
        .bind(endpoint_id)
        .bind(event_id)
        .bind(now)
        .bind(status)
        .bind(request_url)
        .bind(request_body)
        .bind(i64::from(scope.livemode))
        .execute(&mut *self.tx)
        .await?;
        Ok(id)
    }

    /// How many webhook endpoints a merchant has (not counting deleted ones). On PostgreSQL the
    /// merchant's row is locked until the transaction ends, so another transaction counting
    /// (to create one under a limit) waits and then counts this one's endpoint, as SQLite's single
    /// writer does; payments and events of the merchant are not held up.
    pub async fn count_endpoints(&mut self, scope: &Scope) -> Result<i64> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT id FROM merchants WHERE id = $1 FOR NO KEY UPDATE")
                .bind(&scope.merchant_id)
                .fetch_optional(&mut *self.tx)
                .await?;
        }
        let row = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM webhook_endpoints WHERE merchant_id = $1 AND livemode = $2 \
             AND status <> 'deleted'",
        )
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(row.get(0))
    }

    pub async fn insert_endpoint(&mut self, ep: &WebhookEndpoint) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
        ))
        .bind(&ep.id)
        .bind(&ep.merchant_id)
        .bind(&ep.url)
        .bind(ep.description.clone())
        .bind(to_json(&ep.enabled_events)?)
        .bind(&ep.secret_enc)
        .bind(ep.previous_secret_enc.clone())
        .bind(ep.previous_secret_expires_at)
        .bind(&ep.status)
        .bind(ep.created_at)
        .bind(i64::from(ep.livemode))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn update_endpoint(&mut self, ep: &WebhookEndpoint) -> Result<()> {
        sqlx::query(
            "UPDATE webhook_endpoints SET url = $1, description = $2, enabled_events = $3, \
             secret_enc = $4, previous_secret_enc = $5, previous_secret_expires_at = $6, \
             status = $7 WHERE id = $8 AND merchant_id = $9 AND livemode = $10",
        )
        .bind(&ep.url)
        .bind(ep.description.clone())
        .bind(to_json(&ep.enabled_events)?)
        .bind(&ep.secret_enc)
        .bind(ep.previous_secret_enc.clone())
        .bind(ep.previous_secret_expires_at)
        .bind(&ep.status)
        .bind(&ep.id)
        .bind(&ep.merchant_id)
        .bind(i64::from(ep.livemode))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Stops pending deliveries to a deleted endpoint.
    pub async fn cancel_pending_deliveries(&mut self, endpoint_id: &str, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE deliveries SET status = 'canceled', updated_at = $1 \
             WHERE endpoint_id = $2 AND status = 'pending'",
        )
        .bind(now)
        .bind(endpoint_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}

/// One more than the highest attempt number recorded for the delivery.
async fn next_attempt_number(
    tx: &mut sqlx::Transaction<'static, Any>,
    delivery_id: &str,
) -> Result<i64> {
    let n: i64 = sqlx::query(
        "SELECT CAST(COALESCE(MAX(attempt_number), 0) AS BIGINT) FROM delivery_attempts \
         WHERE delivery_id = $1",
    )
    .bind(delivery_id)
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    Ok(n + 1)
}

async fn set_attempt_count(
    tx: &mut sqlx::Transaction<'static, Any>,
    delivery_id: &str,
    count: i64,
) -> Result<()> {
    sqlx::query("UPDATE deliveries SET attempt_count = $1 WHERE id = $2")
        .bind(count)
        .bind(delivery_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
