//! Storage behind one interface for SQLite (embedded default) and PostgreSQL (many nodes).
//!
//! Invariants this module keeps:
//! - every state change is written with its event and the deliveries it causes in one
//!   transaction ([`Tx`]);
//! - an intent is only written from the version that was read (optimistic concurrency), and a
//!   refund only raises `amount_refunded` while it stays within `amount_received`, enforced by the
//!   `UPDATE`'s own condition so concurrent requests cannot overshoot;
//! - background work is claimed with leases, so several processes can share one database.
//!
//! SQL is portable between the two backends (`$n` placeholders, `BIGINT`, `TEXT`); where they
//! differ (`FOR UPDATE SKIP LOCKED`) [`Backend`] says so. SQLite gets a single-connection writer
//! pool (SQLite admits one writer at a time anyway, and this avoids busy errors on lock upgrade)
//! and a separate reader pool over WAL.
#![forbid(unsafe_code)]

mod billing;
mod branding;
mod customers;
mod payment_methods;
mod paymentwall;
mod paymob;
mod rows;

use std::str::FromStr;
use std::time::Duration;

use kassa_core::events::Event;
use kassa_core::intent::{PaymentIntent, Refund};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row, Transaction};

pub use billing::TestClock;
pub use branding::{BrandingRow, Logo};
pub use paymentwall::{PwDeliveryConfirmation, PwOrder, PwProject, PwSubscription};
pub use paymob::{
    PmCardToken, PmIntegration, PmIntention, PmOrder, PmPlan, PmProfile, PmSubscription,
    PmTransaction,
};
pub use rows::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the object was changed by another request; retry")]
    Conflict,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("unsupported database URL (use sqlite://… or postgres://…)")]
    UnsupportedUrl,
}

impl StoreError {
    /// The database could not be reached or could not take the request now (connection lost
    /// or refused, pool exhausted, server shutting down, SQLite file locked or unwritable):
    /// the request may succeed if retried, and nothing of it was committed.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Db(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| unavailable_code(&code)),
            _ => false,
        }
    }
}

/// PostgreSQL SQLSTATEs and SQLite result codes that mean "not now" rather than "wrong".
fn unavailable_code(code: &str) -> bool {
    if let Ok(n) = code.parse::<i64>() {
        // SQLite primary codes: BUSY 5, LOCKED 6, READONLY 8, IOERR 10, FULL 13, CANTOPEN 14.
        return matches!(n & 0xff, 5 | 6 | 8 | 10 | 13 | 14);
    }
    // PostgreSQL: connection exceptions (08…), admin/crash shutdown and "cannot connect now"
    // (57P01–57P03), too many connections (53300), out of disk or memory (53100, 53200).
    code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "53300" | "53100" | "53200"
        )
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    writer: AnyPool,
    reader: AnyPool,
    backend: Backend,
    /// Seals stored idempotent responses (they may carry a secret shown once, such as a new
    /// webhook signing secret, that is otherwise kept only hashed or encrypted).
    responses: Option<std::sync::Arc<kassa_core::secret_box::SecretBox>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

/// The schema is portable SQL shared by both backends; a backend-specific directory is the place
/// for the first migration that cannot be.
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How long a query waits for a database connection by default.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Connects to `url` (`sqlite://path` or `postgres://…`). For SQLite the file and its
    /// parent directory are created when missing.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store> {
        Store::connect_with(url, max_connections, DEFAULT_ACQUIRE_TIMEOUT).await
    }

    /// [`Store::connect`], waiting at most `acquire_timeout` for a connection before a query
    /// fails as unavailable (also while the database cannot be reached at all).
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Store> {
        sqlx::any::install_default_drivers();
        if url.starts_with("sqlite:") {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or(path);
            if !path.is_empty() && path != ":memory:" {
                create_private_file(std::path::Path::new(path))?;
            }
            let url = if url.contains('?') {
                url.to_string()
            } else {
                format!("{url}?mode=rwc")
            };
            let writer = AnyPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(acquire_timeout)
                .connect(&url)
                .await?;
            let reader = AnyPoolOptions::new()
                .max_connections(max_connections.max(2))
                .acquire_timeout(acquire_timeout)
                .connect(&url)
                .await?;
            // sqlx already opens SQLite connections with WAL, foreign keys on and a busy
            // timeout; WAL is a property of the file, so make sure it holds before readers open.
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&writer)
                .await?;
            Ok(Store {
                writer,
                reader,
                backend: Backend::Sqlite,
                responses: None,
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = AnyPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(acquire_timeout)
                .connect(url)
                .await?;
            Ok(Store {
                writer: pool.clone(),
                reader: pool,
                backend: Backend::Postgres,
                responses: None,
            })
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn migrate(&self) -> Result<()> {
        MIGRATIONS.run(&self.writer).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    pub async fn begin(&self) -> Result<Tx> {
        Ok(Tx {
            tx: self.writer.begin().await?,
            backend: self.backend,
            responses: self.responses.clone(),
        })
    }

    /// Seals every idempotent response stored from now on with `sealer` (and opens them on
    /// replay), so the `idempotency_keys` table never holds a response in plain text.
    pub fn seal_idempotent_responses(mut self, sealer: kassa_core::secret_box::SecretBox) -> Store {
        self.responses = Some(std::sync::Arc::new(sealer));
        self
    }

    fn seal_response(&self, body: &str) -> String {
        seal_with(self.responses.as_deref(), body)
    }

    // ---- settings ----

    pub async fn setting(&self, name: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|r| r.get::<String, _>(0)))
    }

    // ---- merchants and keys ----

    pub async fn merchant_by_key_hash(&self, key_hash: &str) -> Result<Option<(Merchant, String)>> {
        let row = sqlx::query(
            "SELECT m.id, m.name, m.created_at, k.kind FROM api_keys k \
             JOIN merchants m ON m.id = k.merchant_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| (Merchant::from_row(&r), r.get::<String, _>("kind"))))
    }

    pub async fn merchant(&self, id: &str) -> Result<Option<Merchant>> {
        let row = sqlx::query("SELECT id, name, created_at FROM merchants WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|r| Merchant::from_row(&r)))
    }

    pub async fn publishable_key(&self, merchant_id: &str) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT display FROM api_keys WHERE merchant_id = $1 AND kind = 'publishable' \
             AND revoked_at IS NULL ORDER BY created_at LIMIT 1",
        )
        .bind(merchant_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| r.get::<String, _>(0)))
    }

    // ---- payment intents ----

    /// `(merchant, intent)` of authorizations held for a risk review whose verdict is due at
    /// `now`, the longest overdue first.
    pub async fn due_reviews(&self, now: i64, limit: i64) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT merchant_id, id FROM payment_intents WHERE review_at IS NOT NULL \
             AND review_at <= $1 AND status = 'requires_capture' ORDER BY review_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// `(merchant, intent)` of authorizations whose capture window has run out at `now`, the
    /// longest overdue first.
    pub async fn due_authorization_expiries(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT merchant_id, id FROM payment_intents WHERE capture_before IS NOT NULL \
             AND capture_before <= $1 AND status = 'requires_capture' \
             ORDER BY capture_before LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Intents whose offline payment (a voucher) stopped being payable at or before `now`,
    /// soonest first: (merchant, intent).
    pub async fn due_offline_expiries(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT merchant_id, id FROM payment_intents WHERE pay_before IS NOT NULL \
             AND pay_before <= $1 AND status = 'requires_action' ORDER BY pay_before LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub async fn intent(&self, merchant_id: &str, id: &str) -> Result<Option<PaymentIntent>> {
        let row = sqlx::query(&format!(
            "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE id = $1 AND merchant_id = $2"
        ))
        .bind(id)
        .bind(merchant_id)
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
        merchant_id: &str,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Option<Vec<PaymentIntent>>> {
        let rows = self
            .page(
                "payment_intents",
                INTENT_COLUMNS,
                merchant_id,
                limit,
                starting_after,
            )
            .await?;
        rows.map(|rows| rows.iter().map(intent_from_row).collect())
            .transpose()
    }

    /// One page of a merchant's objects, newest first. `None` when `starting_after` names no
    /// object of this merchant.
    async fn page(
        &self,
        table: &str,
        columns: &str,
        merchant_id: &str,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Option<Vec<AnyRow>>> {
        self.page_where(table, columns, merchant_id, None, limit, starting_after)
            .await
    }

    /// [`Store::page`] of the objects whose column `filter.0` equals `filter.1` (when given);
    /// the cursor must be one of them. `filter.0` is a column name from Kassa's own code, never
    /// from a request.
    pub(crate) async fn page_where(
        &self,
        table: &str,
        columns: &str,
        merchant_id: &str,
        filter: Option<(&str, &str)>,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Option<Vec<AnyRow>>> {
        // Placeholders are numbered, so the filter's comes last and is bound only when given.
        let cond =
            |n: u8| filter.map_or(String::new(), |(column, _)| format!(" AND {column} = ${n}"));
        // With no cursor every row comes before (i64::MAX, "~"): ids are letters, digits and `_`.
        let (after_created, after_id) = match starting_after {
            None => (i64::MAX, "~".to_string()),
            Some(cursor) => {
                let sql = format!(
                    "SELECT created_at FROM {table} WHERE id = $1 AND merchant_id = $2{}",
                    cond(3)
                );
                let mut q = sqlx::query(&sql).bind(cursor).bind(merchant_id);
                if let Some((_, value)) = filter {
                    q = q.bind(value);
                }
                let Some(anchor) = q.fetch_optional(&self.reader).await? else {
                    return Ok(None);
                };
                (anchor.get::<i64, _>(0), cursor.to_string())
            }
        };
        let sql = format!(
            "SELECT {columns} FROM {table} WHERE merchant_id = $1 \
             AND (created_at < $2 OR (created_at = $2 AND id < $3)){} \
             ORDER BY created_at DESC, id DESC LIMIT $4",
            cond(5)
        );
        let mut q = sqlx::query(&sql)
            .bind(merchant_id)
            .bind(after_created)
            .bind(&after_id)
            .bind(limit);
        if let Some((_, value)) = filter {
            q = q.bind(value);
        }
        let rows = q.fetch_all(&self.reader).await?;
        Ok(Some(rows))
    }

    pub async fn open_attempt(&self, intent_id: &str) -> Result<Option<PaymentAttempt>> {
        let row = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE payment_intent_id = $1 \
             AND status = 'requires_action' ORDER BY created_at DESC LIMIT 1"
        ))
        .bind(intent_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| PaymentAttempt::from_row(&r)))
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
        Ok(rows.iter().map(PaymentAttempt::from_row).collect())
    }

    pub async fn attempt(&self, id: &str) -> Result<Option<PaymentAttempt>> {
        let row = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| PaymentAttempt::from_row(&r)))
    }

    // ---- refunds ----

    pub async fn refund(&self, merchant_id: &str, id: &str) -> Result<Option<Refund>> {
        let row = sqlx::query(&format!(
            "SELECT {REFUND_COLUMNS} FROM refunds WHERE id = $1 AND merchant_id = $2"
        ))
        .bind(id)
        .bind(merchant_id)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| refund_from_row(&r)).transpose()
    }

    pub async fn list_refunds(
        &self,
        merchant_id: &str,
        limit: i64,
        starting_after: Option<&str>,
        payment_intent: Option<&str>,
    ) -> Result<Option<Vec<Refund>>> {
        if let Some(pi) = payment_intent {
            // Per-intent lists are short; filter a bounded page.
            let rows = sqlx::query(&format!(
                "SELECT {REFUND_COLUMNS} FROM refunds WHERE merchant_id = $1 \
                 AND payment_intent_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3"
            ))
            .bind(merchant_id)
            .bind(pi)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
            return rows
                .iter()
                .map(refund_from_row)
                .collect::<Result<_>>()
                .map(Some);
        }
        let rows = self
            .page(
                "refunds",
                REFUND_COLUMNS,
                merchant_id,
                limit,
                starting_after,
            )
            .await?;
        rows.map(|rows| rows.iter().map(refund_from_row).collect())
            .transpose()
    }

    // ---- events ----

    pub async fn event(&self, merchant_id: &str, id: &str) -> Result<Option<Event>> {
        let row = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE id = $1 AND merchant_id = $2"
        ))
        .bind(id)
        .bind(merchant_id)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| event_from_row(&r)).transpose()
    }

    pub async fn list_events(
        &self,
        merchant_id: &str,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Option<Vec<Event>>> {
        let rows = self
            .page("events", EVENT_COLUMNS, merchant_id, limit, starting_after)
            .await?;
        rows.map(|rows| rows.iter().map(event_from_row).collect())
            .transpose()
    }

    // ---- webhook endpoints ----

    pub async fn endpoint(&self, merchant_id: &str, id: &str) -> Result<Option<WebhookEndpoint>> {
        let row = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND merchant_id = $2 \
             AND status <> 'deleted'"
        ))
        .bind(id)
        .bind(merchant_id)
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

    pub async fn list_endpoints(&self, merchant_id: &str) -> Result<Vec<WebhookEndpoint>> {
        let rows = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE merchant_id = $1 \
             AND status <> 'deleted' ORDER BY created_at DESC, id DESC"
        ))
        .bind(merchant_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(WebhookEndpoint::from_row).collect()
    }

    // ---- deliveries ----

    pub async fn deliveries_for_event(
        &self,
        merchant_id: &str,
        event_id: &str,
    ) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE merchant_id = $1 AND event_id = $2 \
             ORDER BY created_at, id"
        ))
        .bind(merchant_id)
        .bind(event_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(Delivery::from_row).collect())
    }

    pub async fn delivery(&self, merchant_id: &str, id: &str) -> Result<Option<Delivery>> {
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1 AND merchant_id = $2"
        ))
        .bind(id)
        .bind(merchant_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| Delivery::from_row(&r)))
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
        Ok(rows.iter().map(Delivery::from_row).collect())
    }

    /// Records one attempt and schedules the next (or ends the delivery), only if `owner` still
    /// holds the lease. Returns false when the lease was lost (another worker owns it now).
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
        let updated = sqlx::query(
            "UPDATE deliveries SET status = $1, attempt_count = $2, \
             next_attempt_at = COALESCE($3, next_attempt_at), lease_owner = NULL, \
             lease_until = NULL, last_status_code = $4, updated_at = $5 \
             WHERE id = $6 AND lease_owner = $7",
        )
        .bind(status)
        .bind(attempt.attempt_number)
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
        insert_attempt(&mut tx, attempt).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records a manual resend's attempt without touching the automatic schedule, except that a
    /// success ends a delivery that was still pending or had given up.
    pub async fn record_manual_attempt(&self, attempt: &DeliveryAttempt, ok: bool) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        let n: i64 = sqlx::query(
            "SELECT CAST(COALESCE(MAX(attempt_number), 0) AS BIGINT) FROM delivery_attempts \
             WHERE delivery_id = $1",
        )
        .bind(&attempt.delivery_id)
        .fetch_one(&mut *tx)
        .await?
        .get(0);
        let mut attempt = attempt.clone();
        attempt.attempt_number = n + 1;
        insert_attempt(&mut tx, &attempt).await?;
        let status_sql = if ok {
            "UPDATE deliveries SET status = 'succeeded', lease_owner = NULL, lease_until = NULL, \
             attempt_count = $1, last_status_code = $2, updated_at = $3 WHERE id = $4"
        } else {
            "UPDATE deliveries SET attempt_count = $1, last_status_code = $2, updated_at = $3 \
             WHERE id = $4"
        };
        sqlx::query(status_sql)
            .bind(attempt.attempt_number)
            .bind(attempt.status_code)
            .bind(attempt.started_at)
            .bind(&attempt.delivery_id)
            .execute(&mut *tx)
            .await?;
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

    // ---- idempotency ----

    /// Starts (or joins) the request under an idempotency key.
    pub async fn idempotency_begin(
        &self,
        merchant_id: &str,
        key: &str,
        request_hash: &str,
        now: i64,
        lock_ms: i64,
        retention_ms: i64,
    ) -> Result<IdemBegin> {
        for _ in 0..3 {
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (merchant_id, idem_key, request_hash, state, \
                 locked_until, created_at) VALUES ($1, $2, $3, 'in_progress', $4, $5) \
                 ON CONFLICT (merchant_id, idem_key) DO NOTHING",
            )
            .bind(merchant_id)
            .bind(key)
            .bind(request_hash)
            .bind(now + lock_ms)
            .bind(now)
            .execute(&self.writer)
            .await?
            .rows_affected();
            if inserted == 1 {
                return Ok(IdemBegin::Proceed);
            }
            let Some(row) = sqlx::query(
                "SELECT request_hash, state, response_status, response_body, locked_until, \
                 created_at FROM idempotency_keys WHERE merchant_id = $1 AND idem_key = $2",
            )
            .bind(merchant_id)
            .bind(key)
            .fetch_optional(&self.writer)
            .await?
            else {
                continue;
            };
            let created: i64 = row.get("created_at");
            if created < now - retention_ms {
                sqlx::query(
                    "DELETE FROM idempotency_keys WHERE merchant_id = $1 AND idem_key = $2 \
                     AND created_at = $3",
                )
                .bind(merchant_id)
                .bind(key)
                .bind(created)
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
                 AND idem_key = $3 AND state = 'in_progress' AND locked_until = $4",
            )
            .bind(now + lock_ms)
            .bind(merchant_id)
            .bind(key)
            .bind(locked_until)
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
        merchant_id: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<()> {
        let body = self.seal_response(body);
        complete_idem(&self.writer, merchant_id, key, status, &body).await
    }

    /// A stored response as it was sent: opened when sealed; a response stored before sealing
    /// was switched on is returned as it is.
    fn open_response(&self, stored: String) -> Result<String> {
        match self.responses.as_deref() {
            Some(b) if kassa_core::secret_box::SecretBox::looks_sealed(&stored) => b
                .open(&stored)
                .ok_or_else(|| {
                    StoreError::Corrupt(
                        "a stored idempotent response cannot be opened (was the master key changed?)"
                            .into(),
                    )
                }),
            _ => Ok(stored),
        }
    }

    /// Forgets a key whose request failed without effect, so the client may retry it.
    pub async fn idempotency_release(&self, merchant_id: &str, key: &str) -> Result<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE merchant_id = $1 AND idem_key = $2 \
             AND state = 'in_progress'",
        )
        .bind(merchant_id)
        .bind(key)
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

/// Creates the SQLite database file (and its directory) readable by the owner only; SQLite
/// gives the `-wal` and `-shm` files it creates next to it the database file's permissions.
/// An existing file is narrowed to the owner too.
fn create_private_file(path: &std::path::Path) -> Result<()> {
    let fail = |what: &std::path::Path, e: std::io::Error| {
        StoreError::Corrupt(format!("cannot create {}: {e}", what.display()))
    };
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() && !parent.exists() {
            let mut dir = std::fs::DirBuilder::new();
            dir.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
            dir.create(parent).map_err(|e| fail(parent, e))?;
        }
    }
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    file.open(path).map_err(|e| fail(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", "-shm"] {
            let p = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            if p.exists() {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| fail(&p, e))?;
            }
        }
    }
    Ok(())
}

fn seal_with(sealer: Option<&kassa_core::secret_box::SecretBox>, body: &str) -> String {
    match sealer {
        Some(b) => b.seal(body),
        None => body.to_string(),
    }
}

async fn complete_idem<'e, E>(
    exec: E,
    merchant_id: &str,
    key: &str,
    status: u16,
    body: &str,
) -> Result<()>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    sqlx::query(
        "UPDATE idempotency_keys SET state = 'done', response_status = $1, response_body = $2 \
         WHERE merchant_id = $3 AND idem_key = $4 AND state = 'in_progress'",
    )
    .bind(status as i64)
    .bind(body)
    .bind(merchant_id)
    .bind(key)
    .execute(exec)
    .await?;
    Ok(())
}

async fn insert_attempt(tx: &mut Transaction<'static, Any>, a: &DeliveryAttempt) -> Result<()> {
    sqlx::query(
        "INSERT INTO delivery_attempts (id, delivery_id, attempt_number, trigger, started_at, \
         status_code, latency_ms, response_excerpt, error) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&a.id)
    .bind(&a.delivery_id)
    .bind(a.attempt_number)
    .bind(&a.trigger)
    .bind(a.started_at)
    .bind(a.status_code)
    .bind(a.latency_ms)
    .bind(&a.response_excerpt)
    .bind(&a.error)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdemBegin {
    Proceed,
    Replay { status: u16, body: String },
    Mismatch,
    InProgress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Succeeded,
    Retry { at: i64 },
    GaveUp,
}

/// One write transaction. Dropping it without [`Tx::commit`] rolls back.
pub struct Tx {
    tx: Transaction<'static, Any>,
    backend: Backend,
    responses: Option<std::sync::Arc<kassa_core::secret_box::SecretBox>>,
}

impl Tx {
    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }

    pub async fn put_setting(&mut self, name: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn insert_merchant(&mut self, m: &Merchant) -> Result<()> {
        sqlx::query("INSERT INTO merchants (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&m.id)
            .bind(&m.name)
            .bind(m.created_at)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn insert_api_key(
        &mut self,
        merchant_id: &str,
        key_hash: &str,
        kind: &str,
        display: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_keys (key_hash, merchant_id, kind, display, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(key_hash)
        .bind(merchant_id)
        .bind(kind)
        .bind(display)
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn insert_intent(&mut self, pi: &PaymentIntent) -> Result<()> {
        let sql = format!(
            "INSERT INTO payment_intents ({INTENT_COLUMNS}) VALUES \
             ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27,$28,$29,$30,$31,$32)"
        );
        bind_intent(sqlx::query(&sql), pi)?
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Reads an intent inside the transaction.
    pub async fn intent(&mut self, merchant_id: &str, id: &str) -> Result<Option<PaymentIntent>> {
        let row = sqlx::query(&format!(
            "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE id = $1 AND merchant_id = $2"
        ))
        .bind(id)
        .bind(merchant_id)
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
             review_at = $18, setup_future_usage = $19, pay_before = $20 \
             WHERE id = $15 AND version = $16",
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
        .bind(pi.pay_before);
        let n = q.execute(&mut *self.tx).await?.rows_affected();
        if n != 1 {
            return Err(StoreError::Conflict);
        }
        pi.version += 1;
        Ok(())
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
        .bind(&a.status)
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
    pub async fn update_attempt(&mut self, a: &PaymentAttempt, from: &str) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE payment_attempts SET status = $1, payment_method = $2, processor_ref = $3, \
             challenge_state = $4, error = $5, updated_at = $6 WHERE id = $7 AND status = $8",
        )
        .bind(&a.status)
        .bind(a.payment_method.clone())
        .bind(a.processor_ref.clone())
        .bind(a.challenge_state.clone())
        .bind(a.error.clone())
        .bind(a.updated_at)
        .bind(&a.id)
        .bind(from)
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn insert_refund(&mut self, r: &Refund) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO refunds ({REFUND_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)"
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
             event_id, status, attempt_count, next_attempt_at, created_at, updated_at) \
             SELECT 'msg_' || $7 || SUBSTR(id, 4), merchant_id, 'webhook', id, $1, 'pending', \
             0, $6, $6, $6 FROM webhook_endpoints \
             WHERE merchant_id = $2 AND status = 'enabled' \
             AND (enabled_events LIKE '%\"*\"%' OR enabled_events LIKE $8 ESCAPE '\\')";
        const EVENT: &str =
            "INSERT INTO events (id, merchant_id, type, object_id, data, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)";
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
        };
        match self.backend {
            Backend::Postgres => {
                let sql = format!("WITH ev AS ({EVENT}) {QUEUE}");
                bind(sql.as_str()).execute(&mut *self.tx).await?;
            }
            Backend::Sqlite => {
                sqlx::query(EVENT)
                    .bind(&event.id)
                    .bind(&event.merchant_id)
                    .bind(event.event_type.as_str())
                    .bind(object_id)
                    .bind(&data)
                    .bind(event.created)
                    .execute(&mut *self.tx)
                    .await?;
                bind(QUEUE).execute(&mut *self.tx).await?;
            }
        }
        Ok(())
    }

    /// Queues a delivery for the workers.
    pub async fn insert_delivery(
        &mut self,
        merchant_id: &str,
        channel: &str,
        endpoint_id: &str,
        event_id: &str,
        now: i64,
    ) -> Result<String> {
        self.insert_delivery_with_status(
            merchant_id,
            channel,
            endpoint_id,
            event_id,
            now,
            "pending",
        )
        .await
    }

    /// A delivery made for a manual resend only: not pending, so no worker picks it up.
    pub async fn insert_manual_delivery(
        &mut self,
        merchant_id: &str,
        channel: &str,
        endpoint_id: &str,
        event_id: &str,
        now: i64,
    ) -> Result<String> {
        self.insert_delivery_with_status(merchant_id, channel, endpoint_id, event_id, now, "manual")
            .await
    }

    /// Queues a notification whose request is rendered now (`request_url`), so every retry
    /// sends it byte for byte. `target_id` names what it goes to (e.g. a Paymentwall project).
    pub async fn insert_request_delivery(
        &mut self,
        merchant_id: &str,
        channel: &str,
        target_id: &str,
        event_id: &str,
        request_url: &str,
        now: i64,
    ) -> Result<String> {
        self.insert_delivery_row(
            merchant_id,
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
        merchant_id: &str,
        channel: &str,
        target_id: &str,
        event_id: &str,
        request_url: &str,
        request_body: &str,
        now: i64,
    ) -> Result<String> {
        self.insert_delivery_row(
            merchant_id,
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
        merchant_id: &str,
        channel: &str,
        endpoint_id: &str,
        event_id: &str,
        now: i64,
        status: &str,
    ) -> Result<String> {
        self.insert_delivery_row(
            merchant_id,
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
        merchant_id: &str,
        channel: &str,
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
             attempt_count, next_attempt_at, created_at, updated_at, request_url, request_body) \
             VALUES ($1, $2, $3, $4, $5, $7, 0, $6, $6, $6, $8, $9)",
        )
        .bind(&id)
        .bind(merchant_id)
        .bind(channel)
        .bind(endpoint_id)
        .bind(event_id)
        .bind(now)
        .bind(status)
        .bind(request_url)
        .bind(request_body)
        .execute(&mut *self.tx)
        .await?;
        Ok(id)
    }

    /// An attempt as this transaction sees it (including its own uncommitted writes).
    pub async fn attempt(&mut self, id: &str) -> Result<Option<PaymentAttempt>> {
        let row = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(row.map(|r| PaymentAttempt::from_row(&r)))
    }

    /// The transaction's connection, for the dialect modules of this crate.
    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    /// How many webhook endpoints a merchant has (not counting deleted ones).
    pub async fn count_endpoints(&mut self, merchant_id: &str) -> Result<i64> {
        let row = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM webhook_endpoints WHERE merchant_id = $1 \
             AND status <> 'deleted'",
        )
        .bind(merchant_id)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(row.get(0))
    }

    pub async fn insert_endpoint(&mut self, ep: &WebhookEndpoint) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
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
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn update_endpoint(&mut self, ep: &WebhookEndpoint) -> Result<()> {
        sqlx::query(
            "UPDATE webhook_endpoints SET url = $1, description = $2, enabled_events = $3, \
             secret_enc = $4, previous_secret_enc = $5, previous_secret_expires_at = $6, \
             status = $7 WHERE id = $8 AND merchant_id = $9",
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

    /// Marks the idempotency key done with this response, in the effect's own transaction.
    pub async fn complete_idempotency(
        &mut self,
        merchant_id: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<()> {
        let body = seal_with(self.responses.as_deref(), body);
        complete_idem(&mut *self.tx, merchant_id, key, status, &body).await
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn opt_json<T: serde::Serialize>(v: &Option<T>) -> Result<Option<String>> {
    v.as_ref().map(to_json).transpose()
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn parse<T: FromStr>(s: &str, what: &str) -> Result<T> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("bad {what}: {s}")))
}

#[cfg(test)]
mod tests;
