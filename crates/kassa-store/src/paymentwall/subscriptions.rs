//! Paymentwall subscriptions bought through signed links: their rows and queries. The orders that
//! paid them stay with the orders in the parent module.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Result, Store, Tx};

const SUBSCRIPTION_COLUMNS: &str = "id, project_id, merchant_id, initial_order_id, uid, status, \
    plan, phase, payments, failed_attempts, clock_offset_ms, is_test, created_at, updated_at, \
    version, subscription_id, livemode";

/// A subscription bought through a signed link: the Paymentwall face's fields of core
/// subscription `subscription_id` (none for one the old engine made before migration 0015).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PwSubscription {
    pub id: String,
    pub project_id: String,
    pub merchant_id: String,
    pub initial_order_id: String,
    pub uid: String,
    /// What the pingbacks said: `active`, `cancelled` (type 12; paid until its period's end),
    /// `expired` (13) or `failed` (14).
    pub status: String,
    /// The plan (JSON) as the link described it: trial and main product.
    pub plan: String,
    /// `trial` or `main`: which product the current period is.
    pub phase: String,
    /// Successful payments so far.
    pub payments: i64,
    /// Failed renewal attempts for the current period.
    pub failed_attempts: i64,
    /// Test clock: how far the merchant has moved this subscription's clock.
    pub clock_offset_ms: i64,
    pub is_test: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
    pub subscription_id: Option<String>,
    /// The mode of the order that started it (and of every renewal).
    pub livemode: bool,
}

impl PwSubscription {
    fn from_row(r: &AnyRow) -> Self {
        PwSubscription {
            id: r.get("id"),
            project_id: r.get("project_id"),
            merchant_id: r.get("merchant_id"),
            initial_order_id: r.get("initial_order_id"),
            uid: r.get("uid"),
            status: r.get("status"),
            plan: r.get("plan"),
            phase: r.get("phase"),
            payments: r.get("payments"),
            failed_attempts: r.get("failed_attempts"),
            clock_offset_ms: r.get("clock_offset_ms"),
            is_test: r.get::<i64, _>("is_test") != 0,
            created_at: r.get("created_at"),
            updated_at: r.get("updated_at"),
            version: r.get("version"),
            subscription_id: r.get("subscription_id"),
            livemode: r.get::<i64, _>("livemode") != 0,
        }
    }
}

impl Store {
    pub async fn pw_subscription(&self, id: &str) -> Result<Option<PwSubscription>> {
        let row = sqlx::query(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM pw_subscriptions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| PwSubscription::from_row(&r)))
    }

    /// The project's subscriptions in one mode.
    pub async fn pw_subscriptions_of_project(
        &self,
        project_id: &str,
        livemode: bool,
    ) -> Result<Vec<PwSubscription>> {
        let rows = sqlx::query(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM pw_subscriptions WHERE project_id = $1 \
             AND livemode = $2 ORDER BY created_at, id"
        ))
        .bind(project_id)
        .bind(i64::from(livemode))
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(PwSubscription::from_row).collect())
    }
}

impl Tx {
    pub async fn pw_subscription(&mut self, id: &str) -> Result<Option<PwSubscription>> {
        let row = sqlx::query(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM pw_subscriptions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.map(|r| PwSubscription::from_row(&r)))
    }

    /// The Paymentwall face of core subscription `id`, if it has one.
    pub async fn pw_subscription_of_core(&mut self, id: &str) -> Result<Option<PwSubscription>> {
        let row = sqlx::query(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM pw_subscriptions WHERE subscription_id = $1"
        ))
        .bind(id)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.map(|r| PwSubscription::from_row(&r)))
    }

    pub async fn insert_pw_subscription(&mut self, s: &PwSubscription) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO pw_subscriptions ({SUBSCRIPTION_COLUMNS}) VALUES \
             ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)"
        ))
        .bind(&s.id)
        .bind(&s.project_id)
        .bind(&s.merchant_id)
        .bind(&s.initial_order_id)
        .bind(&s.uid)
        .bind(&s.status)
        .bind(&s.plan)
        .bind(&s.phase)
        .bind(s.payments)
        .bind(s.failed_attempts)
        .bind(s.clock_offset_ms)
        .bind(i64::from(s.is_test))
        .bind(s.created_at)
        .bind(s.updated_at)
        .bind(s.version)
        .bind(s.subscription_id.clone())
        .bind(i64::from(s.livemode))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Writes a subscription changed from the version that was read. Fails with `Conflict`
    /// when someone else changed it meanwhile.
    pub async fn update_pw_subscription(&mut self, s: &mut PwSubscription) -> Result<()> {
        let n = sqlx::query(
            "UPDATE pw_subscriptions SET status = $1, phase = $2, payments = $3, \
             failed_attempts = $4, clock_offset_ms = $5, updated_at = $6, version = version + 1 \
             WHERE id = $7 AND version = $8",
        )
        .bind(&s.status)
        .bind(&s.phase)
        .bind(s.payments)
        .bind(s.failed_attempts)
        .bind(s.clock_offset_ms)
        .bind(s.updated_at)
        .bind(&s.id)
        .bind(s.version)
        .execute(self.conn())
        .await?
        .rows_affected();
        if n != 1 {
            return Err(crate::StoreError::Conflict);
        }
        s.version += 1;
        Ok(())
    }
}
