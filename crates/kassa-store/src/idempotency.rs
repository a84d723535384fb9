//! Idempotency keys: a request's key is begun once, completed with the response in the
//! effect's own transaction (sealed under the master key), replayed, or released.

use super::*;

impl Store {
    /// Starts (or joins) the request under an idempotency key.
    pub async fn idempotency_begin(
        &self,
        scope: &Scope,
        key: &str,
        request_hash: &str,
        now: i64,
        lock_ms: i64,
        retention_ms: i64,
    ) -> Result<IdemBegin> {
        let (merchant_id, livemode) = (&scope.merchant_id, i64::from(scope.livemode));
        for _ in 0..3 {
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (merchant_id, idem_key, request_hash, state, \
                 locked_until, created_at, livemode) VALUES ($1, $2, $3, 'in_progress', $4, $5, $6) \
                 ON CONFLICT (merchant_id, livemode, idem_key) DO NOTHING",
            )
            .bind(merchant_id)
            .bind(key)
            .bind(request_hash)
            .bind(now + lock_ms)
            .bind(now)
            .bind(livemode)
            .execute(&self.writer)
            .await?
            .rows_affected();
            if inserted == 1 {
                return Ok(IdemBegin::Proceed);
            }
            let Some(row) = sqlx::query(
                "SELECT request_hash, state, response_status, response_body, locked_until, \
                 created_at FROM idempotency_keys WHERE merchant_id = $1 AND idem_key = $2 \
                 AND livemode = $3",
            )
            .bind(merchant_id)
            .bind(key)
            .bind(livemode)
            .fetch_optional(&self.writer)
            .await?
            else {
                continue;
            };
            let created: i64 = row.get("created_at");
            if created < now - retention_ms {
                sqlx::query(
                    "DELETE FROM idempotency_keys WHERE merchant_id = $1 AND idem_key = $2 \
                     AND created_at = $3 AND livemode = $4",
                )
                .bind(merchant_id)
                .bind(key)
                .bind(created)
                .bind(livemode)
                .execute(&self.writer)
                .await?;
                continue;
            }
            let stored_hash: String = row.get("request_hash");
            if stored_hash != request_hash {
                return Ok(IdemBegin::Mismatch);
            }
            let state: String = row.get("state");
            if state == "done" {
                let stored = row
                    .get::<Option<String>, _>("response_body")
                    .unwrap_or_default();
                return Ok(IdemBegin::Replay {
                    status: row.get::<Option<i64>, _>("response_status").unwrap_or(200) as u16,
                    body: self.open_response(stored)?,
                });
            }
            let locked_until: i64 = row.get("locked_until");
            if locked_until > now {
                return Ok(IdemBegin::InProgress);
            }
            // The first request's process died before finishing; nothing it did was committed
            // (its effect and this key's completion share one transaction), so take over.
            let taken = sqlx::query(
                "UPDATE idempotency_keys SET locked_until = $1 WHERE merchant_id = $2 \
                 AND idem_key = $3 AND state = 'in_progress' AND locked_until = $4 \
                 AND livemode = $5",
            )
            .bind(now + lock_ms)
            .bind(merchant_id)
            .bind(key)
            .bind(locked_until)
            .bind(livemode)
            .execute(&self.writer)
            .await?
            .rows_affected();
            return Ok(if taken == 1 {
                IdemBegin::Proceed
            } else {
                IdemBegin::InProgress
            });
        }
        Ok(IdemBegin::InProgress)
    }

    /// Stores the response of a request whose effect was not transactional (or a no-op when
    /// the effect's transaction already stored it).
    pub async fn idempotency_complete(
        &self,
        scope: &Scope,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<()> {
        let body = self.seal_response(body);
        complete_idem(&self.writer, scope, key, status, &body).await
    }

    /// Forgets a key whose request failed without effect, so the client may retry it.
    pub async fn idempotency_release(&self, scope: &Scope, key: &str) -> Result<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE merchant_id = $1 AND idem_key = $2 \
             AND state = 'in_progress' AND livemode = $3",
        )
        .bind(&scope.merchant_id)
        .bind(key)
        .bind(i64::from(scope.livemode))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Deletes idempotency keys older than `cutoff`.
    pub async fn purge_idempotency_keys(&self, cutoff: i64) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                .bind(cutoff)
                .execute(&self.writer)
                .await?
                .rows_affected(),
        )
    }
}

impl Tx {
    /// Marks the idempotency key done with this response, in the effect's own transaction.
    pub async fn complete_idempotency(
        &mut self,
        scope: &Scope,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<()> {
        let body = seal_with(self.responses.as_deref(), body);
        complete_idem(&mut *self.tx, scope, key, status, &body).await
    }
}
