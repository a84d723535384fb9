//! The payment intent as `/v1/payment_intents` answers it (and as events and declines carry it).

use kassa_core::intent::{CaptureMethod, IntentStatus, Metadata};
use kassa_core::payment_method::SetupFutureUsage;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{CurrencyCode, ListObject};

/// A payment intent: one payment from creation to its final state.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentIntentObject {
    /// `pi_…`
    pub id: String,
    /// Always `payment_intent`.
    pub object: String,
    /// Minor units of `currency`.
    pub amount: i64,
    /// What a capture may still take (authorized, not yet captured).
    pub amount_capturable: i64,
    /// Captured so far.
    pub amount_received: i64,
    /// Refunded so far.
    pub amount_refunded: i64,
    /// Lower-case ISO 4217 code, e.g. `usd`.
    #[schema(value_type = CurrencyCode)]
    pub currency: String,
    pub status: IntentStatus,
    pub capture_method: CaptureMethod,
    /// What a publishable key needs to retrieve and confirm this intent.
    pub client_secret: String,
    /// The hosted checkout page for this intent.
    pub checkout_url: String,
    #[schema(required = true)]
    pub description: Option<String>,
    #[schema(value_type = BTreeMap<String, String>)]
    pub metadata: Metadata,
    /// Where the hosted checkout sends the customer after paying.
    #[schema(required = true)]
    pub return_url: Option<String>,
    #[schema(required = true)]
    pub receipt_email: Option<String>,
    /// Why the last attempt failed; null once a payment succeeds or before any failed.
    #[schema(required = true)]
    pub last_payment_error: Option<LastPaymentError>,
    /// What the customer must do next, while `requires_action`.
    #[schema(required = true)]
    pub next_action: Option<NextAction>,
    /// What paid (or last tried to pay): a safe description, never a card number.
    #[schema(required = true)]
    pub payment_method: Option<PaymentMethodSummary>,
    /// The paying customer (`cus_…`), when the merchant named one.
    #[schema(required = true)]
    pub customer: Option<String>,
    /// The card this payment is made with is saved for the customer, for this use.
    #[schema(required = true)]
    pub setup_future_usage: Option<SetupFutureUsage>,
    /// Unix seconds, once canceled.
    #[schema(required = true)]
    pub canceled_at: Option<i64>,
    #[schema(required = true)]
    pub cancellation_reason: Option<CancellationReason>,
    /// Unix seconds.
    pub created: i64,
    /// True for live-mode data (made with a live key), false for test data.
    pub livemode: bool,
}

/// Why an intent was canceled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CancellationReason {
    /// Given by the merchant (or by Paymob's void of an authorization).
    Duplicate,
    /// Given by the merchant, or a risk review declined the held authorization.
    Fraudulent,
    RequestedByCustomer,
    /// Given by the merchant, or the payer left a Paymob payment unfinished.
    Abandoned,
    /// Kassa released an authorization nobody captured within its capture window.
    Automatic,
}

/// The last attempt's failure.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LastPaymentError {
    /// `card_error` (a decline) or `api_error` (the processor failed; nothing was charged).
    #[serde(rename = "type")]
    pub kind: PaymentErrorType,
    /// E.g. `card_declined`, `expired_card`, `incorrect_cvc`, `authentication_required`,
    /// `processing_error`.
    pub code: String,
    /// Declines: the issuer's reason, e.g. `insufficient_funds`, `lost_card`.
    pub decline_code: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentErrorType {
    CardError,
    ApiError,
}

/// A 3-D Secure challenge to pass.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NextAction {
    /// Always `redirect_to_url`.
    #[serde(rename = "type")]
    pub kind: String,
    pub redirect_to_url: RedirectToUrl,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedirectToUrl {
    /// Send the customer here.
    pub url: String,
    /// Where they come back to, when the intent has a `return_url`.
    pub return_url: Option<String>,
}

/// What kind of method paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MethodKind {
    Card,
    /// A mobile wallet (Paymob's wallets).
    Wallet,
    /// An online-banking redirect.
    BankRedirect,
    /// A kiosk or cash voucher.
    Voucher,
    /// Paymentwall's Test payment method.
    Test,
}

/// The method a payment used: only what is safe to show.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentMethodSummary {
    /// The saved payment method (`pm_…`) that paid, when a saved card did.
    pub id: Option<String>,
    pub kind: MethodKind,
    /// Lower-case card brand (`visa`, `mastercard`, …); for other kinds `sandbox_wallet`, the
    /// bank's code, `sandbox_voucher` or `test`.
    pub brand: String,
    /// A card's first six digits, when known.
    #[schema(required = true)]
    pub bin: Option<String>,
    /// Last four digits of the card or the wallet's phone number; empty for other kinds.
    pub last4: String,
    /// 1 to 12; 0 when the method does not expire (or it is not known).
    pub exp_month: u32,
    /// Four digits; 0 when the method does not expire (or it is not known).
    pub exp_year: u32,
    /// Equal for the same card (or phone) under this Kassa installation; empty when there is
    /// no number.
    pub fingerprint: String,
}

/// A page of payment intents, newest first.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentIntentList {
    pub object: ListObject,
    /// `/v1/payment_intents`
    pub url: String,
    /// More come after the last one (`starting_after` its id).
    pub has_more: bool,
    pub data: Vec<PaymentIntentObject>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::tests::pinned;
    use super::*;
    use crate::native::list_body;
    use kassa_core::intent::{NextAction as CoreNextAction, PaymentIntent, RedirectToUrl as Url};
    use kassa_core::money::Currency;
    use kassa_core::payment_method::PaymentMethod;
    use kassa_processor::PaymentMethodDetails;
    use serde_json::json;

    /// A fresh intent, as `create` makes it.
    pub(crate) fn intent() -> PaymentIntent {
        PaymentIntent {
            id: "pi_1".into(),
            merchant_id: "acct_1".into(),
            livemode: false,
            amount: 1000,
            currency: Currency::parse("usd").unwrap(),
            status: IntentStatus::RequiresPaymentMethod,
            capture_method: CaptureMethod::Automatic,
            amount_capturable: 0,
            amount_received: 0,
            amount_refunded: 0,
            description: None,
            metadata: Metadata::new(),
            return_url: None,
            receipt_email: None,
            client_secret: "pi_1_secret_x".into(),
            checkout_token: "cs_1".into(),
            last_payment_error: None,
            payment_method: None,
            next_action: None,
            processor_ref: None,
            processor_account: None,
            canceled_at: None,
            cancellation_reason: None,
            capture_window_ms: kassa_core::intent::DEFAULT_CAPTURE_WINDOW_MS,
            capture_before: None,
            review_delay_ms: kassa_core::intent::DEFAULT_REVIEW_DELAY_MS,
            review_at: None,
            voucher_window_ms: kassa_core::intent::DEFAULT_VOUCHER_WINDOW_MS,
            order_key: None,
            pay_before: None,
            customer: None,
            setup_future_usage: None,
            created: 1_700_000_000_000,
            updated: 1_700_000_000_000,
            version: 0,
        }
    }

    fn read(pi: &PaymentIntent) -> PaymentIntentObject {
        pinned(&pi.to_json("http://kassa.test"))
    }

    /// The documented schemas are the objects the handlers answer (unknown fields refused).
    #[test]
    fn schemas_match_the_objects() {
        let fresh = read(&intent());
        assert_eq!(fresh.status, IntentStatus::RequiresPaymentMethod);
        assert!(fresh.payment_method.is_none());

        // Paid by a card typed in, saved for the customer, then canceled as a held one would be.
        let mut pi = intent();
        pi.description = Some("Order 7".into());
        pi.metadata.insert("order".into(), "7".into());
        pi.return_url = Some("https://shop.test/done".into());
        pi.receipt_email = Some("a@b.co".into());
        pi.customer = Some("cus_1".into());
        pi.setup_future_usage = Some(SetupFutureUsage::OffSession);
        let number = kassa_core::card::CardNumber::parse("4242424242424242").unwrap();
        let expiry = kassa_core::card::Expiry::parse("12", "2034").unwrap();
        let card = PaymentMethodDetails::for_card(&number, expiry, b"key");
        pi.payment_method = Some(card.clone());
        pi.status = IntentStatus::Canceled;
        pi.canceled_at = Some(1_700_000_100_000);
        pi.cancellation_reason = Some(kassa_core::intent::EXPIRED_AUTHORIZATION_REASON.into());
        let o = read(&pi);
        let m = o.payment_method.unwrap();
        assert_eq!(
            (m.kind, m.bin.as_deref(), m.id),
            (MethodKind::Card, Some("424242"), None)
        );
        assert_eq!(o.cancellation_reason, Some(CancellationReason::Automatic));
        assert_eq!(o.canceled_at, Some(1_700_000_100));

        // A saved card's payment names the saved method; a challenge waits for the customer.
        let saved = PaymentMethod {
            id: "pm_1".into(),
            merchant_id: "acct_1".into(),
            livemode: false,
            customer: Some("cus_1".into()),
            kind: "card".into(),
            details: card.clone(),
            processor_ref: "sbx_1".into(),
            source_payment: None,
            usage: SetupFutureUsage::OffSession,
            created: 0,
            detached_at: None,
        };
        let mut pi = intent();
        pi.payment_method = Some(saved.payment_details());
        pi.status = IntentStatus::RequiresAction;
        pi.next_action = Some(CoreNextAction {
            kind: "redirect_to_url".into(),
            redirect_to_url: Url {
                url: "http://kassa.test/3ds/x".into(),
                return_url: Some("https://shop.test/done".into()),
            },
        });
        let o = read(&pi);
        assert_eq!(o.payment_method.unwrap().id.as_deref(), Some("pm_1"));
        assert!(o.next_action.is_some());

        // Every other kind of method the processor describes, and Paymob's saved card.
        for details in [
            json!({"kind": "wallet", "brand": "sandbox_wallet", "bin": null, "last4": "0001",
                "exp_month": 0, "exp_year": 0, "fingerprint": "ab"}),
            json!({"kind": "bank_redirect", "brand": "bank", "bin": null, "last4": "",
                "exp_month": 0, "exp_year": 0, "fingerprint": ""}),
            json!({"kind": "voucher", "brand": "sandbox_voucher", "bin": null, "last4": "",
                "exp_month": 0, "exp_year": 0, "fingerprint": ""}),
            json!({"kind": "test", "brand": "test", "bin": null, "last4": "",
                "exp_month": 0, "exp_year": 0, "fingerprint": ""}),
        ] {
            let details: PaymentMethodDetails = serde_json::from_value(details).unwrap();
            let mut pi = intent();
            pi.payment_method = Some(details);
            read(&pi);
        }

        // A decline leaves its error on the intent.
        let mut pi = intent();
        pi.last_payment_error = Some(kassa_core::intent::PaymentError {
            kind: "card_error".into(),
            code: "card_declined".into(),
            decline_code: Some("generic_decline".into()),
            message: "Your card was declined.".into(),
        });
        let e = read(&pi).last_payment_error.unwrap();
        assert_eq!(e.kind, PaymentErrorType::CardError);

        let items = vec![intent().to_json("http://kassa.test")];
        let l: PaymentIntentList = pinned(&list_body("/v1/payment_intents", items, 10));
        assert_eq!(l.data.len(), 1);
    }
}
