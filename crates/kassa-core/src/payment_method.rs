//! Saved payment methods: a card a customer agreed to keep on file, so the merchant can charge it
//! again (a subscription's renewal, a one-click payment) without the card details. Shaped like
//! Stripe's payment method object.
//!
//! What is kept is the processor's reference to the stored credential (a keyed token that only
//! Kassa's processor account can charge) and the card's safe description (brand, last 4, expiry,
//! keyed fingerprint): never a card number or a security code.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::intent::{IntentStatus, PaymentIntent};
pub use crate::method_details::PaymentMethodDetails;

/// What the customer agreed to when a payment saved its card (Stripe's `setup_future_usage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SetupFutureUsage {
    /// The merchant may charge the card while the customer is away (renewals, instalments).
    OffSession,
    /// The customer will pick the card again when they pay (one-click checkout).
    OnSession,
}

impl SetupFutureUsage {
    pub fn as_str(&self) -> &'static str {
        match self {
            SetupFutureUsage::OffSession => "off_session",
            SetupFutureUsage::OnSession => "on_session",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "off_session" => Some(SetupFutureUsage::OffSession),
            "on_session" => Some(SetupFutureUsage::OnSession),
            _ => None,
        }
    }
}

/// A saved payment method as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentMethod {
    pub id: String,
    pub merchant_id: String,
    /// `true` for live-mode data (see [`crate::scope`]).
    pub livemode: bool,
    /// The customer it is attached to; `None` once detached (it can then never be charged).
    pub customer: Option<String>,
    /// `card` (only cards are saved today).
    pub kind: String,
    /// The safe description the processor gave when the card was first paid with: `brand`,
    /// `last4`, `exp_month`, `exp_year`, `fingerprint` (and `bin`). Never a card number.
    pub details: PaymentMethodDetails,
    /// The processor's reference to the stored credential: what a later charge names.
    pub processor_ref: String,
    /// The payment that saved it.
    pub source_payment: Option<String>,
    pub usage: SetupFutureUsage,
    pub created: i64,
    pub detached_at: Option<i64>,
}

/// Why a saved method cannot pay an intent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UseError {
    #[error("This PaymentMethod was detached from its customer and can no longer be used.")]
    Detached,
    #[error("The PaymentMethod belongs to a customer; create the PaymentIntent with that customer to use it.")]
    OtherCustomer,
}

impl PaymentMethod {
    /// The card's description that a payment made with this method carries, with the method's
    /// id so the merchant can tell which saved card paid.
    pub fn payment_details(&self) -> PaymentMethodDetails {
        PaymentMethodDetails {
            id: Some(self.id.clone()),
            ..self.details.clone()
        }
    }

    /// A payment may use this method only while it is attached, and only for the customer it
    /// is attached to.
    pub fn check_use_by(&self, customer: Option<&str>) -> Result<(), UseError> {
        match &self.customer {
            None => Err(UseError::Detached),
            Some(owner) if Some(owner.as_str()) == customer => Ok(()),
            Some(_) => Err(UseError::OtherCustomer),
        }
    }

    /// The native API representation (Stripe-shaped).
    pub fn to_json(&self) -> Value {
        let d = &self.details;
        let card = json!({
            "brand": d.brand,
            "last4": d.last4,
            "exp_month": d.exp_month,
            "exp_year": d.exp_year,
            "fingerprint": d.fingerprint,
        });
        json!({
            "id": self.id,
            "object": "payment_method",
            "type": self.kind,
            "card": card,
            "customer": self.customer,
            "allow_redisplay": match self.usage {
                SetupFutureUsage::OffSession => "always",
                SetupFutureUsage::OnSession => "limited",
            },
            "created": self.created / 1000,
            "livemode": self.livemode,
        })
    }
}

/// Whether a payment that just authorized saves its method: it asked to (`setup_future_usage`
/// and a customer; a customer who refuses on the payment page clears the former), it was paid by
/// card, it is not held for a risk review (a card the review may call fraudulent is not kept),
/// and it has not saved one already. Returns the usage to save it for.
pub fn to_save(pi: &PaymentIntent) -> Option<SetupFutureUsage> {
    let authorized = matches!(
        pi.status,
        IntentStatus::Succeeded | IntentStatus::RequiresCapture
    ) && pi.review_at.is_none();
    let by_card = pi
        .payment_method
        .as_ref()
        .is_some_and(PaymentMethodDetails::is_new_card);
    match (pi.setup_future_usage, &pi.customer, &pi.processor_ref) {
        (Some(usage), Some(_), Some(_)) if authorized && by_card => Some(usage),
        _ => None,
    }
}

impl PaymentMethod {
    /// The merchant and mode this object belongs to.
    pub fn scope(&self) -> crate::scope::Scope {
        crate::scope::Scope {
            merchant_id: self.merchant_id.clone(),
            livemode: self.livemode,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::tests::intent;
    use crate::intent::CaptureMethod;

    fn details(kind: &str, last4: &str) -> PaymentMethodDetails {
        PaymentMethodDetails {
            kind: kind.into(),
            brand: "visa".into(),
            bin: Some("424242".into()),
            last4: last4.into(),
            exp_month: 12,
            exp_year: 2034,
            fingerprint: "fp".into(),
            id: None,
        }
    }

    fn method(customer: Option<&str>) -> PaymentMethod {
        PaymentMethod {
            id: "pm_1".into(),
            merchant_id: "acct_1".into(),
            livemode: false,
            customer: customer.map(Into::into),
            kind: "card".into(),
            details: details("card", "4242"),
            processor_ref: "sbx_x".into(),
            source_payment: Some("pi_1".into()),
            usage: SetupFutureUsage::OffSession,
            created: 1_700_000_000_000,
            detached_at: None,
        }
    }

    #[test]
    fn only_its_own_customer_may_use_an_attached_method() {
        assert_eq!(method(Some("cus_a")).check_use_by(Some("cus_a")), Ok(()));
        assert_eq!(
            method(Some("cus_a")).check_use_by(Some("cus_b")),
            Err(UseError::OtherCustomer)
        );
        assert_eq!(
            method(Some("cus_a")).check_use_by(None),
            Err(UseError::OtherCustomer)
        );
        assert_eq!(
            method(None).check_use_by(Some("cus_a")),
            Err(UseError::Detached)
        );
    }

    #[test]
    fn the_api_shows_the_card_but_never_the_processor_reference_or_bin() {
        let j = method(Some("cus_a")).to_json();
        assert_eq!(j["object"], "payment_method");
        assert_eq!(j["card"]["last4"], "4242");
        assert_eq!(j["card"]["brand"], "visa");
        assert_eq!(j["customer"], "cus_a");
        assert_eq!(j["created"], 1_700_000_000);
        let text = j.to_string();
        assert!(
            !text.contains("sbx_x") && !text.contains("424242"),
            "{text}"
        );
        assert_eq!(method(None).payment_details().id.as_deref(), Some("pm_1"));
    }

    #[test]
    fn a_payment_saves_its_card_only_when_asked_and_authorized() {
        let mut pi = intent(CaptureMethod::Automatic);
        pi.customer = Some("cus_a".into());
        pi.setup_future_usage = Some(SetupFutureUsage::OffSession);
        pi.status = IntentStatus::Succeeded;
        pi.processor_ref = Some("sbx_x".into());
        pi.payment_method = Some(details("card", "4242"));
        assert_eq!(to_save(&pi), Some(SetupFutureUsage::OffSession));
        pi.status = IntentStatus::RequiresCapture;
        assert_eq!(to_save(&pi), Some(SetupFutureUsage::OffSession));
        let mut reviewed = pi.clone();
        reviewed.review_at = Some(1);
        assert_eq!(to_save(&reviewed), None, "held for review");
        for status in [
            IntentStatus::RequiresPaymentMethod,
            IntentStatus::RequiresAction,
            IntentStatus::Processing,
            IntentStatus::Canceled,
        ] {
            pi.status = status;
            assert_eq!(to_save(&pi), None, "{status:?}");
        }
        pi.status = IntentStatus::Succeeded;
        let mut no_customer = pi.clone();
        no_customer.customer = None;
        assert_eq!(to_save(&no_customer), None);
        let mut not_asked = pi.clone();
        not_asked.setup_future_usage = None;
        assert_eq!(to_save(&not_asked), None);
        let mut wallet = pi.clone();
        wallet.payment_method = Some(details("wallet", "0001"));
        assert_eq!(to_save(&wallet), None);
        let mut already_saved = pi.clone();
        already_saved.payment_method = Some(method(Some("cus_a")).payment_details());
        assert_eq!(to_save(&already_saved), None);
    }
}
