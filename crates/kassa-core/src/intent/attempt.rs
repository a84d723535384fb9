//! One try at paying an intent: where it stands ([`AttemptStatus`]), what the processor answered
//! ([`AuthorizationResult`]), and what a try leaves on the intent for the merchant and the
//! customer (the [`PaymentError`] of a failed one, the [`NextAction`] of one that waits).

use serde::{Deserialize, Serialize};

/// Why the last attempt failed, as shown to the merchant and the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PaymentError {
    #[serde(rename = "type")]
    pub kind: String,
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    pub message: String,
}

/// What the customer must do next (a 3-D Secure challenge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NextAction {
    #[serde(rename = "type")]
    pub kind: String,
    pub redirect_to_url: RedirectToUrl,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RedirectToUrl {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
}

/// Where one try at paying an intent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptStatus {
    /// The processor is being asked (the intent is claimed).
    Processing,
    /// Waiting for the customer (3-D Secure, a wallet's code, a bank, a voucher's cash).
    RequiresAction,
    Succeeded,
    Failed,
}

impl AttemptStatus {
    pub const ALL: [AttemptStatus; 4] = [
        AttemptStatus::Processing,
        AttemptStatus::RequiresAction,
        AttemptStatus::Succeeded,
        AttemptStatus::Failed,
    ];
    pub fn as_str(&self) -> &'static str {
        match self {
            AttemptStatus::Processing => "processing",
            AttemptStatus::RequiresAction => "requires_action",
            AttemptStatus::Succeeded => "succeeded",
            AttemptStatus::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl std::fmt::Display for AttemptStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an authorization came back with, as the core needs it.
#[derive(Debug, Clone)]
pub enum AuthorizationResult {
    Approved {
        processor_ref: String,
    },
    /// Authorized but held (a risk review): the money is reserved and nothing is captured until
    /// the review accepts it, whatever the capture method.
    Held {
        processor_ref: String,
    },
    ChallengeRequired {
        redirect_url: String,
        /// The customer completes it later, offline (pays a voucher in cash): it stays payable
        /// only within the payment's voucher window.
        offline: bool,
    },
    Declined(PaymentError),
}
