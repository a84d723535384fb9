//! What `/v1/processor_accounts` answers.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A processor account. Its credentials are shown masked only.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessorAccountObject {
    /// `pa_…`
    pub id: String,
    /// Always `processor_account`.
    pub object: String,
    pub connector: String,
    /// Always true: test mode uses the sandbox.
    pub livemode: bool,
    /// `active` or `removed`.
    pub status: String,
    /// Each credential given, secrets masked (`sk_live_…abcd`).
    pub credentials: BTreeMap<String, String>,
    pub capabilities: CapabilitiesObject,
    /// Where the processor should send its webhooks for this account.
    pub webhook_url: String,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds, once removed.
    #[schema(required = true)]
    pub removed: Option<i64>,
}

/// What the connector can do.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapabilitiesObject {
    pub methods: Vec<String>,
    pub manual_capture: bool,
    pub partial_capture: bool,
    pub partial_refund: bool,
    pub void: bool,
    /// `none`, `kassa_hosted` or `processor_redirect`.
    pub three_d_secure: String,
    pub saved_cards: bool,
    pub async_refunds: bool,
    pub webhooks: bool,
    /// `any`, or the accepted currency codes.
    #[schema(value_type = Object)]
    pub currencies: Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessorAccountList {
    /// Always `list`.
    pub object: String,
    pub url: String,
    /// Always false: the list is complete.
    pub has_more: bool,
    pub data: Vec<ProcessorAccountObject>,
}
