//! The processor interface Kassa uses to move money, and the built-in sandbox.
//!
//! Invariant: raw card data (the full card number and the security code) and
//! the wallet phone number exist only inside [`PaymentMethodInput`], which is
//! borrowed for the duration of one [`Processor::authorize`] call. Everything a
//! processor hands back for Kassa to store — [`PaymentMethodDetails`],
//! processor references and the `challenge_state` — is built without the PAN,
//! the CVC or the full phone number, so no stored value can leak them. A
//! connector that sends the card to its processor does so inside `authorize`
//! and keeps it in no field, log line or error text.
//!
//! The connector framework (capabilities, credential schemas, the registry
//! that builds a processor from credentials, webhook events) is in
//! `connector`. Every call that moves money is idempotent at the processor:
//! `authorize` and `charge_stored` under Kassa's attempt id, `refund` under
//! Kassa's refund id, `capture` under the reference and amount, `void` under
//! the reference; [`idempotency_key`] derives the key sent downstream.

#![forbid(unsafe_code)]

use std::fmt;

use kassa_core::card::{CardNumber, Expiry};
use kassa_core::money::Money;

mod connector;
mod live_guard;
mod sandbox;

pub use connector::{
    validate_credentials, Capabilities, Connector, ConnectorEnv, ConnectorError, Connectors,
    CredentialField, Credentials, Currencies, ProcessorEvent, ThreeDsStyle, WebhookError,
};
pub use live_guard::{details_of, is_known_test_method};
pub use sandbox::{
    challenge_kind, fault_cards, test_token_card, test_tokens, voucher_number, Fault,
    FaultySandbox, SandboxProcessor, SLOW_CARD_DELAY,
};

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

impl PaymentMethodInput {
    /// The kind of method, as [`Capabilities::methods`] and [`PaymentMethodDetails`] name it:
    /// `card` (test tokens are cards), `wallet`, `bank_redirect`, `voucher` or `test`.
    pub fn kind(&self) -> &'static str {
        match self {
            PaymentMethodInput::Card { .. } | PaymentMethodInput::TestToken(_) => "card",
            PaymentMethodInput::Wallet { .. } => "wallet",
            PaymentMethodInput::BankRedirect { .. } => "bank_redirect",
            PaymentMethodInput::Voucher => "voucher",
            PaymentMethodInput::TestMethod => "test",
        }
    }
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
    /// `true` when the method is to be saved for later charges without the customer
    /// ([`Processor::charge_stored`]): a processor that must prepare the method for that at
    /// the first payment (Stripe attaches it to a customer) does so.
    pub save_method: bool,
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
            .field("save_method", &self.save_method)
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

/// Prefix of a `challenge_state` whose challenge happens at the processor.
const REDIRECT_STATE_PREFIX: &str = "redirect:";

/// Where the customer answers a pending challenge, read from its `challenge_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeStep<'a> {
    /// On Kassa's own challenge page (the sandbox's pages, or a page that finishes the
    /// challenge through the processor's API).
    Kassa,
    /// At the processor: send the customer to `url`. When they come back, Kassa calls
    /// [`Processor::complete_challenge`] with [`ChallengeResult::Approve`]; the connector does
    /// not trust that and asks the processor how the challenge ended.
    Redirect { url: &'a str },
}

impl ChallengeStep<'_> {
    /// The step of a `challenge_state` handed out with [`AuthorizeOutcome::ChallengeRequired`].
    pub fn of(challenge_state: &str) -> ChallengeStep<'_> {
        match challenge_state.strip_prefix(REDIRECT_STATE_PREFIX) {
            Some(url) => ChallengeStep::Redirect { url },
            None => ChallengeStep::Kassa,
        }
    }

    /// The `challenge_state` a connector hands out for a challenge at the processor's `url`
    /// (which must not carry card data; a 3-D Secure URL never does).
    pub fn redirect_state(url: &str) -> String {
        format!("{REDIRECT_STATE_PREFIX}{url}")
    }
}

/// How a refund ended at the processor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    /// Done; the processor's reference for the refund.
    Succeeded(String),
    /// Accepted but not finished: a [`ProcessorEvent::RefundSucceeded`] or
    /// [`ProcessorEvent::RefundFailed`] webhook with this reference settles it.
    Pending(String),
}

/// The `Idempotency-Key` sent to the processor for one call that moves money: stable across
/// retries of the same call, different for different calls. `operation` names the call
/// (`"authorize"`, `"capture"`, …) and `parts` what identifies it (Kassa's attempt or refund
/// id; for a capture the reference and amount).
pub fn idempotency_key(operation: &str, parts: &[&str]) -> String {
    let mut key = format!("kassa-{operation}");
    for part in parts {
        key.push('-');
        key.push_str(part);
    }
    key
}

/// A way to authorize, capture, void and refund payments.
#[async_trait::async_trait]
pub trait Processor: Send + Sync + 'static {
    /// Short, stable name stored with each payment, e.g. `"sandbox"`.
    fn name(&self) -> &'static str;

    /// What this processor can do.
    fn capabilities(&self) -> Capabilities {
        Capabilities::MINIMAL
    }

    /// The credentials its connector needs (none for the sandbox).
    fn credential_schema(&self) -> &'static [CredentialField] {
        &[]
    }

    /// Verifies a webhook the processor sent (signature, freshness against `now_unix`, in
    /// seconds) and says what it reports. The caller applies the event with the same
    /// compare-and-set transitions as a direct answer, so a repeated event changes nothing.
    async fn handle_webhook(
        &self,
        _headers: &http::HeaderMap,
        _raw_body: &[u8],
        _now_unix: i64,
    ) -> Result<ProcessorEvent, WebhookError> {
        Err(WebhookError::Unsupported)
    }

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

    /// Captures (part of) an authorization. Idempotent under the reference and amount.
    async fn capture(&self, processor_ref: &str, amount: Money) -> Result<(), ProcessorError>;

    /// Releases an uncaptured authorization.
    async fn void(&self, processor_ref: &str) -> Result<(), ProcessorError>;

    /// Refunds (part of) a captured payment. `refund_id` is Kassa's id for the refund: the
    /// same id never refunds twice. Answers [`RefundOutcome::Pending`] when the processor
    /// finishes the refund later.
    async fn refund(
        &self,
        processor_ref: &str,
        refund_id: &str,
        amount: Money,
    ) -> Result<RefundOutcome, ProcessorError>;

    /// What became of an authorization whose answer Kassa never recorded (its process died
    /// while asking, or the call ended in [`ProcessorError::Unknown`]). `None`: the processor
    /// has no record of `attempt_id`, so nothing was authorized or charged; a processor that
    /// cannot be sure of that answers an error instead.
    async fn lookup(&self, attempt_id: &str) -> Result<Option<AuthorizeOutcome>, ProcessorError>;
}

/// Failures that are not a decline: the request could not be judged at all.
#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    /// A [`PaymentMethodInput::TestToken`] not in [`test_tokens`].
    #[error("unknown test payment method token {0}")]
    UnknownToken(String),
    /// The processor could not be reached or failed internally, and the request did not take
    /// effect (it was never sent, or the processor said so).
    #[error("processor unavailable: {0}")]
    Unavailable(String),
    /// The request may have reached the processor but no answer came back (a timeout, a
    /// connection lost mid-answer): it may or may not have taken effect. Do not retry as a new
    /// attempt; [`Processor::lookup`] settles it later.
    #[error("processor outcome unknown: {0}")]
    Unknown(String),
    /// The processor refused the request itself (bad credentials, an invalid parameter): a
    /// configuration or programming error, not a decline.
    #[error("processor rejected the request: {0}")]
    Rejected(String),
    /// A reference or challenge state the processor did not issue.
    #[error("invalid processor state")]
    InvalidState,
    /// [`Processor::charge_stored`] was given a reference this processor did
    /// not issue, so there is no stored method to charge.
    #[error("unknown processor reference {0}")]
    UnknownReference(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_steps_round_trip_a_redirect_and_default_to_kassa() {
        let state = ChallengeStep::redirect_state("https://hooks.example/3ds/abc");
        assert_eq!(
            ChallengeStep::of(&state),
            ChallengeStep::Redirect {
                url: "https://hooks.example/3ds/abc"
            }
        );
        assert_eq!(ChallengeStep::of("3ds:approve"), ChallengeStep::Kassa);
        assert_eq!(challenge_kind(&state), None);
    }

    #[test]
    fn idempotency_keys_are_stable_and_distinct_per_call() {
        let a = idempotency_key("authorize", &["pa_1"]);
        assert_eq!(a, idempotency_key("authorize", &["pa_1"]));
        assert_eq!(a, "kassa-authorize-pa_1");
        assert_ne!(a, idempotency_key("authorize", &["pa_2"]));
        assert_ne!(
            idempotency_key("capture", &["pi_1", "600"]),
            idempotency_key("capture", &["pi_1", "700"])
        );
    }
}
