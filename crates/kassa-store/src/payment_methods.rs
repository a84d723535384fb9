//! Saved payment method rows.

use kassa_core::payment_method::{PaymentMethod, SetupFutureUsage};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{from_json, to_json, Result, Scope, Store, StoreError, Tx};

const COLUMNS: &str = "id, merchant_id, customer_id, kind, details, processor_ref, \
    source_payment, usage, created_at, detached_at, livemode";

fn from_row(r: &AnyRow) -> Result<PaymentMethod> {
    let usage: String = r.get("usage");
    Ok(PaymentMethod {
        id: r.get("id"),
        merchant_id: r.get("merchant_id"),
        livemode: r.get::<i64, _>("livemode") != 0,
        customer: r.get("customer_id"),
        kind: r.get("kind"),
        details: from_json(&r.get::<String, _>("details"))?,
        processor_ref: r.get("processor_ref"),
        source_payment: r.get("source_payment"),
        usage: SetupFutureUsage::parse(&usage)
            .ok_or_else(|| StoreError::Corrupt(format!("bad payment method usage {usage}")))?,
        created: r.get("created_at"),
        detached_at: r.get("detached_at"),
    })
}

impl Store {
    pub async fn payment_method(&self, scope: &Scope, id: &str) -> Result<Option<PaymentMethod>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM (SELECT * FROM payment_methods WHERE id = $1 LIMIT 1) t WHERE merchant_id = $2 AND livemode = $3"
        ))
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The methods attached to a customer, newest first, `limit` at most, after the method
    /// `starting_after` (keyset pagination). `None` when the cursor is not one of them.
    pub async fn customer_payment_methods(
        &self,
        scope: &Scope,
        customer_id: &str,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Option<Vec<PaymentMethod>>> {
        // With no cursor every row comes before (i64::MAX, "~"): ids are letters, digits and `_`.
        let (after_created, after_id) = match starting_after {
            None => (i64::MAX, "~".to_string()),
            Some(cursor) => {
                let anchor = sqlx::query(
                    "SELECT created_at FROM payment_methods \
                     WHERE id = $1 AND merchant_id = $2 AND livemode = $4 AND customer_id = $3",
                )
                .bind(cursor)
                .bind(&scope.merchant_id)
                .bind(customer_id)
                .bind(i64::from(scope.livemode))
                .fetch_optional(&self.reader)
                .await?;
                let Some(anchor) = anchor else {
                    return Ok(None);
                };
                (anchor.get::<i64, _>(0), cursor.to_string())
            }
        };
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM payment_methods WHERE merchant_id = $1 AND livemode = $6 AND customer_id = $2 \
             AND (created_at < $3 OR (created_at = $3 AND id < $4)) \
             ORDER BY created_at DESC, id DESC LIMIT $5"
        ))
        .bind(&scope.merchant_id)
        .bind(customer_id)
        .bind(after_created)
        .bind(&after_id)
        .bind(limit)
        .bind(i64::from(scope.livemode))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(from_row).collect::<Result<_>>().map(Some)
    }
}

impl Tx {
    pub async fn insert_payment_method(&mut self, m: &PaymentMethod) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO payment_methods ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
        ))
        .bind(&m.id)
        .bind(&m.merchant_id)
        .bind(m.customer.clone())
        .bind(&m.kind)
        .bind(to_json(&m.details)?)
        .bind(&m.processor_ref)
        .bind(m.source_payment.clone())
        .bind(m.usage.as_str())
        .bind(m.created)
        .bind(m.detached_at)
        .bind(i64::from(m.livemode))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn payment_method(
        &mut self,
        scope: &Scope,
        id: &str,
    ) -> Result<Option<PaymentMethod>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM (SELECT * FROM payment_methods WHERE id = $1 LIMIT 1) t WHERE merchant_id = $2 AND livemode = $3"
        ))
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&mut *self.tx)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Detaches the method from its customer for good; false when it was not attached (already
    /// detached, or no such method), so only one request can detach it.
    pub async fn detach_payment_method(
        &mut self,
        scope: &Scope,
        id: &str,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE payment_methods SET customer_id = NULL, detached_at = $1 \
             WHERE id = $2 AND merchant_id = $3 AND livemode = $4 AND customer_id IS NOT NULL",
        )
        .bind(now)
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every method still attached to the customer, oldest first.
    pub async fn attached_payment_methods(
        &mut self,
        scope: &Scope,
        customer_id: &str,
    ) -> Result<Vec<PaymentMethod>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM payment_methods WHERE merchant_id = $1 AND livemode = $3 AND customer_id = $2 \
             ORDER BY created_at, id"
        ))
        .bind(&scope.merchant_id)
        .bind(customer_id)
        .bind(i64::from(scope.livemode))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(from_row).collect()
    }
}
