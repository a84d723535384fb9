//! The payment-intent and refund state machines. Every status change goes through
//! [`PaymentIntent::transition`], which holds the one table of legal moves; an illegal move is an
//! error and leaves the intent untouched. Amount invariants (captured <= authorized, refunded <=
//! captured) are checked here too, so no dialect can bypass them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::events::EventType;
use crate::money::Currency;

mod attempt;
mod refund;

pub use attempt::{AttemptStatus, AuthorizationResult, NextAction, PaymentError, RedirectToUrl};
pub use refund::{Refund, RefundKind, RefundStatus, REFUND_REASONS};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntentStatus {
    RequiresPaymentMethod,
    RequiresAction,
    Processing,
    RequiresCapture,
    Succeeded,
    Canceled,
}

impl IntentStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            IntentStatus::RequiresPaymentMethod => "requires_payment_method",
            IntentStatus::RequiresAction => "requires_action",
            IntentStatus::Processing => "processing",
            IntentStatus::RequiresCapture => "requires_capture",
            IntentStatus::Succeeded => "succeeded",
            IntentStatus::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "requires_payment_method" => IntentStatus::RequiresPaymentMethod,
            "requires_action" => IntentStatus::RequiresAction,
            "processing" => IntentStatus::Processing,
            "requires_capture" => IntentStatus::RequiresCapture,
            "succeeded" => IntentStatus::Succeeded,
            "canceled" => IntentStatus::Canceled,
            _ => return None,
        })
    }

    /// The one table of legal status changes.
    fn may_become(self, to: IntentStatus) -> bool {
        use IntentStatus::*;
        matches!(
            (self, to),
            (RequiresPaymentMethod, Processing)
                | (RequiresPaymentMethod, Canceled)
                | (Processing, RequiresAction)
                | (Processing, RequiresCapture)
                | (Processing, Succeeded)
                | (Processing, RequiresPaymentMethod)
                | (RequiresAction, Processing)
                | (RequiresAction, RequiresPaymentMethod)
                | (RequiresAction, Canceled)
                | (RequiresCapture, Succeeded)
                | (RequiresCapture, Canceled)
        )
    }

    pub fn is_final(self) -> bool {
        matches!(self, IntentStatus::Succeeded | IntentStatus::Canceled)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMethod {
    Automatic,
    Manual,
}

impl CaptureMethod {
    pub fn as_str(&self) -> &'static str {
        match self {
            CaptureMethod::Automatic => "automatic",
            CaptureMethod::Manual => "manual",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "automatic" => Some(CaptureMethod::Automatic),
            "manual" => Some(CaptureMethod::Manual),
            _ => None,
        }
    }
}

pub type Metadata = BTreeMap<String, String>;

/// How long an authorization waits for its capture before Kassa releases it, unless the face
/// that made the payment says otherwise: 7 days, as card networks allow for most merchants.
pub const DEFAULT_CAPTURE_WINDOW_MS: i64 = 7 * crate::calendar::DAY_MS;

/// The cancellation reason of an authorization released because its capture window ran out.
pub const EXPIRED_AUTHORIZATION_REASON: &str = "automatic";

/// How long a payment made later offline (a cash voucher, a kiosk reference) stays payable,
/// unless the face that made the payment says otherwise: 72 hours.
pub const DEFAULT_VOUCHER_WINDOW_MS: i64 = 72 * 3_600_000;

/// How long after an authorization is held for a risk review Kassa first asks the processor
/// for the verdict, and then again while there is none, unless the face says otherwise.
pub const DEFAULT_REVIEW_DELAY_MS: i64 = 120_000;

/// The cancellation reason of an authorization the risk review declined.
pub const REVIEW_DECLINED_REASON: &str = "fraudulent";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("This PaymentIntent's status is {from}; it cannot become {to}.")]
    IllegalTransition {
        from: &'static str,
        to: &'static str,
    },
    #[error("{0}")]
    Amount(String),
}

/// A payment intent as stored. Amounts are minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Eq)]
/// Timestamps (`created`, `updated`, `canceled_at`) are Unix milliseconds; the API shows seconds.
pub struct PaymentIntent {
    pub id: String,
    pub merchant_id: String,
    /// `true` for live-mode data (see [`crate::scope`]).
    pub livemode: bool,
    pub amount: i64,
    pub currency: Currency,
    pub status: IntentStatus,
    pub capture_method: CaptureMethod,
    pub amount_capturable: i64,
    pub amount_received: i64,
    pub amount_refunded: i64,
    pub description: Option<String>,
    pub metadata: Metadata,
    pub return_url: Option<String>,
    pub receipt_email: Option<String>,
    pub client_secret: String,
    pub checkout_token: String,
    pub last_payment_error: Option<PaymentError>,
    /// Safe description of the method used (brand, last 4, expiry, fingerprint); never a PAN.
    pub payment_method: Option<crate::method_details::PaymentMethodDetails>,
    pub next_action: Option<NextAction>,
    /// The processor's reference for the authorization, needed to capture, void or refund.
    pub processor_ref: Option<String>,
    /// The processor account (`pa_…`) that took the payment, in live mode: its capture, void
    /// and refunds go to the same account even after the merchant configured another one.
    /// `None` for the sandbox.
    pub processor_account: Option<String>,
    pub canceled_at: Option<i64>,
    pub cancellation_reason: Option<String>,
    /// How long an authorization of this payment may wait for its capture (milliseconds); the
    /// face that made it chooses ([`DEFAULT_CAPTURE_WINDOW_MS`] natively, 14 days for Paymob).
    pub capture_window_ms: i64,
    /// While `requires_capture`: when the authorization is released if nobody captured it.
    pub capture_before: Option<i64>,
    /// How long to wait before asking for a risk review's verdict (milliseconds); the face that
    /// made the payment chooses (a Paymentwall project's setting), else
    /// [`DEFAULT_REVIEW_DELAY_MS`].
    pub review_delay_ms: i64,
    /// While an authorization is held for a risk review: when to ask for the verdict next.
    pub review_at: Option<i64>,
    /// How long an offline payment (a voucher) stays payable (milliseconds); the face that made
    /// the payment chooses (Paymentwall 72 hours, Paymob 48), else
    /// [`DEFAULT_VOUCHER_WINDOW_MS`].
    pub voucher_window_ms: i64,
    /// While an offline payment is pending: when it stops being payable (it then declines with
    /// `voucher_expired`).
    pub pay_before: Option<i64>,
    /// The customer paying, when the merchant named one: a card saved by this payment is
    /// attached to them, and only their saved cards may pay it.
    pub customer: Option<String>,
    /// The order this payment is for, when the order takes one payment
    /// ([`crate::order`]): `face:id`, unique within the merchant.
    pub order_key: Option<String>,
    /// Save the card this payment is made with, for this use.
    pub setup_future_usage: Option<crate::payment_method::SetupFutureUsage>,
    pub created: i64,
    pub updated: i64,
    /// Optimistic-concurrency counter: the store only writes a change made from the version it read.
    pub version: i64,
}

impl PaymentIntent {
    /// Moves to `to` if the table allows it; otherwise nothing changes.
    pub fn transition(&mut self, to: IntentStatus, now: i64) -> Result<(), TransitionError> {
        if !self.status.may_become(to) {
            return Err(TransitionError::IllegalTransition {
                from: self.status.as_str(),
                to: to.as_str(),
            });
        }
        if to != IntentStatus::RequiresCapture {
            // Only an authorization waiting for its capture has a deadline or a review.
            self.capture_before = None;
            self.review_at = None;
        }
        if to != IntentStatus::RequiresAction {
            // Only a pending offline payment has a payment deadline.
            self.pay_before = None;
        }
        self.status = to;
        self.updated = now;
        Ok(())
    }

    /// A confirmation starts: the intent is claimed (`processing`) so that no second
    /// confirmation can charge the customer while the processor is asked.
    pub fn begin_confirm(&mut self, now: i64) -> Result<(), TransitionError> {
        self.transition(IntentStatus::Processing, now)?;
        self.last_payment_error = None;
        self.next_action = None;
        Ok(())
    }

    /// The cardholder finished (or abandoned) a 3-D Secure challenge.
    pub fn begin_challenge_completion(&mut self, now: i64) -> Result<(), TransitionError> {
        if self.status != IntentStatus::RequiresAction {
            return Err(TransitionError::IllegalTransition {
                from: self.status.as_str(),
                to: IntentStatus::Processing.as_str(),
            });
        }
        self.transition(IntentStatus::Processing, now)?;
        self.next_action = None;
        Ok(())
    }

    /// A pending offline payment past its window: it can no longer be paid.
    pub fn offline_payment_expired(&self, now: i64) -> bool {
        self.pay_before.is_some_and(|t| now >= t)
    }

    /// Applies what the processor said about a `processing` intent and returns the events to emit.
    pub fn apply_authorization(
        &mut self,
        result: AuthorizationResult,
        payment_method: Option<crate::method_details::PaymentMethodDetails>,
        now: i64,
    ) -> Result<Vec<EventType>, TransitionError> {
        if payment_method.is_some() {
            self.payment_method = payment_method;
        }
        match result {
            AuthorizationResult::Approved { processor_ref } => match self.capture_method {
                CaptureMethod::Automatic => {
                    self.transition(IntentStatus::Succeeded, now)?;
                    self.processor_ref = Some(processor_ref);
                    self.amount_received = self.amount;
                    self.amount_capturable = 0;
                    Ok(vec![EventType::PaymentIntentSucceeded])
                }
                CaptureMethod::Manual => self.hold(processor_ref, now),
            },
            AuthorizationResult::Held { processor_ref } => {
                let events = self.hold(processor_ref, now)?;
                self.review_at = Some(now + self.review_delay_ms);
                Ok(events)
            }
            AuthorizationResult::ChallengeRequired {
                redirect_url,
                offline,
            } => {
                self.transition(IntentStatus::RequiresAction, now)?;
                self.pay_before = offline.then(|| now + self.voucher_window_ms);
                self.next_action = Some(NextAction {
                    kind: "redirect_to_url".into(),
                    redirect_to_url: RedirectToUrl {
                        url: redirect_url,
                        return_url: self.return_url.clone(),
                    },
                });
                Ok(vec![EventType::PaymentIntentRequiresAction])
            }
            AuthorizationResult::Declined(error) => {
                self.transition(IntentStatus::RequiresPaymentMethod, now)?;
                self.last_payment_error = Some(error);
                self.next_action = None;
                Ok(vec![EventType::PaymentIntentPaymentFailed])
            }
        }
    }

    fn hold(&mut self, processor_ref: String, now: i64) -> Result<Vec<EventType>, TransitionError> {
        self.transition(IntentStatus::RequiresCapture, now)?;
        self.processor_ref = Some(processor_ref);
        self.amount_capturable = self.amount;
        self.capture_before = Some(now + self.capture_window_ms);
        Ok(vec![EventType::PaymentIntentAmountCapturableUpdated])
    }

    /// True while the authorization is held for a risk review (its verdict not yet applied).
    pub fn under_review(&self) -> bool {
        self.status == IntentStatus::RequiresCapture && self.review_at.is_some()
    }

    /// The review has no verdict yet: ask again one delay (at least a second) from `now`.
    pub fn review_later(&mut self, now: i64) {
        if self.under_review() {
            self.review_at = Some(now + self.review_delay_ms.max(1_000));
            self.updated = now;
        }
    }

    /// The review accepted a held authorization whose capture is the merchant's to make
    /// (manual capture): it simply stops being under review.
    pub fn review_accepted_for_manual_capture(&mut self, now: i64) {
        if self.under_review() && self.capture_method == CaptureMethod::Manual {
            self.review_at = None;
            self.updated = now;
        }
    }

    /// Counts a held authorization's capture window from `clock_now` instead of the time it
    /// was applied at: the payment of a customer on a test clock lives in the clock's time, so
    /// advancing the clock is what makes it expire. Nothing to do without a deadline.
    pub fn count_capture_window_from(&mut self, clock_now: i64) {
        if self.capture_before.is_some() {
            self.capture_before = Some(clock_now + self.capture_window_ms);
        }
    }

    /// True when this authorization's capture window has run out at `now`: it is to be
    /// released (voided at the processor, then cancelled as [`EXPIRED_AUTHORIZATION_REASON`]).
    pub fn authorization_expired(&self, now: i64) -> bool {
        self.status == IntentStatus::RequiresCapture
            && self.capture_before.is_some_and(|t| now >= t)
    }

    /// Captures `amount` (all that is capturable when `None`) of an authorized intent.
    pub fn capture(
        &mut self,
        amount: Option<i64>,
        now: i64,
    ) -> Result<Vec<EventType>, TransitionError> {
        if self.status != IntentStatus::RequiresCapture {
            return Err(TransitionError::IllegalTransition {
                from: self.status.as_str(),
                to: IntentStatus::Succeeded.as_str(),
            });
        }
        let amount = amount.unwrap_or(self.amount_capturable);
        if amount <= 0 || amount > self.amount_capturable {
            return Err(TransitionError::Amount(format!(
                "amount_to_capture must be between 1 and the capturable amount {}.",
                self.amount_capturable
            )));
        }
        self.transition(IntentStatus::Succeeded, now)?;
        self.amount_received = amount;
        self.amount_capturable = 0;
        Ok(vec![EventType::PaymentIntentSucceeded])
    }

    /// Cancels an intent that has not been captured.
    pub fn cancel(
        &mut self,
        reason: Option<String>,
        now: i64,
    ) -> Result<Vec<EventType>, TransitionError> {
        self.transition(IntentStatus::Canceled, now)?;
        self.amount_capturable = 0;
        self.next_action = None;
        self.canceled_at = Some(now);
        self.cancellation_reason = reason;
        Ok(vec![EventType::PaymentIntentCanceled])
    }

    /// How much may still be refunded.
    pub fn refundable(&self) -> i64 {
        if self.status == IntentStatus::Succeeded {
            self.amount_received - self.amount_refunded
        } else {
            0
        }
    }

    /// Checks a refund request against the captured amount; the store repeats the same bound in
    /// its conditional update, so two concurrent refunds cannot both pass.
    pub fn check_refund(&self, amount: Option<i64>) -> Result<i64, TransitionError> {
        if self.status != IntentStatus::Succeeded {
            return Err(TransitionError::Amount(format!(
                "This PaymentIntent's status is {}; only a succeeded payment can be refunded.",
                self.status.as_str()
            )));
        }
        let refundable = self.refundable();
        let amount = amount.unwrap_or(refundable);
        if refundable == 0 {
            return Err(TransitionError::Amount(
                "This payment has already been fully refunded.".into(),
            ));
        }
        if amount <= 0 || amount > refundable {
            return Err(TransitionError::Amount(format!(
                "Refund amount must be between 1 and the refundable amount {refundable}."
            )));
        }
        Ok(amount)
    }

    /// The native API representation (Stripe-shaped).
    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "amount_capturable": self.amount_capturable,
            "amount_received": self.amount_received,
            "amount_refunded": self.amount_refunded,
            "currency": self.currency,
            "status": self.status,
            "capture_method": self.capture_method,
            "client_secret": self.client_secret,
            "checkout_url": checkout_url(base_url, &self.checkout_token),
            "description": self.description,
            "metadata": self.metadata,
            "return_url": self.return_url,
            "receipt_email": self.receipt_email,
            "last_payment_error": self.last_payment_error,
            "next_action": self.next_action,
            "payment_method": self.payment_method,
            "customer": self.customer,
            "setup_future_usage": self.setup_future_usage,
            "canceled_at": self.canceled_at.map(|t| t / 1000),
            "cancellation_reason": self.cancellation_reason,
            "created": self.created / 1000,
            "livemode": self.livemode,
        })
    }
}

pub fn checkout_url(base_url: &str, token: &str) -> String {
    format!("{}/checkout/{token}", base_url.trim_end_matches('/'))
}

pub const CANCELLATION_REASONS: &[&str] = &[
    "duplicate",
    "fraudulent",
    "requested_by_customer",
    "abandoned",
];

impl PaymentIntent {
    /// The merchant and mode this object belongs to.
    pub fn scope(&self) -> crate::scope::Scope {
        crate::scope::Scope {
            merchant_id: self.merchant_id.clone(),
            livemode: self.livemode,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #[test]
    fn refund_kinds_round_trip_through_their_stored_parts() {
        for kind in [
            RefundKind::Refund,
            RefundKind::Void,
            RefundKind::Chargeback { reason: 1 },
            RefundKind::Chargeback { reason: 255 },
        ] {
            let reason = kind.chargeback_reason().map(i64::from);
            assert_eq!(RefundKind::from_parts(kind.as_str(), reason), Some(kind));
        }
        assert_eq!(RefundKind::from_parts("chargeback", None), None);
        assert_eq!(RefundKind::from_parts("chargeback", Some(256)), None);
        assert_eq!(RefundKind::from_parts("chargeback", Some(-1)), None);
        assert_eq!(RefundKind::from_parts("refund", Some(1)), None);
        assert_eq!(RefundKind::from_parts("void", Some(1)), None);
        assert_eq!(RefundKind::from_parts("reversal", None), None);
        assert_eq!(RefundKind::Void.chargeback_reason(), None);
    }

    use super::*;

    pub(crate) fn intent(capture: CaptureMethod) -> PaymentIntent {
        PaymentIntent {
            id: "pi_x".into(),
            merchant_id: "acct_x".into(),
            livemode: false,
            amount: 1000,
            currency: Currency::parse("usd").unwrap(),
            status: IntentStatus::RequiresPaymentMethod,
            capture_method: capture,
            amount_capturable: 0,
            amount_received: 0,
            amount_refunded: 0,
            description: None,
            metadata: Metadata::new(),
            return_url: None,
            receipt_email: None,
            client_secret: "pi_x_secret_y".into(),
            checkout_token: "cs_z".into(),
            last_payment_error: None,
            payment_method: None,
            next_action: None,
            processor_ref: None,
            processor_account: None,
            canceled_at: None,
            cancellation_reason: None,
            capture_window_ms: DEFAULT_CAPTURE_WINDOW_MS,
            capture_before: None,
            review_delay_ms: DEFAULT_REVIEW_DELAY_MS,
            review_at: None,
            voucher_window_ms: DEFAULT_VOUCHER_WINDOW_MS,
            order_key: None,
            pay_before: None,
            customer: None,
            setup_future_usage: None,
            created: 0,
            updated: 0,
            version: 0,
        }
    }

    #[test]
    fn an_authorization_waits_for_its_capture_within_its_window() {
        let day = crate::calendar::DAY_MS;
        let mut pi = intent(CaptureMethod::Manual);
        pi.begin_confirm(10).unwrap();
        pi.apply_authorization(approved(), None, 1_000).unwrap();
        assert_eq!(pi.status, IntentStatus::RequiresCapture);
        assert_eq!(pi.capture_before, Some(1_000 + 7 * day));
        assert!(!pi.authorization_expired(1_000 + 7 * day - 1));
        assert!(pi.authorization_expired(1_000 + 7 * day));
        // On a test clock, the window counts from the clock's time.
        let mut on_clock = pi.clone();
        on_clock.count_capture_window_from(50_000);
        assert_eq!(on_clock.capture_before, Some(50_000 + 7 * day));
        // Captured: no deadline any more.
        pi.capture(None, 2_000).unwrap();
        let mut captured = pi.clone();
        captured.count_capture_window_from(50_000);
        assert_eq!(captured.capture_before, None);
        assert_eq!(
            (pi.capture_before, pi.authorization_expired(i64::MAX)),
            (None, false)
        );

        // A face's own window (Paymob: 14 days); a held (risk review) authorization has one too.
        let mut pi = intent(CaptureMethod::Automatic);
        pi.capture_window_ms = 14 * day;
        pi.begin_confirm(0).unwrap();
        pi.apply_authorization(
            AuthorizationResult::Held {
                processor_ref: "sbx_2".into(),
            },
            None,
            5,
        )
        .unwrap();
        assert_eq!(pi.capture_before, Some(5 + 14 * day));
        pi.cancel(Some(EXPIRED_AUTHORIZATION_REASON.into()), 6)
            .unwrap();
        assert_eq!(pi.capture_before, None);
        assert!(!pi.authorization_expired(i64::MAX));

        // Only a held authorization is under review, until its verdict or its end.
        let mut pi = intent(CaptureMethod::Automatic);
        pi.review_delay_ms = 0;
        pi.begin_confirm(0).unwrap();
        pi.apply_authorization(
            AuthorizationResult::Held {
                processor_ref: "sbx_3".into(),
            },
            None,
            50,
        )
        .unwrap();
        assert!(pi.under_review());
        assert_eq!(pi.review_at, Some(50));
        pi.review_later(60);
        assert_eq!(pi.review_at, Some(1_060), "at least a second apart");
        pi.capture(None, 70).unwrap();
        assert!(!pi.under_review() && pi.review_at.is_none());
        let mut manual = intent(CaptureMethod::Manual);
        manual.begin_confirm(0).unwrap();
        manual
            .apply_authorization(
                AuthorizationResult::Held {
                    processor_ref: "sbx_4".into(),
                },
                None,
                0,
            )
            .unwrap();
        assert_eq!(manual.review_at, Some(DEFAULT_REVIEW_DELAY_MS));
        manual.review_accepted_for_manual_capture(5);
        assert_eq!(
            (
                manual.status,
                manual.review_at,
                manual.capture_before.is_some()
            ),
            (IntentStatus::RequiresCapture, None, true)
        );
        let mut plain = intent(CaptureMethod::Manual);
        plain.begin_confirm(0).unwrap();
        plain.apply_authorization(approved(), None, 0).unwrap();
        assert!(
            !plain.under_review(),
            "a manual-capture authorization is no review"
        );

        // Automatic capture never waits.
        let mut pi = intent(CaptureMethod::Automatic);
        pi.begin_confirm(0).unwrap();
        pi.apply_authorization(approved(), None, 5).unwrap();
        assert_eq!(pi.capture_before, None);
    }

    fn approved() -> AuthorizationResult {
        AuthorizationResult::Approved {
            processor_ref: "sbx_1".into(),
        }
    }

    #[test]
    fn an_automatic_intent_succeeds_after_approval_and_becomes_refundable() {
        let mut pi = intent(CaptureMethod::Automatic);
        pi.begin_confirm(1).unwrap();
        let ev = pi.apply_authorization(approved(), None, 2).unwrap();
        assert_eq!(ev, vec![EventType::PaymentIntentSucceeded]);
        assert_eq!(pi.status, IntentStatus::Succeeded);
        assert_eq!(pi.amount_received, 1000);
        assert_eq!(pi.refundable(), 1000);
    }

    #[test]
    fn a_held_authorization_waits_for_capture_even_when_capture_is_automatic() {
        let mut pi = intent(CaptureMethod::Automatic);
        pi.begin_confirm(1).unwrap();
        let held = AuthorizationResult::Held {
            processor_ref: "sbx_2".into(),
        };
        let ev = pi.apply_authorization(held, None, 2).unwrap();
        assert_eq!(ev, vec![EventType::PaymentIntentAmountCapturableUpdated]);
        assert_eq!(pi.status, IntentStatus::RequiresCapture);
        assert_eq!(pi.amount_capturable, 1000);
        assert_eq!(pi.amount_received, 0);
        assert_eq!(pi.refundable(), 0);
    }

    #[test]
    fn a_decline_returns_the_intent_to_requires_payment_method_with_the_error() {
        let mut pi = intent(CaptureMethod::Automatic);
        pi.begin_confirm(1).unwrap();
        let err = PaymentError {
            kind: "card_error".into(),
            code: "card_declined".into(),
            decline_code: Some("generic_decline".into()),
            message: "Your card was declined.".into(),
        };
        let ev = pi
            .apply_authorization(AuthorizationResult::Declined(err.clone()), None, 2)
            .unwrap();
        assert_eq!(ev, vec![EventType::PaymentIntentPaymentFailed]);
        assert_eq!(pi.status, IntentStatus::RequiresPaymentMethod);
        assert_eq!(pi.last_payment_error, Some(err));
        // and it can be confirmed again, which clears the error
        pi.begin_confirm(3).unwrap();
        assert_eq!(pi.last_payment_error, None);
    }

    #[test]
    fn a_second_confirmation_while_processing_or_after_success_is_refused() {
        let mut pi = intent(CaptureMethod::Automatic);
        pi.begin_confirm(1).unwrap();
        assert!(pi.begin_confirm(1).is_err());
        pi.apply_authorization(approved(), None, 2).unwrap();
        let before = pi.clone();
        assert!(matches!(
            pi.begin_confirm(3),
            Err(TransitionError::IllegalTransition { .. })
        ));
        assert_eq!(pi, before, "a refused transition changes nothing");
    }

    #[test]
    fn attempt_statuses_round_trip_through_their_stored_names() {
        for st in AttemptStatus::ALL {
            assert_eq!(AttemptStatus::parse(st.as_str()), Some(st));
            assert_eq!(st.to_string(), st.as_str());
        }
        assert_eq!(AttemptStatus::parse("canceled"), None);
    }

    #[test]
    fn an_offline_payment_is_payable_within_its_window_only() {
        let mut pi = intent(CaptureMethod::Automatic);
        pi.voucher_window_ms = 48 * 3_600_000;
        pi.begin_confirm(1).unwrap();
        let voucher = AuthorizationResult::ChallengeRequired {
            redirect_url: "http://x/voucher".into(),
            offline: true,
        };
        pi.apply_authorization(voucher, None, 10).unwrap();
        assert_eq!(pi.pay_before, Some(10 + 48 * 3_600_000));
        assert!(!pi.offline_payment_expired(10 + 48 * 3_600_000 - 1));
        assert!(pi.offline_payment_expired(10 + 48 * 3_600_000));
        // Paid (or declined): no deadline any more.
        pi.begin_challenge_completion(20).unwrap();
        assert_eq!(pi.pay_before, None);
        // A 3-D Secure challenge has none either: the customer is there.
        let mut card = intent(CaptureMethod::Automatic);
        card.begin_confirm(1).unwrap();
        let threeds = AuthorizationResult::ChallengeRequired {
            redirect_url: "http://x/3ds".into(),
            offline: false,
        };
        card.apply_authorization(threeds, None, 2).unwrap();
        assert_eq!(card.pay_before, None);
        assert!(!card.offline_payment_expired(i64::MAX));
    }

    #[test]
    fn a_challenge_moves_to_requires_action_and_back_through_processing() {
        let mut pi = intent(CaptureMethod::Automatic);
        pi.begin_confirm(1).unwrap();
        let ev = pi
            .apply_authorization(
                AuthorizationResult::ChallengeRequired {
                    redirect_url: "http://x/3ds".into(),
                    offline: false,
                },
                None,
                2,
            )
            .unwrap();
        assert_eq!(ev, vec![EventType::PaymentIntentRequiresAction]);
        assert!(pi.next_action.is_some());
        pi.begin_challenge_completion(3).unwrap();
        assert!(pi.next_action.is_none());
        pi.apply_authorization(approved(), None, 4).unwrap();
        assert_eq!(pi.status, IntentStatus::Succeeded);
    }

    #[test]
    fn manual_capture_may_be_partial_but_never_above_the_authorized_amount() {
        let mut pi = intent(CaptureMethod::Manual);
        pi.begin_confirm(1).unwrap();
        let ev = pi.apply_authorization(approved(), None, 2).unwrap();
        assert_eq!(ev, vec![EventType::PaymentIntentAmountCapturableUpdated]);
        assert_eq!(pi.amount_capturable, 1000);
        assert!(pi.capture(Some(1001), 3).is_err());
        assert!(pi.capture(Some(0), 3).is_err());
        pi.capture(Some(600), 3).unwrap();
        assert_eq!(pi.amount_received, 600);
        assert_eq!(pi.refundable(), 600);
        assert!(pi.capture(None, 4).is_err(), "captures only once");
    }

    #[test]
    fn refunds_never_exceed_what_was_captured() {
        let mut pi = intent(CaptureMethod::Automatic);
        assert!(pi.check_refund(None).is_err(), "nothing captured yet");
        pi.begin_confirm(1).unwrap();
        pi.apply_authorization(approved(), None, 2).unwrap();
        assert_eq!(pi.check_refund(Some(400)).unwrap(), 400);
        pi.amount_refunded = 400;
        assert!(pi.check_refund(Some(601)).is_err());
        assert_eq!(pi.check_refund(None).unwrap(), 600);
        pi.amount_refunded = 1000;
        assert!(pi.check_refund(None).is_err());
    }

    #[test]
    fn only_uncaptured_intents_can_be_canceled() {
        let mut pi = intent(CaptureMethod::Automatic);
        pi.cancel(Some("abandoned".into()), 5).unwrap();
        assert_eq!(pi.status, IntentStatus::Canceled);
        assert_eq!(pi.canceled_at, Some(5));
        assert!(pi.cancel(None, 6).is_err());

        let mut paid = intent(CaptureMethod::Automatic);
        paid.begin_confirm(1).unwrap();
        paid.apply_authorization(approved(), None, 2).unwrap();
        assert!(paid.cancel(None, 3).is_err());
    }
}
