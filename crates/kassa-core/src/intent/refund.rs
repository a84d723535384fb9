//! Refunds: their status, their kind (a refund, a void, a chargeback), the stored refund and the
//! reasons a merchant may give. How much of an intent may be refunded is the intent's to say
//! ([`super::PaymentIntent::check_refund`]).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::Metadata;
use crate::money::Currency;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Pending,
    Succeeded,
    Failed,
}

impl RefundStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(RefundStatus::Pending),
            "succeeded" => Some(RefundStatus::Succeeded),
            "failed" => Some(RefundStatus::Failed),
            _ => None,
        }
    }
}

/// Why money goes back to the payer. It moves the same way in every case; the kind lets each
/// face name it as its merchants expect (Paymob's void, Paymentwall's chargeback pingback)
/// without reading markers out of metadata, which a merchant controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefundKind {
    /// Sent back at the merchant's request (the only kind the native API creates).
    #[default]
    Refund,
    /// A captured payment cancelled as a whole before it settled (Paymob's void).
    Void,
    /// The payer's bank took the money back; `reason` is the bank's reason code.
    Chargeback { reason: u8 },
}

impl RefundKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            RefundKind::Refund => "refund",
            RefundKind::Void => "void",
            RefundKind::Chargeback { .. } => "chargeback",
        }
    }

    /// The chargeback's reason code, for a chargeback.
    pub fn chargeback_reason(&self) -> Option<u8> {
        match self {
            RefundKind::Chargeback { reason } => Some(*reason),
            _ => None,
        }
    }

    /// The kind from its stored parts (`as_str` and `chargeback_reason`); `None` when they do
    /// not make one (an unknown name, a chargeback without a reason code in 0..=255, or a reason
    /// on another kind).
    pub fn from_parts(kind: &str, reason: Option<i64>) -> Option<Self> {
        match (kind, reason) {
            ("refund", None) => Some(RefundKind::Refund),
            ("void", None) => Some(RefundKind::Void),
            ("chargeback", Some(r)) => u8::try_from(r)
                .ok()
                .map(|reason| RefundKind::Chargeback { reason }),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: String,
    pub merchant_id: String,
    /// `true` for live-mode data (see [`crate::scope`]).
    pub livemode: bool,
    pub payment_intent_id: String,
    pub amount: i64,
    pub currency: Currency,
    pub status: RefundStatus,
    pub kind: RefundKind,
    pub reason: Option<String>,
    pub metadata: Metadata,
    pub processor_ref: Option<String>,
    pub created: i64,
}

impl Refund {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "refund",
            "amount": self.amount,
            "currency": self.currency,
            "payment_intent": self.payment_intent_id,
            "status": self.status,
            "reason": self.reason,
            "metadata": self.metadata,
            "created": self.created / 1000,
        })
    }
}

pub const REFUND_REASONS: &[&str] = &["duplicate", "fraudulent", "requested_by_customer"];

impl Refund {
    /// The merchant and mode this object belongs to.
    pub fn scope(&self) -> crate::scope::Scope {
        crate::scope::Scope {
            merchant_id: self.merchant_id.clone(),
            livemode: self.livemode,
        }
    }
}
