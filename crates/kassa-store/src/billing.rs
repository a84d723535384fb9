//! Subscription, invoice and test clock rows.

use kassa_core::invoice::{Invoice, InvoiceStatus};
use kassa_core::money::Currency;
use kassa_core::subscription::{Subscription, SubscriptionStatus};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{from_json, parse, scope_at, to_json, Result, Scope, Store, StoreError, Tx};

const SUB_COLUMNS: &str = "id, merchant_id, customer_id, test_clock, status, \
    default_payment_method, items, currency, billing_cycle_anchor, cycle, current_period_start, \
    current_period_end, trial_start, trial_end, trial_will_end_sent, cancel_at_period_end, \
    canceled_at, ended_at, latest_invoice, retry_at, retry_policy, metadata, next_action_at, \
    leased_until, created_at, updated_at, version, cancel_at, livemode";

const INVOICE_COLUMNS: &str = "id, merchant_id, customer_id, subscription_id, status, currency, \
    amount_due, amount_paid, lines, period_start, period_end, billing_reason, attempt_count, \
    payment_intent, created_at, paid_at, updated_at, livemode";

const CLOCK_COLUMNS: &str = "id, merchant_id, name, frozen_time, status, created_at, livemode";

/// A test clock: the time its customers' subscriptions live at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestClock {
    pub id: String,
    pub merchant_id: String,
    /// Always `false`: test clocks exist only in test mode.
    pub livemode: bool,
    pub name: Option<String>,
    pub frozen_time: i64,
    /// `ready`, or `advancing` while an advance runs.
    pub status: String,
    pub created: i64,
}

fn sub_from_row(r: &AnyRow) -> Result<Subscription> {
    let status: String = r.get("status");
    let currency: String = r.get("currency");
    Ok(Subscription {
        id: r.get("id"),
        merchant_id: r.get("merchant_id"),
        livemode: r.get::<i64, _>("livemode") != 0,
        customer: r.get("customer_id"),
        test_clock: r.get("test_clock"),
        status: SubscriptionStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("bad subscription status {status}")))?,
        default_payment_method: r.get("default_payment_method"),
        items: from_json(&r.get::<String, _>("items"))?,
        currency: parse::<Currency>(&currency, "currency")?,
        billing_cycle_anchor: r.get("billing_cycle_anchor"),
        cycle: r.get("cycle"),
        current_period_start: r.get("current_period_start"),
        current_period_end: r.get("current_period_end"),
        trial_start: r.get("trial_start"),
        trial_end: r.get("trial_end"),
        trial_will_end_sent: r.get::<i64, _>("trial_will_end_sent") != 0,
        cancel_at_period_end: r.get::<i64, _>("cancel_at_period_end") != 0,
        cancel_at: r.get("cancel_at"),
        canceled_at: r.get("canceled_at"),
        ended_at: r.get("ended_at"),
        latest_invoice: r.get("latest_invoice"),
        retry_at: r.get("retry_at"),
        retry_policy: from_json(&r.get::<String, _>("retry_policy"))?,
        metadata: from_json(&r.get::<String, _>("metadata"))?,
        next_action_at: r.get("next_action_at"),
        created: r.get("created_at"),
        updated: r.get("updated_at"),
        version: r.get("version"),
    })
}

fn invoice_from_row(r: &AnyRow) -> Result<Invoice> {
    let status: String = r.get("status");
    let currency: String = r.get("currency");
    Ok(Invoice {
        id: r.get("id"),
        merchant_id: r.get("merchant_id"),
        livemode: r.get::<i64, _>("livemode") != 0,
        customer: r.get("customer_id"),
        subscription: r.get("subscription_id"),
        status: InvoiceStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("bad invoice status {status}")))?,
        currency: parse::<Currency>(&currency, "currency")?,
        amount_due: r.get("amount_due"),
        amount_paid: r.get("amount_paid"),
        lines: from_json(&r.get::<String, _>("lines"))?,
        period_start: r.get("period_start"),
        period_end: r.get("period_end"),
        billing_reason: r.get("billing_reason"),
        attempt_count: r.get("attempt_count"),
        payment_intent: r.get("payment_intent"),
        created: r.get("created_at"),
        paid_at: r.get("paid_at"),
        updated: r.get("updated_at"),
    })
}

fn clock_from_row(r: &AnyRow) -> TestClock {
    TestClock {
        id: r.get("id"),
        merchant_id: r.get("merchant_id"),
        livemode: r.get::<i64, _>("livemode") != 0,
        name: r.get("name"),
        frozen_time: r.get("frozen_time"),
        status: r.get("status"),
        created: r.get("created_at"),
    }
}

impl Store {
    pub async fn subscription(&self, scope: &Scope, id: &str) -> Result<Option<Subscription>> {
        let row = sqlx::query(&format!(
            "SELECT {SUB_COLUMNS} FROM (SELECT * FROM subscriptions WHERE id = $1 LIMIT 1) t WHERE merchant_id = $2 AND livemode = $3"
        ))
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(sub_from_row).transpose()
    }

    /// Newest first, optionally one customer's; `None` when the cursor is not one of them.
    pub async fn list_subscriptions(
        &self,
        scope: &Scope,
        customer: Option<&str>,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Option<Vec<Subscription>>> {
        let filter = customer.map(|c| ("customer_id", c));
        let rows = self
            .page_where(
                "subscriptions",
                SUB_COLUMNS,
                scope,
                filter,
                limit,
                starting_after,
            )
            .await?;
        rows.map(|rows| rows.iter().map(sub_from_row).collect())
            .transpose()
    }

    /// Ids of subscriptions on the wall clock with work due at `now` and no live lease, soonest
    /// first.
    pub async fn due_subscriptions(&self, now: i64, limit: i64) -> Result<Vec<(Scope, String)>> {
        let rows = sqlx::query(
            "SELECT merchant_id, livemode, id FROM subscriptions WHERE next_action_at <= $1 \
             AND test_clock IS NULL AND (leased_until IS NULL OR leased_until < $1) \
             ORDER BY next_action_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(|r| (scope_at(r, 0), r.get(2))).collect())
    }

    /// The subscription of a test clock with the soonest work due at or before `until`.
    pub async fn next_due_on_clock(
        &self,
        clock: &str,
        until: i64,
    ) -> Result<Option<(Scope, String, i64)>> {
        let row = sqlx::query(
            "SELECT merchant_id, livemode, id, next_action_at FROM subscriptions WHERE test_clock = $1 \
             AND next_action_at <= $2 ORDER BY next_action_at, id LIMIT 1",
        )
        .bind(clock)
        .bind(until)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| (scope_at(&r, 0), r.get(2), r.get(3))))
    }

    pub async fn invoice(&self, scope: &Scope, id: &str) -> Result<Option<Invoice>> {
        let row = sqlx::query(&format!(
            "SELECT {INVOICE_COLUMNS} FROM (SELECT * FROM invoices WHERE id = $1 LIMIT 1) t WHERE merchant_id = $2 AND livemode = $3"
        ))
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(invoice_from_row).transpose()
    }

    /// Newest first, optionally of one subscription or one customer.
    pub async fn list_invoices(
        &self,
        scope: &Scope,
        filter: Option<(&str, &str)>,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Option<Vec<Invoice>>> {
        let filter = match filter {
            Some(("subscription", v)) => Some(("subscription_id", v)),
            Some(("customer", v)) => Some(("customer_id", v)),
            Some(_) => return Ok(Some(Vec::new())),
            None => None,
        };
        let rows = self
            .page_where(
                "invoices",
                INVOICE_COLUMNS,
                scope,
                filter,
                limit,
                starting_after,
            )
            .await?;
        rows.map(|rows| rows.iter().map(invoice_from_row).collect())
            .transpose()
    }

    pub async fn test_clock(&self, scope: &Scope, id: &str) -> Result<Option<TestClock>> {
        let row = sqlx::query(&format!(
            "SELECT {CLOCK_COLUMNS} FROM (SELECT * FROM test_clocks WHERE id = $1 LIMIT 1) t WHERE merchant_id = $2 AND livemode = $3"
        ))
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.as_ref().map(clock_from_row))
    }

    pub async fn list_test_clocks(
        &self,
        scope: &Scope,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Option<Vec<TestClock>>> {
        let rows = self
            .page_where(
                "test_clocks",
                CLOCK_COLUMNS,
                scope,
                None,
                limit,
                starting_after,
            )
            .await?;
        Ok(rows.map(|rows| rows.iter().map(clock_from_row).collect()))
    }

    /// The test clock a customer is attached to, if any.
    /// The earliest held authorization of a customer on `clock` whose capture window ends at or
    /// before `until` (the clock's time): (merchant, intent, deadline).
    pub async fn next_authorization_expiry_on_clock(
        &self,
        clock: &str,
        until: i64,
    ) -> Result<Option<(Scope, String, i64)>> {
        let row = sqlx::query(
            "SELECT p.merchant_id, p.livemode, p.id, p.capture_before FROM payment_intents p \
             JOIN customers c ON c.id = p.customer_id AND c.merchant_id = p.merchant_id \
             AND c.livemode = p.livemode \
             WHERE c.test_clock = $1 AND p.status = 'requires_capture' \
             AND p.capture_before IS NOT NULL AND p.capture_before <= $2 \
             ORDER BY p.capture_before, p.id LIMIT 1",
        )
        .bind(clock)
        .bind(until)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| (scope_at(&r, 0), r.get(2), r.get(3))))
    }

    /// The time of the test clock `customer` is attached to, if any.
    pub async fn customer_clock_time(&self, scope: &Scope, customer: &str) -> Result<Option<i64>> {
        let row = sqlx::query(
            "SELECT t.frozen_time FROM customers c JOIN test_clocks t ON t.id = c.test_clock \
             WHERE c.id = $1 AND c.merchant_id = $2 AND c.livemode = $3",
        )
        .bind(customer)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| r.get(0)))
    }

    pub async fn customer_clock(&self, scope: &Scope, customer: &str) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT test_clock FROM (SELECT * FROM customers WHERE id = $1 LIMIT 1) t WHERE merchant_id = $2 AND livemode = $3",
        )
        .bind(customer)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.and_then(|r| r.get(0)))
    }
}

impl Tx {
    pub async fn insert_subscription(&mut self, s: &Subscription) -> Result<()> {
        let sql = format!(
            "INSERT INTO subscriptions ({SUB_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,\
             $11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27,$28,$29)"
        );
        sqlx::query(&sql)
            .bind(&s.id)
            .bind(&s.merchant_id)
            .bind(&s.customer)
            .bind(s.test_clock.clone())
            .bind(s.status.as_str())
            .bind(s.default_payment_method.clone())
            .bind(to_json(&s.items)?)
            .bind(s.currency.code())
            .bind(s.billing_cycle_anchor)
            .bind(s.cycle)
            .bind(s.current_period_start)
            .bind(s.current_period_end)
            .bind(s.trial_start)
            .bind(s.trial_end)
            .bind(i64::from(s.trial_will_end_sent))
            .bind(i64::from(s.cancel_at_period_end))
            .bind(s.canceled_at)
            .bind(s.ended_at)
            .bind(s.latest_invoice.clone())
            .bind(s.retry_at)
            .bind(to_json(&s.retry_policy)?)
            .bind(to_json(&s.metadata)?)
            .bind(s.next_action_at)
            .bind(None::<i64>)
            .bind(s.created)
            .bind(s.updated)
            .bind(s.version)
            .bind(s.cancel_at)
            .bind(i64::from(s.livemode))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn subscription(&mut self, scope: &Scope, id: &str) -> Result<Option<Subscription>> {
        let row = sqlx::query(&format!(
            "SELECT {SUB_COLUMNS} FROM (SELECT * FROM subscriptions WHERE id = $1 LIMIT 1) t WHERE merchant_id = $2 AND livemode = $3"
        ))
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&mut *self.tx)
        .await?;
        row.as_ref().map(sub_from_row).transpose()
    }

    /// Writes `s` if the stored row is still at `s.version`, bumps the version and sets the
    /// lease (`None` releases it). `Err(Conflict)` when another writer changed it first.
    pub async fn update_subscription(
        &mut self,
        s: &mut Subscription,
        leased_until: Option<i64>,
    ) -> Result<()> {
        let n = sqlx::query(
            "UPDATE subscriptions SET status = $1, default_payment_method = $2, items = $3, \
             billing_cycle_anchor = $4, cycle = $5, current_period_start = $6, \
             current_period_end = $7, trial_start = $8, trial_end = $9, \
             trial_will_end_sent = $10, cancel_at_period_end = $11, canceled_at = $12, \
             ended_at = $13, latest_invoice = $14, retry_at = $15, retry_policy = $16, \
             metadata = $17, next_action_at = $18, leased_until = $19, updated_at = $20, \
             cancel_at = $23, test_clock = $24, version = version + 1 \
             WHERE id = $21 AND version = $22",
        )
        .bind(s.status.as_str())
        .bind(s.default_payment_method.clone())
        .bind(to_json(&s.items)?)
        .bind(s.billing_cycle_anchor)
        .bind(s.cycle)
        .bind(s.current_period_start)
        .bind(s.current_period_end)
        .bind(s.trial_start)
        .bind(s.trial_end)
        .bind(i64::from(s.trial_will_end_sent))
        .bind(i64::from(s.cancel_at_period_end))
        .bind(s.canceled_at)
        .bind(s.ended_at)
        .bind(s.latest_invoice.clone())
        .bind(s.retry_at)
        .bind(to_json(&s.retry_policy)?)
        .bind(to_json(&s.metadata)?)
        .bind(s.next_action_at)
        .bind(leased_until)
        .bind(s.updated)
        .bind(&s.id)
        .bind(s.version)
        .bind(s.cancel_at)
        .bind(s.test_clock.clone())
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        if n != 1 {
            return Err(StoreError::Conflict);
        }
        s.version += 1;
        Ok(())
    }

    /// Leases the subscription to this process until `until` if it is still at `version` and no
    /// other process holds a live lease; false otherwise (someone else is on it).
    pub async fn claim_subscription(
        &mut self,
        id: &str,
        version: i64,
        now: i64,
        until: i64,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE subscriptions SET leased_until = $1, version = version + 1 \
             WHERE id = $2 AND version = $3 AND (leased_until IS NULL OR leased_until < $4)",
        )
        .bind(until)
        .bind(id)
        .bind(version)
        .bind(now)
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn insert_invoice(&mut self, i: &Invoice) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO invoices ({INVOICE_COLUMNS}) VALUES \
             ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)"
        ))
        .bind(&i.id)
        .bind(&i.merchant_id)
        .bind(&i.customer)
        .bind(&i.subscription)
        .bind(i.status.as_str())
        .bind(i.currency.code())
        .bind(i.amount_due)
        .bind(i.amount_paid)
        .bind(to_json(&i.lines)?)
        .bind(i.period_start)
        .bind(i.period_end)
        .bind(&i.billing_reason)
        .bind(i.attempt_count)
        .bind(i.payment_intent.clone())
        .bind(i.created)
        .bind(i.paid_at)
        .bind(i.updated)
        .bind(i64::from(i.livemode))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn invoice(&mut self, scope: &Scope, id: &str) -> Result<Option<Invoice>> {
        let row = sqlx::query(&format!(
            "SELECT {INVOICE_COLUMNS} FROM (SELECT * FROM invoices WHERE id = $1 LIMIT 1) t WHERE merchant_id = $2 AND livemode = $3"
        ))
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&mut *self.tx)
        .await?;
        row.as_ref().map(invoice_from_row).transpose()
    }

    pub async fn update_invoice(&mut self, i: &Invoice) -> Result<()> {
        sqlx::query(
            "UPDATE invoices SET status = $1, amount_paid = $2, attempt_count = $3, \
             payment_intent = $4, paid_at = $5, updated_at = $6 WHERE id = $7 AND merchant_id = $8 \
             AND livemode = $9",
        )
        .bind(i.status.as_str())
        .bind(i.amount_paid)
        .bind(i.attempt_count)
        .bind(i.payment_intent.clone())
        .bind(i.paid_at)
        .bind(i.updated)
        .bind(&i.id)
        .bind(&i.merchant_id)
        .bind(i64::from(i.livemode))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn insert_test_clock(&mut self, c: &TestClock) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO test_clocks ({CLOCK_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7)"
        ))
        .bind(&c.id)
        .bind(&c.merchant_id)
        .bind(c.name.clone())
        .bind(c.frozen_time)
        .bind(&c.status)
        .bind(c.created)
        .bind(i64::from(c.livemode))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Moves a clock from `from_status` to `status` at `frozen_time`; false when it was not in
    /// `from_status` (another advance holds it).
    pub async fn set_test_clock(
        &mut self,
        scope: &Scope,
        id: &str,
        from_status: &str,
        status: &str,
        frozen_time: i64,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE test_clocks SET status = $1, frozen_time = $2 \
             WHERE id = $3 AND merchant_id = $4 AND livemode = $6 AND status = $5",
        )
        .bind(status)
        .bind(frozen_time)
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(from_status)
        .bind(i64::from(scope.livemode))
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn delete_test_clock(&mut self, scope: &Scope, id: &str) -> Result<bool> {
        let n = sqlx::query(
            "DELETE FROM test_clocks WHERE id = $1 AND merchant_id = $2 AND livemode = $3",
        )
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn set_customer_clock(
        &mut self,
        scope: &Scope,
        customer: &str,
        clock: &str,
    ) -> Result<()> {
        sqlx::query("UPDATE customers SET test_clock = $1 WHERE id = $2 AND merchant_id = $3 AND livemode = $4")
            .bind(clock)
            .bind(customer)
            .bind(&scope.merchant_id)
            .bind(i64::from(scope.livemode))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}

impl TestClock {
    /// The merchant and mode this row belongs to.
    pub fn scope(&self) -> crate::Scope {
        crate::Scope {
            merchant_id: self.merchant_id.clone(),
            livemode: self.livemode,
        }
    }
}
