//! What `/v1/audit_log` answers.

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

/// One configuration change or money action.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditRecordObject {
    /// `audit_…`
    pub id: String,
    /// Always `audit_record`.
    pub object: String,
    pub livemode: bool,
    /// Unix seconds.
    pub created: i64,
    pub actor: AuditActor,
    /// What was done, e.g. `refund.create`, `webhook_endpoint.update`, `api_key.roll`.
    pub action: String,
    /// The object changed, by id.
    #[schema(required = true)]
    pub target: Option<String>,
    /// The fields changed and their new values; secrets are never recorded.
    #[schema(value_type = Object)]
    pub changes: Value,
}

/// Who acted, and from where.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditActor {
    /// `user` (dashboard), `api_key`, `request` (a face's request without an API key), `cli`
    /// or `system`.
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(required = true)]
    pub id: Option<String>,
    /// An e-mail address, or a key as shown (`sk_test_…abcd`).
    #[schema(required = true)]
    pub label: Option<String>,
    #[schema(required = true)]
    pub ip: Option<String>,
    #[schema(required = true)]
    pub user_agent: Option<String>,
    #[schema(required = true)]
    pub request_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditRecordList {
    /// Always `list`.
    pub object: String,
    pub url: String,
    pub has_more: bool,
    pub data: Vec<AuditRecordObject>,
}
