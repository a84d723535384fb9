//! Processor accounts: a connector and its sealed credentials, per merchant and mode.

use sqlx::any::AnyRow;
use sqlx::Row;

use kassa_core::intent::Refund;

use crate::{
    refund_from_row, PaymentAttempt, Result, Scope, Store, StoreError, Tx, ATTEMPT_COLUMNS,
    REFUND_COLUMNS,
};

const COLUMNS: &str = "id, merchant_id, livemode, connector, credentials_enc, display, status, \
    created_at, removed_at";

/// A processor account as stored. `credentials_enc` is sealed under the master key; only the
/// service opens it, to build the processor.
#[derive(Clone, PartialEq, Eq)]
pub struct ProcessorAccount {
    pub id: String,
    pub merchant_id: String,
    pub livemode: bool,
    /// The connector's name, e.g. `stripe`.
    pub connector: String,
    pub credentials_enc: String,
    /// What may be shown of the credentials (a JSON object of field → shown value).
    pub display: String,
    /// `active` or `removed`.
    pub status: String,
    pub created_at: i64,
    pub removed_at: Option<i64>,
}

impl std::fmt::Debug for ProcessorAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessorAccount")
            .field("id", &self.id)
            .field("connector", &self.connector)
            .field("livemode", &self.livemode)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl ProcessorAccount {
    /// The merchant and mode this account serves.
    pub fn scope(&self) -> Scope {
        Scope {
            merchant_id: self.merchant_id.clone(),
            livemode: self.livemode,
        }
    }

    fn from_row(r: &AnyRow) -> Self {
        ProcessorAccount {
            id: r.get("id"),
            merchant_id: r.get("merchant_id"),
            livemode: r.get::<i64, _>("livemode") != 0,
            connector: r.get("connector"),
            credentials_enc: r.get("credentials_enc"),
            display: r.get("display"),
            status: r.get("status"),
            created_at: r.get("created_at"),
            removed_at: r.get("removed_at"),
        }
    }
}

impl Store {
    /// The scope's active account, if any.
    pub async fn active_processor_account(
        &self,
        scope: &Scope,
    ) -> Result<Option<ProcessorAccount>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM processor_accounts WHERE merchant_id = $1 AND livemode = $2 \
             AND status = 'active'"
        ))
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.as_ref().map(ProcessorAccount::from_row))
    }

    /// An account of the scope, active or removed.
    pub async fn processor_account(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<Option<ProcessorAccount>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM processor_accounts WHERE id = $1 AND merchant_id = $2 \
             AND livemode = $3"
        ))
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.as_ref().map(ProcessorAccount::from_row))
    }

    /// An account by id alone, for the processor's webhooks (the id is in the URL the
    /// merchant gave the processor; the connector verifies the request).
    pub async fn processor_account_by_id(&self, id: &str) -> Result<Option<ProcessorAccount>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM processor_accounts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.as_ref().map(ProcessorAccount::from_row))
    }

    /// The scope's accounts, newest first (removed ones included).
    pub async fn processor_accounts(&self, scope: &Scope) -> Result<Vec<ProcessorAccount>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM processor_accounts WHERE merchant_id = $1 AND livemode = $2 \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(ProcessorAccount::from_row).collect())
    }
}

impl Store {
    /// What a processor webhook names: the newest attempt the processor gave `processor_ref`
    /// (a payment it asked a challenge for, or whose answer came), or the attempt `attempt_id`
    /// (echoed by the processor, for an attempt whose answer was lost).
    pub async fn attempt_for_processor(
        &self,
        processor_ref: &str,
        attempt_id: Option<&str>,
    ) -> Result<Option<PaymentAttempt>> {
        let row = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE processor_ref = $1 \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        ))
        .bind(processor_ref)
        .fetch_optional(&self.reader)
        .await?;
        if let Some(r) = row {
            return PaymentAttempt::from_row(&r).map(Some);
        }
        match attempt_id {
            Some(id) => self.attempt(id).await,
            None => Ok(None),
        }
    }

    /// The scope's refund the processor gave `refund_ref`.
    pub async fn refund_by_processor_ref(
        &self,
        scope: &Scope,
        refund_ref: &str,
    ) -> Result<Option<Refund>> {
        let row = sqlx::query(&format!(
            "SELECT {REFUND_COLUMNS} FROM refunds WHERE processor_ref = $1 AND merchant_id = $2 \
             AND livemode = $3"
        ))
        .bind(refund_ref)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| refund_from_row(&r)).transpose()
    }
}

impl Tx {
    /// Moves a refund that answered pending (it has the processor's reference) to its final
    /// `status`; false when it was no longer pending (already settled).
    pub async fn settle_pending_refund(&mut self, r: &Refund) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE refunds SET status = $1 WHERE id = $2 AND status = 'pending' \
             AND processor_ref IS NOT NULL",
        )
        .bind(r.status.as_str())
        .bind(&r.id)
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Writes a new active account. `Err(Conflict)` when the scope already has one.
    pub async fn insert_processor_account(&mut self, a: &ProcessorAccount) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO processor_accounts ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
        ))
        .bind(&a.id)
        .bind(&a.merchant_id)
        .bind(i64::from(a.livemode))
        .bind(&a.connector)
        .bind(&a.credentials_enc)
        .bind(&a.display)
        .bind(&a.status)
        .bind(a.created_at)
        .bind(a.removed_at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict,
            _ => StoreError::Db(e),
        })?;
        Ok(())
    }

    /// Marks the scope's account removed; false when it was not active.
    pub async fn remove_processor_account(
        &mut self,
        scope: &Scope,
        id: &str,
        now: i64,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE processor_accounts SET status = 'removed', removed_at = $1 \
             WHERE id = $2 AND merchant_id = $3 AND livemode = $4 AND status = 'active'",
        )
        .bind(now)
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}
