//! Payment intents, their attempts and their refunds.

use super::*;
use kassa_core::intent::AttemptStatus;

impl Store {
    /// The payments of an order that takes one payment ([`kassa_core::order`]).
    pub async fn intents_of_order(
        &self,
        scope: &Scope,
        order_key: &str,
    ) -> Result<Vec<PaymentIntent>> {
        let rows = sqlx::query(&format!(
            "SELECT {INTENT_COLUMNS} FROM payment_intents \
             WHERE merchant_id = $1 AND livemode = $3 AND order_key = $2 ORDER BY created_at, id"
        ))
        .bind(&scope.merchant_id)
        .bind(order_key)
        .bind(i64::from(scope.livemode))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(intent_from_row).collect()
    }

    /// `(merchant, intent)` of authorizations held for a risk review whose verdict is due at
    /// `now`, the longest overdue first.
    pub async fn due_reviews(&self, now: i64, limit: i64) -> Result<Vec<(Scope, String)>> {
        let rows = sqlx::query(
            "SELECT merchant_id, livemode, id FROM payment_intents WHERE review_at IS NOT NULL \
             AND review_at <= $1 AND status = 'requires_capture' ORDER BY review_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(|r| (scope_at(r, 0), r.get(2))).collect())
    }

    /// `(merchant, intent)` of authorizations whose capture window has run out at `now`, the
    /// longest overdue first.
    pub async fn due_authorization_expiries(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<(Scope, String)>> {
        let rows = sqlx::query(
            "SELECT merchant_id, livemode, id FROM payment_intents WHERE capture_before IS NOT NULL \
             AND capture_before <= $1 AND status = 'requires_capture' \
             AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = payment_intents.customer_id \
                 AND c.test_clock IS NOT NULL) \
             ORDER BY capture_before LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(|r| (scope_at(r, 0), r.get(2))).collect())
    }

    /// Intents whose offline payment (a voucher) stopped being payable at or before `now`,
    /// soonest first: (merchant, intent).
    pub async fn due_offline_expiries(&self, now: i64, limit: i64) -> Result<Vec<(Scope, String)>> {
        let rows = sqlx::query(
            "SELECT merchant_id, livemode, id FROM payment_intents WHERE pay_before IS NOT NULL \
             AND pay_before <= $1 AND status = 'requires_action' ORDER BY pay_before LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(|r| (scope_at(r, 0), r.get(2))).collect())
    }

    pub async fn intent(&self, scope: &Scope, id: &str) -> Result<Option<PaymentIntent>> {
        let row = sqlx::query(&format!(
            "SELECT {INTENT_COLUMNS} FROM (SELECT * FROM payment_intents WHERE id = $1 LIMIT 1) t WHERE merchant_id = $2 AND livemode = $3"
        ))
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| intent_from_row(&r)).transpose()
    }

    /// An intent by id alone, for flows keyed by an unguessable token (checkout, 3-D Secure).
    pub async fn intent_by_id_any_merchant(&self, id: &str) -> Result<Option<PaymentIntent>> {
        let row = sqlx::query(&format!(
            "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| intent_from_row(&r)).transpose()
    }

    pub async fn intent_by_checkout_token(&self, token: &str) -> Result<Option<PaymentIntent>> {
        let row = sqlx::query(&format!(
            "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE checkout_token = $1"
        ))
        .bind(token)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| intent_from_row(&r)).transpose()
    }

    /// Newest first; `starting_after` is the id of the last object of the previous page.
    pub async fn list_intents(
        &self,
        scope: &Scope,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Option<Vec<PaymentIntent>>> {
        let rows = self
            .page(
                "payment_intents",
                INTENT_COLUMNS,
                scope,
                limit,
                starting_after,
            )
            .await?;
        rows.map(|rows| rows.iter().map(intent_from_row).collect())
            .transpose()
    }

    pub async fn open_attempt(&self, intent_id: &str) -> Result<Option<PaymentAttempt>> {
        let row = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE payment_intent_id = $1 \
             AND status = 'requires_action' ORDER BY created_at DESC LIMIT 1"
        ))
        .bind(intent_id)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| PaymentAttempt::from_row(&r)).transpose()
    }

    /// Attempts still `processing` since before `cutoff`: their process died while asking the
    /// processor (a live request finishes within the processor's timeout).
    pub async fn stale_processing_attempts(
        &self,
        cutoff: i64,
        limit: i64,
    ) -> Result<Vec<PaymentAttempt>> {
        let rows = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE status = 'processing' \
             AND updated_at < $1 ORDER BY updated_at LIMIT $2"
        ))
        .bind(cutoff)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(PaymentAttempt::from_row).collect()
    }

    /// Refunds still `pending` without the processor's reference, created before `cutoff`, of
    /// every merchant and mode, oldest first: refunds whose answer was lost (or whose process
    /// died while asking), to be asked again under the same refund id.
    pub async fn unanswered_refunds(&self, cutoff: i64, limit: i64) -> Result<Vec<Refund>> {
        let rows = sqlx::query(&format!(
            "SELECT {REFUND_COLUMNS} FROM refunds WHERE status = 'pending' \
             AND processor_ref IS NULL AND created_at < $1 ORDER BY created_at, id LIMIT $2"
        ))
        .bind(cutoff)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(refund_from_row).collect()
    }

    pub async fn attempt(&self, id: &str) -> Result<Option<PaymentAttempt>> {
        let row = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| PaymentAttempt::from_row(&r)).transpose()
    }

    pub async fn refund(&self, scope: &Scope, id: &str) -> Result<Option<Refund>> {
        let row = sqlx::query(&format!(
            "SELECT {REFUND_COLUMNS} FROM (SELECT * FROM refunds WHERE id = $1 LIMIT 1) t WHERE merchant_id = $2 AND livemode = $3"
        ))
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| refund_from_row(&r)).transpose()
    }

    pub async fn list_refunds(
        &self,
        scope: &Scope,
        limit: i64,
        starting_after: Option<&str>,
        payment_intent: Option<&str>,
    ) -> Result<Option<Vec<Refund>>> {
        // One intent's refunds page like all of them; the cursor must be one of that intent's.
        let rows = self
            .page_where(
                "refunds",
                REFUND_COLUMNS,
                scope,
                payment_intent.map(|pi| ("payment_intent_id", pi)),
                limit,
                starting_after,
            )
            .await?;
        rows.map(|rows| rows.iter().map(refund_from_row).collect())
            .transpose()
    }
}

impl Tx {
    pub async fn insert_intent(&mut self, pi: &PaymentIntent) -> Result<()> {
        let sql = format!(
            "INSERT INTO payment_intents ({INTENT_COLUMNS}, card_last4, face) VALUES \
             ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27,$28,$29,$30,$31,$32,$33,$34,$35,$36,$37)"
        );
        let face = crate::dashboard_payments::face_of_new_intent(&mut self.tx, pi).await?;
        bind_intent(sqlx::query(&sql), pi)?
            .bind(card_last4(pi))
            .bind(face.as_str())
            .execute(&mut *self.tx)
            .await
            .map_err(unique_is_conflict)?;
        Ok(())
    }

    /// Reads an intent inside the transaction.
    pub async fn intent(&mut self, scope: &Scope, id: &str) -> Result<Option<PaymentIntent>> {
        let row = sqlx::query(&format!(
            "SELECT {INTENT_COLUMNS} FROM (SELECT * FROM payment_intents WHERE id = $1 LIMIT 1) t WHERE merchant_id = $2 AND livemode = $3"
        ))
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|r| intent_from_row(&r)).transpose()
    }

    /// Writes `pi` if the stored row is still at `pi.version`, and bumps the version.
    /// `Err(Conflict)` when another request changed it first.
    pub async fn update_intent(&mut self, pi: &mut PaymentIntent) -> Result<()> {
        let q = sqlx::query(
            "UPDATE payment_intents SET status = $1, amount_capturable = $2, \
             amount_received = $3, amount_refunded = $4, last_payment_error = $5, \
             payment_method = $6, next_action = $7, processor_ref = $8, canceled_at = $9, \
             cancellation_reason = $10, updated_at = $11, version = version + 1, \
             description = $12, metadata = $13, return_url = $14, capture_before = $17, \
             review_at = $18, setup_future_usage = $19, pay_before = $20, processor_account = $21, \
             card_last4 = $22 WHERE id = $15 AND version = $16",
        )
        .bind(pi.status.as_str())
        .bind(pi.amount_capturable)
        .bind(pi.amount_received)
        .bind(pi.amount_refunded)
        .bind(opt_json(&pi.last_payment_error)?)
        .bind(opt_json(&pi.payment_method)?)
        .bind(opt_json(&pi.next_action)?)
        .bind(pi.processor_ref.clone())
        .bind(pi.canceled_at)
        .bind(pi.cancellation_reason.clone())
        .bind(pi.updated)
        .bind(pi.description.clone())
        .bind(to_json(&pi.metadata)?)
        .bind(pi.return_url.clone())
        .bind(&pi.id)
        .bind(pi.version)
        .bind(pi.capture_before)
        .bind(pi.review_at)
        .bind(pi.setup_future_usage.map(|u| u.as_str()))
        .bind(pi.pay_before)
        .bind(pi.processor_account.clone())
        .bind(card_last4(pi));
        // A second payment holding an order breaks the one-payment-per-order index: the order
        // is taken, as when another request changed the intent first.
        let n = q
            .execute(&mut *self.tx)
            .await
            .map_err(unique_is_conflict)?
            .rows_affected();
        if n != 1 {
            return Err(StoreError::Conflict);
        }
        pi.version += 1;
        Ok(())
    }

    /// The payments of an order that takes one payment ([`kassa_core::order`]).
    pub async fn intents_of_order(
        &mut self,
        scope: &Scope,
        order_key: &str,
    ) -> Result<Vec<PaymentIntent>> {
        let rows = sqlx::query(&format!(
            "SELECT {INTENT_COLUMNS} FROM payment_intents \
             WHERE merchant_id = $1 AND livemode = $3 AND order_key = $2 ORDER BY created_at, id"
        ))
        .bind(&scope.merchant_id)
        .bind(order_key)
        .bind(i64::from(scope.livemode))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(intent_from_row).collect()
    }

    /// Raises the intent's refunded amount by `amount` only while the total stays within what
    /// was received. Returns false (and changes nothing) when it would not.
    pub async fn add_refunded(&mut self, intent_id: &str, amount: i64, now: i64) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE payment_intents SET amount_refunded = amount_refunded + $1, \
             updated_at = $2, version = version + 1 \
             WHERE id = $3 AND status = 'succeeded' AND amount_refunded + $1 <= amount_received",
        )
        .bind(amount)
        .bind(now)
        .bind(intent_id)
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Gives back a reservation made by [`Tx::add_refunded`] when the refund failed.
    pub async fn add_refunded_release(
        &mut self,
        intent_id: &str,
        amount: i64,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE payment_intents SET amount_refunded = amount_refunded - $1, \
             updated_at = $2, version = version + 1 WHERE id = $3 AND amount_refunded >= $1",
        )
        .bind(amount)
        .bind(now)
        .bind(intent_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn insert_attempt(&mut self, a: &PaymentAttempt) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO payment_attempts ({ATTEMPT_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
        ))
        .bind(&a.id)
        .bind(&a.payment_intent_id)
        .bind(a.status.as_str())
        .bind(a.payment_method.clone())
        .bind(a.processor_ref.clone())
        .bind(a.challenge_state.clone())
        .bind(a.error.clone())
        .bind(a.created_at)
        .bind(a.updated_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Moves an attempt from `from` to `a.status`; false when it was not in `from`.
    pub async fn update_attempt(
        &mut self,
        a: &PaymentAttempt,
        from: AttemptStatus,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE payment_attempts SET status = $1, payment_method = $2, processor_ref = $3, \
             challenge_state = $4, error = $5, updated_at = $6 WHERE id = $7 AND status = $8",
        )
        .bind(a.status.as_str())
        .bind(a.payment_method.clone())
        .bind(a.processor_ref.clone())
        .bind(a.challenge_state.clone())
        .bind(a.error.clone())
        .bind(a.updated_at)
        .bind(&a.id)
        .bind(from.as_str())
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn insert_refund(&mut self, r: &Refund) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO refunds ({REFUND_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)"
        ))
        .bind(&r.id)
        .bind(&r.merchant_id)
        .bind(&r.payment_intent_id)
        .bind(r.amount)
        .bind(r.currency.code())
        .bind(r.status.as_str())
        .bind(r.reason.clone())
        .bind(to_json(&r.metadata)?)
        .bind(r.processor_ref.clone())
        .bind(r.created)
        .bind(r.kind.as_str())
        .bind(r.kind.chargeback_reason().map(i64::from))
        .bind(i64::from(r.livemode))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn update_refund(&mut self, r: &Refund) -> Result<()> {
        sqlx::query("UPDATE refunds SET status = $1, processor_ref = $2 WHERE id = $3")
            .bind(r.status.as_str())
            .bind(r.processor_ref.clone())
            .bind(&r.id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Writes the processor's answer (status and reference) on a refund that has none yet:
    /// still `pending` without a reference. False (and nothing written) when another writer
    /// answered it first.
    pub async fn answer_refund(&mut self, r: &Refund) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE refunds SET status = $1, processor_ref = $2 \
             WHERE id = $3 AND status = 'pending' AND processor_ref IS NULL",
        )
        .bind(r.status.as_str())
        .bind(r.processor_ref.clone())
        .bind(&r.id)
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// An attempt as this transaction sees it (including its own uncommitted writes).
    pub async fn attempt(&mut self, id: &str) -> Result<Option<PaymentAttempt>> {
        let row = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|r| PaymentAttempt::from_row(&r)).transpose()
    }
}

/// A unique index refused the write: another writer holds what this one wanted.
fn unique_is_conflict(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict,
        _ => StoreError::Db(e),
    }
}
