//! API keys as the dashboard manages them: listed by id, named, rolled with an expiry, revoked,
//! and marked when last used. Only a key's SHA-256 and a shown form (`sk_test_…abcd`) are kept.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Merchant, Mode, Result, Scope, Store, Tx};

const COLUMNS: &str = "id, key_hash, kind, display, name, created_at, expires_at, \
    last_used_at, revoked_at, livemode";

/// A key as listed (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub id: String,
    pub key_hash: String,
    /// `secret` or `publishable`.
    pub kind: String,
    pub display: String,
    pub name: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub livemode: bool,
}

impl ApiKeyRow {
    fn from_row(r: &AnyRow) -> Self {
        ApiKeyRow {
            id: r.get("id"),
            key_hash: r.get("key_hash"),
            kind: r.get("kind"),
            display: r.get("display"),
            name: r.get("name"),
            created_at: r.get("created_at"),
            expires_at: r.get("expires_at"),
            last_used_at: r.get("last_used_at"),
            revoked_at: r.get("revoked_at"),
            livemode: r.get::<i64, _>("livemode") != 0,
        }
    }

    /// Usable at `now`: not revoked and not past its expiry.
    pub fn is_active(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// Who a presented key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyMatch {
    pub merchant: Merchant,
    pub kind: String,
    pub mode: Mode,
    pub id: String,
    pub display: String,
    pub expires_at: Option<i64>,
}

impl Store {
    /// The owner of an unrevoked key that has not expired at `now`.
    pub async fn api_key_by_hash(&self, key_hash: &str, now: i64) -> Result<Option<ApiKeyMatch>> {
        let row = sqlx::query(
            "SELECT m.id, m.name, m.created_at, k.kind, k.livemode, k.id AS key_id, k.display, \
             k.expires_at FROM api_keys k JOIN merchants m ON m.id = k.merchant_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL \
             AND (k.expires_at IS NULL OR k.expires_at > $2)",
        )
        .bind(key_hash)
        .bind(now)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| ApiKeyMatch {
            merchant: Merchant::from_row(&r),
            kind: r.get("kind"),
            mode: Mode::from_livemode(r.get::<i64, _>("livemode") != 0),
            id: r.get("key_id"),
            display: r.get("display"),
            expires_at: r.get("expires_at"),
        }))
    }

    /// The scope's keys, newest first, revoked ones included.
    pub async fn api_keys(&self, scope: &Scope) -> Result<Vec<ApiKeyRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_keys WHERE merchant_id = $1 AND livemode = $2 \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(ApiKeyRow::from_row).collect())
    }

    pub async fn api_key(&self, scope: &Scope, id: &str) -> Result<Option<ApiKeyRow>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_keys WHERE id = $1 AND merchant_id = $2 AND livemode = $3"
        ))
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&self.writer)
        .await?;
        Ok(row.map(|r| ApiKeyRow::from_row(&r)))
    }

    /// Records that the key was used at `now` (the service calls this at most once per cache
    /// period per key, so it costs no write per request).
    pub async fn touch_api_key(&self, key_hash: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE key_hash = $2")
            .bind(now)
            .bind(key_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

impl Tx {
    pub async fn set_api_key_name(&mut self, id: &str, name: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE api_keys SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Sets when an active key stops working (rolling it); false when it is revoked, already
    /// expired, or not the scope's.
    pub async fn expire_api_key(
        &mut self,
        scope: &Scope,
        id: &str,
        at: i64,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_keys SET expires_at = $1 WHERE id = $2 AND merchant_id = $3 \
             AND livemode = $4 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $5)",
        )
        .bind(at)
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Revokes a key now; false when it was revoked already or is not the scope's.
    pub async fn revoke_api_key(&mut self, scope: &Scope, id: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND merchant_id = $3 \
             AND livemode = $4 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
