//! Payment intents and refunds.

use crate::Payments;
use kassa_core::events::{Event, EventType};
use kassa_core::ids::{new_id, prefix, random_token};
use kassa_core::intent::{
    CaptureMethod, IntentStatus, Metadata, PaymentIntent, RefundKind, CANCELLATION_REASONS,
};
use kassa_core::money::Currency;
use kassa_core::payment_method::SetupFutureUsage;
use kassa_core::scope::Scope;
use kassa_processor::PaymentMethodInput;
use kassa_store::{now_ms, Tx};
use serde_json::Value;

use crate::{Idem, Result, ServiceError};

pub const MAX_DESCRIPTION: usize = 1000;
pub const MAX_METADATA_KEYS: usize = 50;

#[derive(Debug, Clone, Default)]
pub struct CreateIntentParams {
    pub amount: i64,
    pub currency: Option<Currency>,
    pub description: Option<String>,
    pub metadata: Metadata,
    pub capture_method: Option<CaptureMethod>,
    pub return_url: Option<String>,
    pub receipt_email: Option<String>,
    /// How long an authorization may wait for its capture; the face's own rule (14 days for
    /// one), else [`kassa_core::intent::DEFAULT_CAPTURE_WINDOW_MS`]. Never from a request.
    pub capture_window_ms: Option<i64>,
    /// How long a held authorization waits for its risk review's verdict; the face's own setting
    /// (a project's), else [`kassa_core::intent::DEFAULT_REVIEW_DELAY_MS`].
    pub review_delay_ms: Option<i64>,
    /// How long an offline payment (a voucher) stays payable; the face's own rule (72 or 48
    /// hours), else [`kassa_core::intent::DEFAULT_VOUCHER_WINDOW_MS`].
    pub voucher_window_ms: Option<i64>,
    /// The customer paying (must be one of the merchant's).
    pub customer: Option<String>,
    /// Save the card this payment is made with for the customer (needs `customer`).
    pub setup_future_usage: Option<SetupFutureUsage>,
    /// The order this payment is for, when the order takes one payment ([`kassa_core::order`]).
    pub order_key: Option<String>,
}

/// What a confirmation says about saving the card it pays with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SaveChoice {
    /// Whatever the intent's `setup_future_usage` says.
    #[default]
    AsAsked,
    /// The customer did not tick "save this card" on the payment page.
    Refused,
    /// Save it for this use (the intent must name a customer).
    Asked(SetupFutureUsage),
}

#[derive(Debug)]
pub struct ConfirmParams {
    pub method: PaymentMethodInput,
    pub return_url: Option<String>,
    /// Challenge every approvable card with 3-D Secure (a face's 3-D Secure integration).
    pub three_d_secure: bool,
    pub save: SaveChoice,
}

#[derive(Debug, Clone, Default)]
pub struct CreateRefundParams {
    pub payment_intent: String,
    pub amount: Option<i64>,
    /// A refund, unless a face's own command says void or chargeback (never from a request).
    pub kind: RefundKind,
    pub reason: Option<String>,
    pub metadata: Metadata,
}

/// Checks a `return_url`: absolute http(s), no credentials, bounded length.
pub fn check_return_url(url: &str) -> Result<String> {
    let parsed = url::Url::parse(url)
        .map_err(|_| ServiceError::invalid("return_url", "return_url must be an absolute URL."))?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.host_str().is_none()
        || !parsed.username().is_empty()
        || parsed.password().is_some()
        || url.len() > 2048
    {
        return Err(ServiceError::invalid(
            "return_url",
            "return_url must be an http or https URL without credentials, at most 2048 characters.",
        ));
    }
    Ok(url.to_string())
}

pub fn check_metadata(m: &Metadata) -> Result<()> {
    if m.len() > MAX_METADATA_KEYS {
        return Err(ServiceError::invalid(
            "metadata",
            "metadata may have at most 50 keys.",
        ));
    }
    for (k, v) in m {
        if k.is_empty() || k.len() > 40 || v.len() > 500 {
            return Err(ServiceError::invalid(
                "metadata",
                "metadata keys must be 1 to 40 characters and values at most 500.",
            ));
        }
    }
    Ok(())
}

fn check_email(e: &str) -> Result<String> {
    check_email_as("receipt_email", e)
}

/// An email address a payer can be reached at (one `@`, a dotted domain, no spaces), trimmed;
/// `param` names the field in the error.
pub(crate) fn check_email_as(param: &str, e: &str) -> Result<String> {
    let e = e.trim();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        return Err(ServiceError::invalid(
            param,
            format!("{param} is not a valid email address."),
        ));
    }
    Ok(e.to_string())
}

/// Refuses a test token the sandbox does not know, before anything is written.
pub(crate) fn check_test_token(method: &PaymentMethodInput) -> Result<()> {
    if let PaymentMethodInput::TestToken(t) = method {
        if !kassa_processor::test_tokens().contains(&t.as_str()) {
            return Err(ServiceError::invalid(
                "payment_method",
                format!(
                    "No such test payment method: '{}'.",
                    t.chars().take(60).collect::<String>()
                ),
            ));
        }
    }
    Ok(())
}

impl Payments<'_> {
    pub(crate) fn new_event(&self, scope: &Scope, ty: EventType, object: Value, now: i64) -> Event {
        Event {
            id: new_id(prefix::EVENT),
            merchant_id: scope.merchant_id.clone(),
            livemode: scope.livemode,
            event_type: ty,
            object,
            created: now,
        }
    }

    /// Writes the events of one change (with their deliveries) inside `tx`.
    pub(crate) async fn emit(
        &self,
        tx: &mut Tx,
        pi: &PaymentIntent,
        types: &[EventType],
        now: i64,
    ) -> Result<()> {
        let object = pi.to_json(&self.base_url);
        let mut written = Vec::with_capacity(types.len());
        for ty in types {
            let ev = self.new_event(&pi.scope(), *ty, object.clone(), now);
            tx.insert_event(&ev, &pi.id).await?;
            written.push((*ty, ev.id));
        }
        // Each face's own objects and notifications for the same change, in the same transaction.
        for p in self.projections.iter() {
            p.intent_changed(self, tx, pi, &written, now).await?;
        }
        Ok(())
    }

    /// Completes the request's idempotency record with `body`, commits, and wakes the notifier.
    pub(crate) async fn finish(&self, mut tx: Tx, idem: Option<&Idem>, body: &Value) -> Result<()> {
        if let Some(idem) = idem {
            tx.complete_idempotency(&idem.scope, &idem.key, 200, &body.to_string())
                .await?;
        }
        tx.commit().await?;
        self.notifier.wake();
        Ok(())
    }

    pub async fn create_intent(
        &self,
        scope: &Scope,
        p: CreateIntentParams,
        idem: Option<&Idem>,
    ) -> Result<PaymentIntent> {
        let now = now_ms();
        let pi = self.build_intent(scope, p, now)?;
        if let Some(customer) = &pi.customer {
            if self.store.customer(scope, customer).await?.is_none() {
                return Err(ServiceError::invalid(
                    "customer",
                    format!("No such customer: '{customer}'."),
                ));
            }
        }
        let mut tx = self.store.begin().await?;
        tx.insert_intent(&pi).await?;
        self.emit(&mut tx, &pi, &[EventType::PaymentIntentCreated], now)
            .await?;
        self.finish(tx, idem, &pi.to_json(&self.base_url)).await?;
        Ok(pi)
    }

    /// A new intent in `requires_payment_method`, checked but not yet written.
    pub(crate) fn build_intent(
        &self,
        scope: &Scope,
        p: CreateIntentParams,
        now: i64,
    ) -> Result<PaymentIntent> {
        let currency = p.currency.ok_or_else(|| {
            ServiceError::invalid("currency", "Missing required param: currency.")
        })?;
        if p.amount < 1 || p.amount > kassa_core::money::MAX_AMOUNT {
            return Err(ServiceError::invalid(
                "amount",
                format!(
                    "amount must be a positive integer in the currency's smallest unit, at most {}.",
                    kassa_core::money::MAX_AMOUNT
                ),
            ));
        }
        if p.description
            .as_ref()
            .is_some_and(|d| d.len() > MAX_DESCRIPTION)
        {
            return Err(ServiceError::invalid(
                "description",
                "description may be at most 1000 characters.",
            ));
        }
        check_metadata(&p.metadata)?;
        let return_url = p.return_url.as_deref().map(check_return_url).transpose()?;
        let receipt_email = p.receipt_email.as_deref().map(check_email).transpose()?;
        if p.setup_future_usage.is_some() && p.customer.is_none() {
            return Err(ServiceError::invalid(
                "setup_future_usage",
                "setup_future_usage needs a customer: a saved card is attached to one.",
            ));
        }
        if p.customer
            .as_deref()
            .is_some_and(|c| !kassa_core::ids::is_valid_id(c, prefix::CUSTOMER))
        {
            let c = p.customer.as_deref().unwrap_or_default();
            return Err(ServiceError::invalid(
                "customer",
                format!(
                    "No such customer: '{}'.",
                    c.chars().take(100).collect::<String>()
                ),
            ));
        }
        let id = new_id(prefix::PAYMENT_INTENT);
        let pi = PaymentIntent {
            client_secret: format!("{id}_secret_{}", random_token(24)),
            checkout_token: new_id(prefix::CHECKOUT),
            id,
            merchant_id: scope.merchant_id.clone(),
            livemode: scope.livemode,
            amount: p.amount,
            currency,
            status: IntentStatus::RequiresPaymentMethod,
            capture_method: p.capture_method.unwrap_or(CaptureMethod::Automatic),
            amount_capturable: 0,
            amount_received: 0,
            amount_refunded: 0,
            description: p.description,
            metadata: p.metadata,
            return_url,
            receipt_email,
            last_payment_error: None,
            payment_method: None,
            next_action: None,
            processor_ref: None,
            processor_account: None,
            canceled_at: None,
            cancellation_reason: None,
            capture_window_ms: p
                .capture_window_ms
                .unwrap_or(kassa_core::intent::DEFAULT_CAPTURE_WINDOW_MS),
            capture_before: None,
            review_delay_ms: p
                .review_delay_ms
                .unwrap_or(kassa_core::intent::DEFAULT_REVIEW_DELAY_MS),
            review_at: None,
            voucher_window_ms: p
                .voucher_window_ms
                .unwrap_or(kassa_core::intent::DEFAULT_VOUCHER_WINDOW_MS),
            pay_before: None,
            customer: p.customer,
            order_key: p.order_key,
            setup_future_usage: p.setup_future_usage,
            created: now,
            updated: now,
            version: 0,
        };
        Ok(pi)
    }

    pub async fn intent(&self, scope: &Scope, id: &str) -> Result<PaymentIntent> {
        self.store
            .intent(scope, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("payment_intent", id))
    }

    /// Captures an authorization (all of it, or `amount`). The processor is asked first; when
    /// it fails, whether unreachable or its answer lost ([`kassa_processor::ProcessorError::Unknown`]),
    /// nothing changes here and the caller gets [`ServiceError::Processor`] (HTTP 502): a retry
    /// is safe, since the capture is idempotent at the processor under the reference and amount.
    pub async fn capture_intent(
        &self,
        scope: &Scope,
        id: &str,
        amount: Option<i64>,
        idem: Option<&Idem>,
    ) -> Result<PaymentIntent> {
        let mut pi = self.intent(scope, id).await?;
        let now = now_ms();
        let mut trial = pi.clone();
        trial.capture(amount, now).map_err(|e| match e {
            kassa_core::intent::TransitionError::Amount(m) => {
                ServiceError::invalid("amount_to_capture", m)
            }
            other => other.into(),
        })?;
        let processor = self.processor_of(&pi).await?;
        crate::processors::check_partial(
            &processor.capabilities(),
            "capture",
            trial.amount_received,
            pi.amount_capturable,
        )?;
        processor
            .capture(
                pi.processor_ref.as_deref().unwrap_or_default(),
                kassa_core::money::Money {
                    amount: trial.amount_received,
                    currency: pi.currency,
                },
            )
            .await
            .map_err(|e| ServiceError::Processor(e.to_string()))?;
        let events = pi.capture(amount, now)?;
        let mut tx = self.store.begin().await?;
        tx.update_intent(&mut pi).await?;
        self.emit(&mut tx, &pi, &events, now).await?;
        crate::audit::record(
            &mut tx,
            scope,
            "payment_intent.capture",
            Some(&pi.id),
            &serde_json::json!({"amount_received": pi.amount_received, "currency": pi.currency.code()}),
        )
        .await?;
        self.finish(tx, idem, &pi.to_json(&self.base_url)).await?;
        self.count_payment("captured");
        Ok(pi)
    }

    pub async fn cancel_intent(
        &self,
        scope: &Scope,
        id: &str,
        reason: Option<String>,
        idem: Option<&Idem>,
    ) -> Result<PaymentIntent> {
        if let Some(r) = &reason {
            if !CANCELLATION_REASONS.contains(&r.as_str()) {
                return Err(ServiceError::invalid(
                    "cancellation_reason",
                    format!(
                        "cancellation_reason must be one of {}.",
                        CANCELLATION_REASONS.join(", ")
                    ),
                ));
            }
        }
        self.cancel_checked(scope, id, reason, idem).await
    }

    /// Cancels with a reason already checked (a merchant's, or Kassa's own `automatic`). An
    /// authorization is voided first; when the processor fails (unreachable, or its answer
    /// lost), nothing changes and the caller gets [`ServiceError::Processor`] (HTTP 502): a
    /// retry is safe, since the void is idempotent at the processor under the reference.
    pub(crate) async fn cancel_checked(
        &self,
        scope: &Scope,
        id: &str,
        reason: Option<String>,
        idem: Option<&Idem>,
    ) -> Result<PaymentIntent> {
        let mut pi = self.intent(scope, id).await?;
        let now = now_ms();
        let was_authorized = pi.status == IntentStatus::RequiresCapture;
        let events = pi.cancel(reason, now)?;
        if was_authorized {
            self.processor_of(&pi)
                .await?
                .void(pi.processor_ref.as_deref().unwrap_or_default())
                .await
                .map_err(|e| ServiceError::Processor(e.to_string()))?;
        }
        let mut tx = self.store.begin().await?;
        tx.update_intent(&mut pi).await?;
        self.emit(&mut tx, &pi, &events, now).await?;
        crate::audit::record(
            &mut tx,
            scope,
            "payment_intent.cancel",
            Some(&pi.id),
            &serde_json::json!({"cancellation_reason": pi.cancellation_reason, "voided": was_authorized}),
        )
        .await?;
        self.finish(tx, idem, &pi.to_json(&self.base_url)).await?;
        Ok(pi)
    }
}

pub use kassa_core::calendar::year_month;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_urls_must_be_absolute_http_without_credentials() {
        assert!(check_return_url("https://shop.example/done?x=1").is_ok());
        assert!(check_return_url("http://127.0.0.1:9/r").is_ok());
        assert!(check_return_url("javascript:alert(1)").is_err());
        assert!(check_return_url("/relative").is_err());
        assert!(check_return_url("https://user:pw@shop.example/").is_err());
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert!(check_email("a@b.co").is_ok());
        assert!(check_email("a@b").is_err());
        assert!(check_email("@b.co").is_err());
        assert!(check_email("a b@c.de").is_err());
    }
}
