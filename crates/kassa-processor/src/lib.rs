//! The processor interface Kassa uses to move money, and the built-in sandbox.
//!
//! Invariant: raw card data (the full card number and the security code) and
//! the wallet phone number exist only inside [`PaymentMethodInput`], which is
//! borrowed for the duration of one [`Processor::authorize`] call. Everything a
//! processor hands back for Kassa to store — [`PaymentMethodDetails`],
//! processor references and the `challenge_state` — is built without the PAN,
//! the CVC or the full phone number, so no stored value can leak them.

#![forbid(unsafe_code)]

use std::fmt;

use kassa_core::card::{CardNumber, Expiry};
use kassa_core::money::Money;

mod live_guard;
mod sandbox;

pub use live_guard::{details_of, is_known_test_method};
pub use sandbox::{challenge_kind, test_tokens, voucher_number, SandboxProcessor};

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
    /// A mobile wallet, paid by phone number and a one-time code the customer
    /// receives on that phone.
    Wallet {
        /// The phone number as typed: an optional leading `+` and 8 to 15
        /// digits; spaces and dashes are ignored. Checked by the processor, so
        /// a bad one becomes an `invalid_phone` decline, not a hard error.
        phone: String,
    },
    /// A redirect to the customer's online bank, which authorizes the payment.
    BankRedirect {
        /// The bank's code: 2 to 32 characters out of `a-z`, `0-9` and `_`.
        bank: String,
    },
    /// A voucher the customer pays later in cash; the payment completes when
    /// the cash arrives.
    Voucher,
    /// Paymentwall's "Test" method: approved at once, for trying out a flow.
    TestMethod,
}

/// The digits of a well-formed phone number (without the leading `+`), or
/// `None`. Spaces and dashes are ignored; what is left must be an optional
/// `+` followed by 8 to 15 ASCII digits.
pub(crate) fn phone_digits(phone: &str) -> Option<String> {
    let compact: String = phone.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let digits = compact.strip_prefix('+').unwrap_or(&compact);
    let well_formed =
        (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    well_formed.then(|| digits.to_string())
}

/// `"***"` followed by the last two ASCII digits of `phone`: enough for a
/// person reading a log to tell two numbers apart, too little to call one.
fn redacted_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits[digits.len().saturating_sub(2)..].iter().collect();
    format!("***{tail}")
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
            PaymentMethodInput::Wallet { phone } => f
                .debug_struct("Wallet")
                .field("phone", &redacted_phone(phone))
                .finish(),
            PaymentMethodInput::BankRedirect { bank } => {
                f.debug_struct("BankRedirect").field("bank", bank).finish()
            }
            PaymentMethodInput::Voucher => f.write_str("Voucher"),
            PaymentMethodInput::TestMethod => f.write_str("TestMethod"),
        }
    }
}

pub use kassa_core::method_details::PaymentMethodDetails;

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
    /// An authorization held for review
    /// ([`AuthorizeOutcome::UnderReview`]) is never captured here.
    pub capture: bool,
    /// `true` when the merchant's account requires 3-D Secure for every card payment: an
    /// approvable card is then challenged even where the issuer would not ask.
    pub three_d_secure: bool,
    /// Server secret for [`CardNumber::fingerprint`] and the wallet
    /// fingerprint.
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
            .field("three_d_secure", &self.three_d_secure)
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
    /// `"processing_error"` or `"incorrect_number"` for cards;
    /// `"invalid_phone"`, `"wallet_declined"` or `"incorrect_otp"` for
    /// wallets; `"invalid_bank"` or `"bank_declined"` for bank redirects;
    /// `"voucher_expired"` for vouchers.
    pub code: String,
    /// Finer reason, e.g. `"generic_decline"`, `"insufficient_funds"` or
    /// `"call_issuer"`.
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
    /// The customer has to do something first: a 3-D Secure challenge, a
    /// wallet's one-time code, the bank's authorization or paying a voucher
    /// ([`challenge_kind`] tells which). `challenge_state` is opaque state
    /// that Kassa stores with the attempt and hands back to
    /// [`Processor::complete_challenge`]; it must NOT contain the PAN, the
    /// CVC or the phone number.
    ChallengeRequired {
        /// The processor's id for the pending authorization.
        processor_ref: String,
        /// Opaque, storable state for finishing the challenge.
        challenge_state: String,
    },
    /// Authorized and held for the processor's risk review: the money is
    /// reserved but never captured at this point, even when capture was
    /// requested. Ask [`Processor::review_verdict`] later, then
    /// [`Processor::capture`] (accepted) or [`Processor::void`] (declined)
    /// with this reference.
    UnderReview {
        /// The processor's id for the held authorization.
        processor_ref: String,
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

/// What the (simulated) customer did on the challenge page.
#[derive(Clone, PartialEq, Eq)]
pub enum ChallengeResult {
    /// The cardholder authenticated, the bank authorized or the voucher was
    /// paid.
    Approve,
    /// The customer failed or cancelled, or the voucher expired unpaid.
    Fail,
    /// The customer typed this one-time code (a wallet's confirmation).
    Otp(String),
}

impl fmt::Debug for ChallengeResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A one-time code is a credential while it is valid: keep it out of
        // log lines.
        match self {
            ChallengeResult::Approve => f.write_str("Approve"),
            ChallengeResult::Fail => f.write_str("Fail"),
            ChallengeResult::Otp(_) => f.debug_tuple("Otp").field(&"<redacted>").finish(),
        }
    }
}

/// A way to authorize, capture, void and refund payments.
#[async_trait::async_trait]
pub trait Processor: Send + Sync + 'static {
    /// Short, stable name stored with each payment, e.g. `"sandbox"`.
    fn name(&self) -> &'static str;

    /// Validates the method (Luhn/expiry/CVC format -> Decline with code
    /// incorrect_number/expired_card/incorrect_cvc where applicable) and asks
    /// the acquirer.
    async fn authorize(&self, req: AuthorizeRequest<'_>)
        -> Result<AuthorizeResult, ProcessorError>;

    /// Finishes a challenge started by authorize (3-D Secure, a wallet's
    /// one-time code, a bank redirect or a voucher). Never returns
    /// [`AuthorizeOutcome::ChallengeRequired`]; may return
    /// [`AuthorizeOutcome::UnderReview`].
    async fn complete_challenge(
        &self,
        processor_ref: &str,
        challenge_state: &str,
        result: ChallengeResult,
        amount: Money,
        capture: bool,
    ) -> Result<AuthorizeOutcome, ProcessorError>;

    /// The verdict of the risk review on an authorization that ended in
    /// [`AuthorizeOutcome::UnderReview`]: `Some(true)` accepted (capture it),
    /// `Some(false)` declined (void it), `None` still pending or never under
    /// review. How long to wait before asking is the caller's business.
    async fn review_verdict(&self, processor_ref: &str) -> Result<Option<bool>, ProcessorError>;

    /// Charges the method behind an earlier approved payment (captured, or
    /// accepted after review) again, without the customer: a merchant-
    /// initiated recurring charge. `original_ref` is the earlier payment's
    /// reference or that of an earlier successful `charge_stored`;
    /// `attempt_id` is Kassa's id for this charge. Approved means charged
    /// (captured). Never returns [`AuthorizeOutcome::ChallengeRequired`]:
    /// nobody is there to answer one.
    async fn charge_stored(
        &self,
        original_ref: &str,
        attempt_id: &str,
        amount: Money,
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
    /// [`Processor::charge_stored`] was given a reference this processor did
    /// not issue, so there is no stored method to charge.
    #[error("unknown processor reference {0}")]
    UnknownReference(String),
}
