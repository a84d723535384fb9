//! The Stripe objects the connector reads, with only the fields it uses. Unknown fields are
//! ignored and absent ones default, so both Stripe and localstripe answers parse (localstripe
//! expands `latest_charge` into an object where Stripe sends an id; neither is read here).

use std::collections::BTreeMap;

use serde::Deserialize;

/// Stripe's error object (`{"error": {…}}`), also the shape of `last_payment_error`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ApiError {
    /// `card_error`, `invalid_request_error`, `api_error`, … (localstripe sends
    /// `invalid_request_error` for declines too, so the connector goes by `code`).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: String,
    pub param: Option<String>,
}

/// A field Stripe sends as an id or, expanded, as the object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Expandable {
    Id(String),
    Object { id: String },
}

impl Expandable {
    pub fn id(&self) -> &str {
        match self {
            Expandable::Id(id) | Expandable::Object { id } => id,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RedirectToUrl {
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct NextAction {
    /// `redirect_to_url` (Stripe, with a `return_url`) or `use_stripe_sdk` (Stripe.js, and
    /// the only kind localstripe sends).
    #[serde(rename = "type")]
    pub kind: String,
    pub redirect_to_url: Option<RedirectToUrl>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PaymentIntent {
    pub id: String,
    /// `requires_payment_method`, `requires_confirmation`, `requires_action`, `processing`,
    /// `requires_capture`, `canceled` or `succeeded`.
    pub status: String,
    pub amount: i64,
    pub currency: String,
    pub created: i64,
    pub customer: Option<Expandable>,
    pub payment_method: Option<Expandable>,
    pub client_secret: Option<String>,
    pub next_action: Option<NextAction>,
    pub last_payment_error: Option<ApiError>,
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Refund {
    pub id: String,
    /// `pending`, `requires_action`, `succeeded`, `failed` or `canceled`.
    pub status: String,
    pub amount: i64,
    pub payment_intent: Option<String>,
    pub failure_reason: Option<String>,
}

/// Any object of which only the id is needed (a customer, a payment method).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Object {
    pub id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct List<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

/// A webhook event; `data.object` is read according to `type`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: EventData,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}
