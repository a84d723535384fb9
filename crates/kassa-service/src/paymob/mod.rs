//! The Paymob (Accept) dialect: accounts and integrations, intentions and the legacy
//! order/payment-key flow, payments, HMAC-signed callbacks, refunds/voids/captures and
//! subscriptions, all on top of the core's intents, refunds, events and outbox.
//!
//! Every Paymob payment transaction is one core payment intent; its transaction object is
//! rewritten, and its callbacks queued, in the same database transaction as the intent's change
//! (see [`pay`]'s hook), so a callback is sent exactly for what was recorded.

mod accounts;
mod challenges;
mod dashboard_tools;
mod intentions;
mod key_rotation;
mod legacy;
mod ops;
mod orders;
mod pages;
mod pay;
mod plans;
mod render;
mod renewals;
mod settle;
mod subscriptions;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use accounts::{IntegrationInput, NewProfile, ProfileInput};
pub use dashboard_tools::{CallbackTest, HmacCalculation, CALLBACK_TEST_TIMEOUT, HMAC_INPUT_MAX};
pub use key_rotation::PmCredential;
pub use pages::{
    frame_ancestors_of, PageFraming, PageOwner, PaymentStatus, ProfileUpdate, StatusRefusal,
    NO_FRAMING,
};
pub use pay::{ChallengeView, PayResponse};
pub use plans::SUBSCRIPTION_FREQUENCIES;

/// The Paymob face as a projection of the core: its transaction objects (and their refund,
/// void and capture children) and callbacks for the payments it made, and its subscription
/// objects, renewal transactions and subscription callbacks for the subscriptions it started.
/// Registered when the app is built.
pub struct PaymobProjection;

#[async_trait::async_trait]
impl crate::Projection for PaymobProjection {
    async fn intent_changed(
        &self,
        svc: &crate::Services,
        tx: &mut kassa_store::Tx,
        pi: &kassa_core::intent::PaymentIntent,
        events: &[(kassa_core::events::EventType, String)],
        now: i64,
    ) -> crate::Result<()> {
        svc.paymob().after_intent_events(tx, pi, events, now).await
    }

    async fn refund_succeeded(
        &self,
        svc: &crate::Services,
        tx: &mut kassa_store::Tx,
        pi: &kassa_core::intent::PaymentIntent,
        refund: &kassa_core::intent::Refund,
        event_id: &str,
        now: i64,
    ) -> crate::Result<()> {
        svc.paymob()
            .after_refund(tx, &pi.id, refund, event_id, now)
            .await
    }

    async fn invoice_charge(
        &self,
        svc: &crate::Services,
        tx: &mut kassa_store::Tx,
        sub: &kassa_core::subscription::Subscription,
        _invoice: &kassa_core::invoice::Invoice,
        pi: &mut kassa_core::intent::PaymentIntent,
        now: i64,
    ) -> crate::Result<()> {
        svc.paymob().invoice_charge(tx, sub, pi, now).await
    }

    async fn subscription_changed(
        &self,
        svc: &crate::Services,
        tx: &mut kassa_store::Tx,
        change: &crate::projection::SubscriptionChange<'_>,
    ) -> crate::Result<()> {
        svc.paymob().subscription_changed(tx, change).await
    }
}

use crate::ServiceError;

/// A Paymob-shaped error answer: HTTP status and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct PmError {
    pub status: u16,
    pub body: Value,
}

pub type PmResult<T> = std::result::Result<T, PmError>;

impl PmError {
    pub fn new(status: u16, body: Value) -> Self {
        PmError { status, body }
    }
    /// `{"detail": msg}` (Django REST framework's shape).
    pub fn detail(status: u16, msg: impl Into<String>) -> Self {
        Self::new(status, json!({ "detail": msg.into() }))
    }
    /// `{"message": msg}` (the Accept API's shape).
    pub fn message(status: u16, msg: impl Into<String>) -> Self {
        Self::new(status, json!({ "message": msg.into() }))
    }
    /// Field errors, 400.
    pub fn fields(body: Value) -> Self {
        Self::new(400, body)
    }
    pub fn unauthenticated() -> Self {
        Self::detail(401, "Authentication credentials were not provided.")
    }
    pub fn not_found(what: &str) -> Self {
        Self::detail(404, format!("{what} not found."))
    }
}

impl From<ServiceError> for PmError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound { .. } => PmError::detail(404, "Not found."),
            ServiceError::Invalid { message, .. }
            | ServiceError::UrlRefused { message, .. }
            | ServiceError::State(message) => PmError::message(400, message),
            ServiceError::Conflict => {
                PmError::message(409, "Order already being processed for payment.")
            }
            ServiceError::Declined { error, .. } => PmError::message(402, error.message),
            ServiceError::Processor(m) => PmError::message(503, m),
            ServiceError::LiveMode { message, .. } | ServiceError::Forbidden(message) => {
                PmError::message(403, message)
            }
            ServiceError::Unauthorized(_) => PmError::unauthenticated(),
            ServiceError::RateLimited(message) => PmError::message(429, message),
            ServiceError::Internal(e) => {
                tracing::error!(error = %e, "paymob request failed");
                PmError::detail(500, "A server error occurred.")
            }
            ServiceError::Store(e) if e.is_unavailable() => {
                tracing::warn!(error = %e, "paymob request: database unavailable");
                PmError::detail(503, "Service temporarily unavailable, try again later.")
            }
            ServiceError::Store(e) => {
                tracing::error!(error = %e, "paymob request failed in the store");
                PmError::detail(500, "A server error occurred.")
            }
        }
    }
}

impl From<kassa_store::StoreError> for PmError {
    fn from(e: kassa_store::StoreError) -> Self {
        ServiceError::from(e).into()
    }
}

/// What an integration takes payments with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationKind {
    /// Online card payments (3-D Secure unless switched off), captured at once.
    Card,
    /// Online card authorisations, captured later (auth/capture).
    CardAuth,
    /// Merchant-initiated card payments with a saved card or typed by the merchant (no 3-D Secure).
    Moto,
    /// Egyptian mobile wallets (phone number, MPIN and one-time code).
    Wallet,
    /// Kiosk (Aman/Masary): a bill reference the customer pays in cash at an outlet.
    Kiosk,
    /// Cash collected on delivery.
    Cash,
}

impl IntegrationKind {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "card" => Self::Card,
            "card_auth" => Self::CardAuth,
            "moto" => Self::Moto,
            "wallet" => Self::Wallet,
            "kiosk" => Self::Kiosk,
            "cash" => Self::Cash,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Card => "card",
            Self::CardAuth => "card_auth",
            Self::Moto => "moto",
            Self::Wallet => "wallet",
            Self::Kiosk => "kiosk",
            Self::Cash => "cash",
        }
    }
    /// The integration's name unless the merchant gives one (Pixel filters on names).
    pub fn default_name(self) -> &'static str {
        match self {
            Self::Card => "card",
            Self::CardAuth => "card-auth",
            Self::Moto => "moto",
            Self::Wallet => "wallet",
            Self::Kiosk => "kiosk",
            Self::Cash => "cash",
        }
    }
    /// The `source.subtype` a customer pays this integration with.
    pub fn subtype(self) -> &'static str {
        match self {
            Self::Card | Self::CardAuth | Self::Moto => "CARD",
            Self::Wallet => "WALLET",
            Self::Kiosk => "AGGREGATOR",
            Self::Cash => "CASH",
        }
    }
    pub fn gateway_type(self) -> &'static str {
        match self {
            Self::Card | Self::CardAuth | Self::Moto => "MIGS",
            Self::Wallet => "UIG",
            Self::Kiosk => "CAGG",
            Self::Cash => "CASH",
        }
    }
    pub fn method_type(self) -> &'static str {
        match self {
            Self::Moto => "moto",
            _ => "online",
        }
    }
    /// The gateway class named in `data.klass`.
    pub fn klass(self) -> &'static str {
        match self {
            Self::Card | Self::CardAuth | Self::Moto => "MigsPayment",
            Self::Wallet => "WalletPayment",
            Self::Kiosk => "AggregatorPayment",
            Self::Cash => "CashPayment",
        }
    }
    pub fn is_card(self) -> bool {
        matches!(self, Self::Card | Self::CardAuth | Self::Moto)
    }
}

/// An integration's settings (the `doc` of its row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegrationDoc {
    pub kind: IntegrationKind,
    pub currency: String,
    /// Transaction processed callback (POST JSON).
    pub processed_callback_url: Option<String>,
    /// Transaction response callback (the customer's GET redirect).
    pub response_callback_url: Option<String>,
    /// Card integrations: challenge every card with 3-D Secure.
    pub three_d_secure: bool,
    pub live: bool,
}

/// An integration as the service uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Integration {
    pub id: i64,
    pub profile_id: i64,
    pub name: String,
    pub doc: IntegrationDoc,
}

impl Integration {
    pub(crate) fn from_row(row: &kassa_store::PmIntegration) -> PmResult<Self> {
        let doc: IntegrationDoc = serde_json::from_str(&row.doc).map_err(|e| {
            tracing::error!(error = %e, integration = row.id, "unreadable integration");
            PmError::detail(500, "A server error occurred.")
        })?;
        Ok(Integration {
            id: row.id,
            profile_id: row.profile_id,
            name: row.name.clone(),
            doc,
        })
    }

    /// The native API's view.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "kind": self.doc.kind.as_str(),
            "currency": self.doc.currency,
            "gateway_type": self.doc.kind.gateway_type(),
            "method_type": self.doc.kind.method_type(),
            "processed_callback_url": self.doc.processed_callback_url,
            "response_callback_url": self.doc.response_callback_url,
            "three_d_secure": self.doc.three_d_secure,
            "is_live": self.doc.live,
        })
    }

    /// An entry of an intention's `payment_methods`.
    pub fn method_json(&self) -> Value {
        json!({
            "integration_id": self.id,
            "alias": null,
            "name": self.name,
            "method_type": self.doc.kind.method_type(),
            "currency": self.doc.currency,
            "live": self.doc.live,
            "use_cvc_with_moto": false,
            "subtype": self.doc.kind.subtype(),
        })
    }
}

/// Reads a JSON document column.
pub(crate) fn doc<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> PmResult<T> {
    serde_json::from_str(text).map_err(|e| {
        tracing::error!(error = %e, what, "unreadable paymob document");
        PmError::detail(500, "A server error occurred.")
    })
}

/// A stored transaction's wire object, read through its type.
pub(crate) fn txn_json(t: &kassa_store::PmTransaction) -> PmResult<Value> {
    Ok(doc::<kassa_paymob::transaction::Transaction>(&t.obj, "transaction")?.to_json())
}

pub(crate) fn to_text<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("documents serialize")
}
