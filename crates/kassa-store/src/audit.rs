//! The audit log: one row per configuration change or money action, written by the change's
//! own transaction so a change is never recorded without happening or the other way round.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Result, Scope, Store, Tx};

const COLUMNS: &str = "id, merchant_id, livemode, at, actor_type, actor_id, actor_label, ip, \
    user_agent, request_id, action, target, changes";

/// One audit record. `changes` is a JSON object holding no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: String,
    pub merchant_id: String,
    pub livemode: bool,
    pub at: i64,
    /// `user`, `api_key`, `cli` or `system`.
    pub actor_type: String,
    pub actor_id: Option<String>,
    /// What a person reads: an e-mail, a key's shown form.
    pub actor_label: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// E.g. `refund.create`, `webhook_endpoint.update`.
    pub action: String,
    /// The object changed, by id.
    pub target: Option<String>,
    pub changes: String,
}

impl AuditRecord {
    fn from_row(r: &AnyRow) -> Self {
        AuditRecord {
            id: r.get("id"),
            merchant_id: r.get("merchant_id"),
            livemode: r.get::<i64, _>("livemode") != 0,
            at: r.get("at"),
            actor_type: r.get("actor_type"),
            actor_id: r.get("actor_id"),
            actor_label: r.get("actor_label"),
            ip: r.get("ip"),
            user_agent: r.get("user_agent"),
            request_id: r.get("request_id"),
            action: r.get("action"),
            target: r.get("target"),
            changes: r.get("changes"),
        }
    }
}

impl Store {
    /// The scope's audit records, newest first; `before` is the `(at, id)` of the last record
    /// of the previous page.
    pub async fn audit_records(
        &self,
        scope: &Scope,
        limit: i64,
        before: Option<(i64, &str)>,
    ) -> Result<Vec<AuditRecord>> {
        let (at, id) = before.unwrap_or((i64::MAX, "~"));
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_log WHERE merchant_id = $1 AND livemode = $2 \
             AND (at < $3 OR (at = $3 AND id < $4)) ORDER BY at DESC, id DESC LIMIT $5"
        ))
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(AuditRecord::from_row).collect())
    }
}

impl Tx {
    pub async fn insert_audit(&mut self, a: &AuditRecord) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO audit_log ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(&a.id)
        .bind(&a.merchant_id)
        .bind(i64::from(a.livemode))
        .bind(a.at)
        .bind(&a.actor_type)
        .bind(&a.actor_id)
        .bind(&a.actor_label)
        .bind(&a.ip)
        .bind(&a.user_agent)
        .bind(&a.request_id)
        .bind(&a.action)
        .bind(&a.target)
        .bind(&a.changes)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    /// One of the scope's audit records, by id.
    pub async fn audit_record(&self, scope: &Scope, id: &str) -> Result<Option<AuditRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_log WHERE id = $1 AND merchant_id = $2 AND livemode = $3"
        ))
        .bind(id)
        .bind(&scope.merchant_id)
        .bind(i64::from(scope.livemode))
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| AuditRecord::from_row(&r)))
    }
}

impl AuditRecord {
    /// The API representation (`GET /v1/audit_log`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "object": "audit_record",
            "livemode": self.livemode,
            "created": self.at / 1000,
            "actor": {
                "type": self.actor_type,
                "id": self.actor_id,
                "label": self.actor_label,
                "ip": self.ip,
                "user_agent": self.user_agent,
                "request_id": self.request_id,
            },
            "action": self.action,
            "target": self.target,
            "changes": serde_json::from_str::<serde_json::Value>(&self.changes)
                .unwrap_or(serde_json::Value::Null),
        })
    }
}
