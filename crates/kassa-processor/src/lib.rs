//! The processor interface Kassa uses to move money, and the built-in sandbox.
//!
//! Invariant: raw card data (the full card number and the security code)
//! exists only inside [`PaymentMethodInput`], which is borrowed for the
//! duration of one [`Processor::authorize`] call. Everything a processor hands
//! back for Kassa to store — [`PaymentMethodDetails`], processor references and
//! the 3-D Secure `challenge_state` — is built without the PAN or CVC, so no
//! stored value can leak them.

#![forbid(unsafe_code)]

use std::fmt;

use kassa_core::card::{CardNumber, Expiry};
use kassa_core::money::Money;

mod sandbox;

pub use sandbox::{test_tokens, SandboxProcessor};

/// What the customer presented. Card data lives only in memory for the
/// duration of one authorization.
pub enum PaymentMethodInput {
    /// A card typed into the checkout page.
    Card {
        /// The validated card number.
        number: CardNumber,
        /// The expiry date printed on the card.
        expiry: Expiry,
        /// The security code as typed; its format is checked by the processor
        /// so a bad one becomes an `incorrect_cvc` decline, not a hard error.
        cvc: String,
        /// The name on the card, if the customer gave one.
        holder_name: Option<String>,
    },
    /// A test payment-method token for merchants' automated tests (no
    /// browser), such as `"pm_card_visa"`; see [`test_tokens`].
    TestToken(String),
}

impl fmt::Debug for PaymentMethodInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hand-written so the CVC and cardholder name never reach a log line;
        // `CardNumber`'s own Debug already masks the number.
        match self {
            PaymentMethodInput::Card {
                number,
                expiry,
                holder_name,
                ..
            } => f
                .debug_struct("Card")
                .field("number", number)
                .field("expiry", expiry)
                .field("cvc", &"<redacted>")
                .field("holder_name", &holder_name.as_ref().map(|_| "<redacted>"))
                .finish(),
            PaymentMethodInput::TestToken(token) => {
                f.debug_tuple("TestToken").field(token).finish()
            }
        }
    }
}

/// Safe-to-store description of the method used (no PAN, no CVC).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PaymentMethodDetails {
    /// Always `"card"` for now.
    pub kind: String,
    /// Lower-case brand, e.g. `"visa"`.
    pub brand: String,
    /// First six digits, when the processor reports them.
    pub bin: Option<String>,
    /// Last four digits.
    pub last4: String,
    /// Expiry month, 1 to 12.
    pub exp_month: u32,
    /// Four-digit expiry year.
    pub exp_year: u32,
    /// Keyed fingerprint from [`CardNumber::fingerprint`], equal for equal
    /// cards under the same key.
    pub fingerprint: String,
}

impl PaymentMethodDetails {
    /// Describes a card using only the parts that are safe to store.
    pub fn for_card(number: &CardNumber, expiry: Expiry, fingerprint_key: &[u8]) -> Self {
        PaymentMethodDetails {
            kind: "card".to_string(),
            brand: number.brand().as_str().to_string(),
            bin: Some(number.bin()),
            last4: number.last4(),
            exp_month: expiry.month,
            exp_year: expiry.year,
            fingerprint: number.fingerprint(fingerprint_key),
        }
    }
}

/// One authorization request.
#[derive(Clone, Copy)]
pub struct AuthorizeRequest<'a> {
    /// Kassa's id for this payment attempt, for the processor's idempotency.
    pub attempt_id: &'a str,
    /// How much to authorize.
    pub amount: Money,
    /// What the customer presented.
    pub method: &'a PaymentMethodInput,
    /// `true` to authorize and capture at once, `false` to authorize only.
    pub capture: bool,
    /// Server secret for [`CardNumber::fingerprint`].
    pub fingerprint_key: &'a [u8],
    /// Current year, passed in so expiry checks are deterministic in tests.
    pub now_year: u32,
    /// Current month, 1 to 12.
    pub now_month: u32,
}

impl fmt::Debug for AuthorizeRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The fingerprint key is a secret; everything else is safe to show.
        f.debug_struct("AuthorizeRequest")
            .field("attempt_id", &self.attempt_id)
            .field("amount", &self.amount)
            .field("method", self.method)
            .field("capture", &self.capture)
            .field("fingerprint_key", &"<redacted>")
            .field("now_year", &self.now_year)
            .field("now_month", &self.now_month)
            .finish()
    }
}

/// Why a payment was refused, in Stripe's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Decline {
    /// `"card_declined"`, `"expired_card"`, `"incorrect_cvc"`,
    /// `"processing_error"` or `"incorrect_number"`.
    pub code: String,
    /// Finer reason, e.g. `"generic_decline"` or `"insufficient_funds"`.
    pub decline_code: Option<String>,
    /// A sentence that can be shown to the customer.
    pub message: String,
}

impl Decline {
    fn new(code: &str, decline_code: &str, message: &str) -> Self {
        Decline {
            code: code.to_string(),
            decline_code: Some(decline_code.to_string()),
            message: message.to_string(),
        }
    }

    /// The issuer refused without saying why.
    pub fn generic() -> Self {
        Decline::new(
            "card_declined",
            "generic_decline",
            "Your card was declined.",
        )
    }

    /// The account lacks the funds.
    pub fn insufficient_funds() -> Self {
        Decline::new(
            "card_declined",
            "insufficient_funds",
            "Your card has insufficient funds.",
        )
    }

    /// The card is past its expiry date.
    pub fn expired_card() -> Self {
        Decline::new("expired_card", "expired_card", "Your card has expired.")
    }

    /// The security code is wrong or malformed.
    pub fn incorrect_cvc() -> Self {
        Decline::new(
            "incorrect_cvc",
            "incorrect_cvc",
            "Your card's security code is incorrect.",
        )
    }

    /// The card number is wrong.
    pub fn incorrect_number() -> Self {
        Decline::new(
            "incorrect_number",
            "incorrect_number",
            "Your card number is incorrect.",
        )
    }

    /// The cardholder failed (or abandoned) 3-D Secure authentication.
    pub fn authentication_failed() -> Self {
        Decline::new(
            "card_declined",
            "authentication_failed",
            "The card's issuer could not authenticate the payment.",
        )
    }

    /// The processor failed in a way the customer cannot fix.
    pub fn processing_error() -> Self {
        Decline::new(
            "processing_error",
            "processing_error",
            "An error occurred while processing your card. Try again in a little bit.",
        )
    }
}

/// How an authorization ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    /// Funds authorized (and captured if capture=true).
    Approved {
        /// The processor's id for the authorization.
        processor_ref: String,
    },
    /// Issuer wants a 3-D Secure challenge. `challenge_state` is opaque state
    /// that Kassa stores with the attempt and hands back to
    /// [`Processor::complete_challenge`]; it must NOT contain the PAN or CVC.
    ChallengeRequired {
        /// The processor's id for the pending authorization.
        processor_ref: String,
        /// Opaque, storable state for finishing the challenge.
        challenge_state: String,
    },
    /// The payment was refused.
    Declined(Decline),
}

/// The result of [`Processor::authorize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeResult {
    /// What was used, safe to store even when the outcome is a decline.
    pub details: PaymentMethodDetails,
    /// What happened.
    pub outcome: AuthorizeOutcome,
}

/// What the (simulated) cardholder did on the issuer's challenge page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeResult {
    /// The cardholder authenticated.
    Approve,
    /// The cardholder failed or cancelled authentication.
    Fail,
}

/// A way to authorize, capture, void and refund card payments.
#[async_trait::async_trait]
pub trait Processor: Send + Sync + 'static {
    /// Short, stable name stored with each payment, e.g. `"sandbox"`.
    fn name(&self) -> &'static str;

    /// Validates the method (Luhn/expiry/CVC format -> Decline with code
    /// incorrect_number/expired_card/incorrect_cvc where applicable) and asks
    /// the acquirer.
    async fn authorize(&self, req: AuthorizeRequest<'_>)
        -> Result<AuthorizeResult, ProcessorError>;

    /// Finishes a 3-D Secure challenge started by authorize. Never returns
    /// [`AuthorizeOutcome::ChallengeRequired`].
    async fn complete_challenge(
        &self,
        processor_ref: &str,
        challenge_state: &str,
        result: ChallengeResult,
        amount: Money,
        capture: bool,
    ) -> Result<AuthorizeOutcome, ProcessorError>;

    /// Captures (part of) an authorization.
    async fn capture(&self, processor_ref: &str, amount: Money) -> Result<(), ProcessorError>;

    /// Releases an uncaptured authorization.
    async fn void(&self, processor_ref: &str) -> Result<(), ProcessorError>;

    /// Refunds (part of) a captured payment, returning the refund's reference.
    async fn refund(&self, processor_ref: &str, amount: Money) -> Result<String, ProcessorError>;

    /// What became of an authorization whose answer Kassa never recorded (its process died
    /// while asking). `None`: the processor has no record of `attempt_id`, so nothing was
    /// authorized or charged.
    async fn lookup(&self, attempt_id: &str) -> Result<Option<AuthorizeOutcome>, ProcessorError>;
}

/// Failures that are not a decline: the request could not be judged at all.
#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    /// A [`PaymentMethodInput::TestToken`] not in [`test_tokens`].
    #[error("unknown test payment method token {0}")]
    UnknownToken(String),
    /// The processor could not be reached or failed internally.
    #[error("processor unavailable: {0}")]
    Unavailable(String),
    /// A reference or challenge state the processor did not issue.
    #[error("invalid processor state")]
    InvalidState,
}
