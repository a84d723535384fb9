//! Dashboard users, their single-use links and recovery codes, sessions and failed logins.
//! Secrets are never stored here in the clear: passwords as Argon2id strings, TOTP secrets
//! sealed, link tokens, session tokens and recovery codes as SHA-256.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Result, Store, Tx};

const USER_COLUMNS: &str = "id, merchant_id, email, role, status, password_hash, \
    totp_secret_enc, totp_enabled_at, totp_last_step, created_at, updated_at";

#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub merchant_id: String,
    /// Lower-cased.
    pub email: String,
    pub role: String,
    /// `invited` (no password yet), `active` or `disabled`.
    pub status: String,
    pub password_hash: Option<String>,
    pub totp_secret_enc: Option<String>,
    pub totp_enabled_at: Option<i64>,
    pub totp_last_step: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("merchant_id", &self.merchant_id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl User {
    fn from_row(r: &AnyRow) -> Self {
        User {
            id: r.get("id"),
            merchant_id: r.get("merchant_id"),
            email: r.get("email"),
            role: r.get("role"),
            status: r.get("status"),
            password_hash: r.get("password_hash"),
            totp_secret_enc: r.get("totp_secret_enc"),
            totp_enabled_at: r.get("totp_enabled_at"),
            totp_last_step: r.get("totp_last_step"),
            created_at: r.get("created_at"),
            updated_at: r.get("updated_at"),
        }
    }

    /// True once the user has a confirmed authenticator.
    pub fn has_totp(&self) -> bool {
        self.totp_enabled_at.is_some()
    }
}

const SESSION_COLUMNS: &str = "id, token_hash, user_id, second_factor, csrf_secret, ip, \
    user_agent, created_at, last_seen_at, expires_at, reauth_at, revoked_at";

#[derive(Clone, PartialEq, Eq)]
pub struct DashboardSession {
    pub id: String,
    pub token_hash: String,
    pub user_id: String,
    /// False while a user with an authenticator has given only the password.
    pub second_factor: bool,
    pub csrf_secret: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// Absolute expiry.
    pub expires_at: i64,
    pub reauth_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl std::fmt::Debug for DashboardSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DashboardSession")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("second_factor", &self.second_factor)
            .finish_non_exhaustive()
    }
}

impl DashboardSession {
    fn from_row(r: &AnyRow) -> Self {
        DashboardSession {
            id: r.get("id"),
            token_hash: r.get("token_hash"),
            user_id: r.get("user_id"),
            second_factor: r.get::<i64, _>("second_factor") != 0,
            csrf_secret: r.get("csrf_secret"),
            ip: r.get("ip"),
            user_agent: r.get("user_agent"),
            created_at: r.get("created_at"),
            last_seen_at: r.get("last_seen_at"),
            expires_at: r.get("expires_at"),
            reauth_at: r.get("reauth_at"),
            revoked_at: r.get("revoked_at"),
        }
    }
}

/// A single-use link as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserLink {
    pub user_id: String,
    pub purpose: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl Store {
    pub async fn user(&self, id: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.writer)
            .await?;
        Ok(row.map(|r| User::from_row(&r)))
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.writer)
        .await?;
        Ok(row.map(|r| User::from_row(&r)))
    }

    /// A merchant's users, oldest first.
    pub async fn users_of(&self, merchant_id: &str) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE merchant_id = $1 ORDER BY created_at, id"
        ))
        .bind(merchant_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(User::from_row).collect())
    }

    /// The link with this token hash, used or not.
    pub async fn user_link(&self, token_hash: &str) -> Result<Option<UserLink>> {
        let row = sqlx::query(
            "SELECT user_id, purpose, expires_at, used_at FROM user_links WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.writer)
        .await?;
        Ok(row.map(|r| UserLink {
            user_id: r.get("user_id"),
            purpose: r.get("purpose"),
            expires_at: r.get("expires_at"),
            used_at: r.get("used_at"),
        }))
    }

    /// The session with this token hash, whatever its state (the caller checks expiry).
    pub async fn session_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<DashboardSession>> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM dashboard_sessions WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.writer)
        .await?;
        Ok(row.map(|r| DashboardSession::from_row(&r)))
    }

    /// A user's sessions that are neither revoked nor past `now`, newest first.
    pub async fn live_sessions_of(&self, user_id: &str, now: i64) -> Result<Vec<DashboardSession>> {
        let rows = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM dashboard_sessions WHERE user_id = $1 \
             AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC"
        ))
        .bind(user_id)
        .bind(now)
        .fetch_all(&self.writer)
        .await?;
        Ok(rows.iter().map(DashboardSession::from_row).collect())
    }

    /// Failed logins for this e-mail since `since`: from this address, and from anywhere.
    pub async fn login_failures(&self, email: &str, ip: &str, since: i64) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS total, \
             COALESCE(SUM(CASE WHEN ip = $2 THEN 1 ELSE 0 END), 0) AS here \
             FROM login_failures WHERE email = $1 AND at > $3",
        )
        .bind(email)
        .bind(ip)
        .bind(since)
        .fetch_one(&self.writer)
        .await?;
        Ok((r_i64(&row, "here"), r_i64(&row, "total")))
    }

    /// Records a failed login (in its own transaction: it must stay even though the login failed).
    pub async fn record_login_failure(&self, email: &str, ip: &str, at: i64) -> Result<()> {
        sqlx::query("INSERT INTO login_failures (email, ip, at) VALUES ($1, $2, $3)")
            .bind(email)
            .bind(ip)
            .bind(at)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Forgets failed logins older than `before`.
    pub async fn purge_login_failures(&self, before: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(before)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    /// Marks the session seen at `now`; false when it is revoked or past either expiry.
    pub async fn touch_session(&self, id: &str, now: i64, idle_cutoff: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE dashboard_sessions SET last_seen_at = $1 WHERE id = $2 \
             AND revoked_at IS NULL AND expires_at > $1 AND last_seen_at > $3",
        )
        .bind(now)
        .bind(id)
        .bind(idle_cutoff)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// SUM over no rows or a BIGINT column comes back as a decimal on PostgreSQL: read any of them.
fn r_i64(row: &AnyRow, col: &str) -> i64 {
    row.try_get::<i64, _>(col)
        .or_else(|_| row.try_get::<f64, _>(col).map(|f| f as i64))
        .or_else(|_| {
            row.try_get::<String, _>(col)
                .map(|s| s.parse::<f64>().unwrap_or(0.0) as i64)
        })
        .unwrap_or(0)
}

impl Tx {
    pub async fn insert_user(&mut self, u: &User) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&u.id)
        .bind(&u.merchant_id)
        .bind(&u.email)
        .bind(&u.role)
        .bind(&u.status)
        .bind(&u.password_hash)
        .bind(&u.totp_secret_enc)
        .bind(u.totp_enabled_at)
        .bind(u.totp_last_step)
        .bind(u.created_at)
        .bind(u.updated_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Writes every mutable field of the user.
    pub async fn update_user(&mut self, u: &User) -> Result<()> {
        sqlx::query(
            "UPDATE users SET role = $1, status = $2, password_hash = $3, totp_secret_enc = $4, \
             totp_enabled_at = $5, totp_last_step = $6, updated_at = $7 WHERE id = $8",
        )
        .bind(&u.role)
        .bind(&u.status)
        .bind(&u.password_hash)
        .bind(&u.totp_secret_enc)
        .bind(u.totp_enabled_at)
        .bind(u.totp_last_step)
        .bind(u.updated_at)
        .bind(&u.id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Accepts a TOTP time step for the user only if it is newer than the last one accepted,
    /// so two requests racing with the same code cannot both pass.
    pub async fn accept_totp_step(&mut self, user_id: &str, step: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = $1 WHERE id = $2 \
             AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(user_id)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn insert_user_link(
        &mut self,
        token_hash: &str,
        user_id: &str,
        purpose: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO user_links (token_hash, user_id, purpose, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(purpose)
        .bind(now)
        .bind(expires_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Uses the link once: true only for the one request that marks it used before it expired.
    pub async fn use_user_link(&mut self, token_hash: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE user_links SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL \
             AND expires_at > $1",
        )
        .bind(now)
        .bind(token_hash)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces the user's recovery codes.
    pub async fn replace_recovery_codes(&mut self, user_id: &str, hashes: &[String]) -> Result<()> {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(self.conn())
            .await?;
        for h in hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user_id)
                .bind(h)
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }

    /// Uses a recovery code once: true only when it was the user's and unused.
    pub async fn use_recovery_code(
        &mut self,
        user_id: &str,
        code_hash: &str,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 \
             AND used_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .bind(code_hash)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn insert_session(&mut self, s: &DashboardSession) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO dashboard_sessions ({SESSION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&s.id)
        .bind(&s.token_hash)
        .bind(&s.user_id)
        .bind(i64::from(s.second_factor))
        .bind(&s.csrf_secret)
        .bind(&s.ip)
        .bind(&s.user_agent)
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .bind(s.expires_at)
        .bind(s.reauth_at)
        .bind(s.revoked_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Marks a half-open session (password given) as having passed the second factor.
    pub async fn complete_session(&mut self, id: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE dashboard_sessions SET second_factor = 1, last_seen_at = $1, reauth_at = $1 \
             WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn set_session_reauth(&mut self, id: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE dashboard_sessions SET reauth_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Revokes one session of the user (`Some(id)`) or all of them but `keep`.
    pub async fn revoke_sessions(
        &mut self,
        user_id: &str,
        only: Option<&str>,
        keep: Option<&str>,
        now: i64,
    ) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE dashboard_sessions SET revoked_at = $1 WHERE user_id = $2 \
             AND revoked_at IS NULL AND ($3 = '' OR id = $3) AND id <> $4",
        )
        .bind(now)
        .bind(user_id)
        .bind(only.unwrap_or(""))
        .bind(keep.unwrap_or(""))
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected())
    }
}
