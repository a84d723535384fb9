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

mod api_keys;
mod audit;
mod billing;
mod branding;
mod customers;
mod dashboard_billing;
mod dashboard_payments;
mod delivery_log;
mod idempotency;
mod payment_methods;
mod payments;
mod paymentwall;
mod paymob;
mod paymob_keys;
mod processor_accounts;
mod purge;
mod pw_project_keys;
mod rows;
mod timeline;
mod users;
mod webhooks;

use std::str::FromStr;
use std::time::Duration;

use kassa_core::events::Event;
use kassa_core::intent::{PaymentIntent, Refund};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row, Transaction};

pub use api_keys::{ApiKeyMatch, ApiKeyRow};
pub use audit::AuditRecord;
pub use billing::TestClock;
pub use branding::{BrandingRow, Logo};
pub use dashboard_payments::{Face, PaymentFilter};
pub use delivery_log::{EndpointHealth, LogOutcome, Requeued, FAILING_CAP, HEALTH_WINDOW};
pub use kassa_core::scope::{Mode, Scope};
pub use paymentwall::{PwDeliveryConfirmation, PwOrder, PwProject, PwSubscription};
pub use paymob::{
    PmCardToken, PmIntegration, PmIntention, PmOrder, PmPlan, PmProfile, PmSubscription,
    PmTransaction,
};
pub use paymob_keys::PmCredentialColumn;
pub use processor_accounts::ProcessorAccount;
pub use purge::PurgeCounts;
pub use rows::*;
pub use timeline::HourStat;
pub use users::{DashboardSession, User, UserLink};

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

    /// The merchant, key kind (`secret` or `publishable`) and mode of an unrevoked, unexpired
    /// API key.
    pub async fn merchant_by_key_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<(Merchant, String, Mode)>> {
        Ok(self
            .api_key_by_hash(key_hash, now_ms())
            .await?
            .map(|k| (k.merchant, k.kind, k.mode)))
    }

    pub async fn merchant(&self, id: &str) -> Result<Option<Merchant>> {
        let row = sqlx::query("SELECT id, name, created_at FROM merchants WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|r| Merchant::from_row(&r)))
    }

    /// The scope's oldest unrevoked publishable key.
    pub async fn publishable_key(&self, scope: &Scope) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT display FROM api_keys WHERE merchant_id = $1 AND livemode = $2 \
             AND kind = 'publishable' AND revoked_at IS NULL ORDER BY created_at LIMIT 1",
        )
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| r.get::<String, _>(0)))
    }

    // ---- pages ----

    /// One page of a merchant's objects, newest first. `None` when `starting_after` names no
    /// object of this merchant.
    async fn page(
        &self,
        table: &str,
        columns: &str,
        scope: &Scope,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Option<Vec<AnyRow>>> {
        self.page_where(table, columns, scope, None, limit, starting_after)
            .await
    }

    /// [`Store::page`] of the objects whose column `filter.0` equals `filter.1` (when given);
    /// the cursor must be one of them. `filter.0` is a column name from Kassa's own code, never
    /// from a request.
    pub(crate) async fn page_where(
        &self,
        table: &str,
        columns: &str,
        scope: &Scope,
        filter: Option<(&str, &str)>,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Option<Vec<AnyRow>>> {
        // Placeholders are numbered, so the filter's comes last and is bound only when given.
        let cond =
            |n: u8| filter.map_or(String::new(), |(column, _)| format!(" AND {column} = ${n}"));
        let livemode = i64::from(scope.livemode);
        // With no cursor every row comes before (i64::MAX, "~"): ids are letters, digits and `_`.
        let (after_created, after_id) = match starting_after {
            None => (i64::MAX, "~".to_string()),
            Some(cursor) => {
                let sql = format!(
                    "SELECT created_at FROM {table} WHERE id = $1 AND merchant_id = $2 \
                     AND livemode = $3{}",
                    cond(4)
                );
                let mut q = sqlx::query(&sql)
                    .bind(cursor)
                    .bind(&scope.merchant_id)
                    .bind(livemode);
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
            "SELECT {columns} FROM {table} WHERE merchant_id = $1 AND livemode = $5 \
             AND (created_at < $2 OR (created_at = $2 AND id < $3)){} \
             ORDER BY created_at DESC, id DESC LIMIT $4",
            cond(6)
        );
        let mut q = sqlx::query(&sql)
            .bind(&scope.merchant_id)
            .bind(after_created)
            .bind(&after_id)
            .bind(limit)
            .bind(livemode);
        if let Some((_, value)) = filter {
            q = q.bind(value);
        }
        let rows = q.fetch_all(&self.reader).await?;
        Ok(Some(rows))
    }

    // ---- idempotency ----

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
    scope: &Scope,
    key: &str,
    status: u16,
    body: &str,
) -> Result<()>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    sqlx::query(
        "UPDATE idempotency_keys SET state = 'done', response_status = $1, response_body = $2 \
         WHERE merchant_id = $3 AND livemode = $5 AND idem_key = $4 AND state = 'in_progress'",
    )
    .bind(status as i64)
    .bind(body)
    .bind(&scope.merchant_id)
    .bind(key)
    .bind(i64::from(scope.livemode))
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

    /// Stores a new API key (by its hash) and returns the id it is named by.
    pub async fn insert_api_key(
        &mut self,
        scope: &Scope,
        key_hash: &str,
        kind: &str,
        display: &str,
        now: i64,
    ) -> Result<String> {
        let id = kassa_core::ids::new_id(kassa_core::ids::prefix::API_KEY);
        sqlx::query(
            "INSERT INTO api_keys (key_hash, merchant_id, kind, display, created_at, livemode, id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(key_hash)
        .bind(&scope.merchant_id)
        .bind(kind)
        .bind(display)
        .bind(now)
        .bind(i64::from(scope.livemode))
        .bind(&id)
        .execute(&mut *self.tx)
        .await?;
        Ok(id)
    }

    /// The transaction's connection, for the dialect modules of this crate.
    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

/// The scope in a row's columns `i` (merchant id) and `i + 1` (livemode).
fn scope_at(r: &AnyRow, i: usize) -> Scope {
    Scope {
        merchant_id: r.get(i),
        livemode: r.get::<i64, _>(i + 1) != 0,
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
