//! Payment intents and refunds.

use kassa_core::events::{Event, EventType};
use kassa_core::ids::{new_id, prefix, random_token};
use kassa_core::intent::{
    AuthorizationResult, CaptureMethod, IntentStatus, Metadata, PaymentError, PaymentIntent,
    Refund, RefundKind, RefundStatus, CANCELLATION_REASONS, REFUND_REASONS,
};
use kassa_core::money::Currency;
use kassa_core::payment_method::SetupFutureUsage;
use kassa_processor::{
    AuthorizeOutcome, AuthorizeRequest, ChallengeResult, Decline, PaymentMethodInput,
    ProcessorError,
};
use kassa_store::{now_ms, PaymentAttempt, Tx};
use serde_json::Value;

use crate::{Idem, Result, ServiceError, Services};

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
    /// How long an authorization may wait for its capture; the face's own rule (Paymob: 14
    /// days), else [`kassa_core::intent::DEFAULT_CAPTURE_WINDOW_MS`]. Never from a request.
    pub capture_window_ms: Option<i64>,
    /// How long a held authorization waits for its risk review's verdict; the face's own setting
    /// (a Paymentwall project's), else [`kassa_core::intent::DEFAULT_REVIEW_DELAY_MS`].
    pub review_delay_ms: Option<i64>,
    /// How long an offline payment (a voucher) stays payable; the face's own rule (Paymentwall
    /// 72 hours, Paymob 48), else [`kassa_core::intent::DEFAULT_VOUCHER_WINDOW_MS`].
    pub voucher_window_ms: Option<i64>,
    /// The customer paying (must be one of the merchant's).
    pub customer: Option<String>,
    /// Save the card this payment is made with for the customer (needs `customer`).
    pub setup_future_usage: Option<SetupFutureUsage>,
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
    /// Challenge every approvable card with 3-D Secure (a Paymob 3-D Secure integration).
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

fn decline_error(d: &Decline) -> PaymentError {
    PaymentError {
        kind: "card_error".into(),
        code: d.code.clone(),
        decline_code: d.decline_code.clone(),
        message: d.message.clone(),
    }
}

impl Services {
    pub(crate) fn new_event(
        &self,
        merchant_id: &str,
        ty: EventType,
        object: Value,
        now: i64,
    ) -> Event {
        Event {
            id: new_id(prefix::EVENT),
            merchant_id: merchant_id.to_string(),
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
            let ev = self.new_event(&pi.merchant_id, *ty, object.clone(), now);
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
            tx.complete_idempotency(&idem.merchant_id, &idem.key, 200, &body.to_string())
                .await?;
        }
        tx.commit().await?;
        self.notifier.wake();
        Ok(())
    }

    pub async fn create_intent(
        &self,
        merchant_id: &str,
        p: CreateIntentParams,
        idem: Option<&Idem>,
    ) -> Result<PaymentIntent> {
        let now = now_ms();
        let pi = self.build_intent(merchant_id, p, now)?;
        if let Some(customer) = &pi.customer {
            if self.store.customer(merchant_id, customer).await?.is_none() {
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
        merchant_id: &str,
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
            merchant_id: merchant_id.to_string(),
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
            setup_future_usage: p.setup_future_usage,
            created: now,
            updated: now,
            version: 0,
        };
        Ok(pi)
    }

    pub async fn intent(&self, merchant_id: &str, id: &str) -> Result<PaymentIntent> {
        self.store
            .intent(merchant_id, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("payment_intent", id))
    }

    /// Confirms an intent with a payment method. Returns the intent after the processor
    /// answered: `succeeded`, `requires_capture`, `requires_action` (3-D Secure) or, on a
    /// decline, `ServiceError::Declined` with the intent back in `requires_payment_method`.
    pub async fn confirm_intent(
        &self,
        merchant_id: &str,
        id: &str,
        p: ConfirmParams,
        idem: Option<&Idem>,
    ) -> Result<PaymentIntent> {
        check_test_token(&p.method)?;
        let return_url = p.return_url.as_deref().map(check_return_url).transpose()?;
        let now = now_ms();

        // 1. Claim the intent.
        let mut tx = self.store.begin().await?;
        let mut pi = tx
            .intent(merchant_id, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("payment_intent", id))?;
        if pi.status != IntentStatus::RequiresPaymentMethod {
            return Err(ServiceError::State(format!(
                "This PaymentIntent's status is {}; it can only be confirmed in requires_payment_method.",
                pi.status.as_str()
            )));
        }
        match p.save {
            SaveChoice::AsAsked => {}
            SaveChoice::Refused => pi.setup_future_usage = None,
            SaveChoice::Asked(_) if pi.customer.is_none() => {
                return Err(ServiceError::invalid(
                    "setup_future_usage",
                    "setup_future_usage needs a customer: a saved card is attached to one.",
                ))
            }
            SaveChoice::Asked(usage) => pi.setup_future_usage = Some(usage),
        }
        pi.begin_confirm(now)?;
        if return_url.is_some() {
            pi.return_url = return_url;
        }
        tx.update_intent(&mut pi).await?;
        let mut attempt = PaymentAttempt {
            id: new_id(prefix::PAYMENT_ATTEMPT),
            payment_intent_id: pi.id.clone(),
            status: "processing".into(),
            payment_method: None,
            processor_ref: None,
            challenge_state: None,
            error: None,
            created_at: now,
            updated_at: now,
        };
        tx.insert_attempt(&attempt).await?;
        tx.commit().await?;

        // 2. Ask the processor, outside any transaction.
        let (year, month) = year_month(now);
        let result = self
            .processor
            .authorize(AuthorizeRequest {
                attempt_id: &attempt.id,
                amount: kassa_core::money::Money {
                    amount: pi.amount,
                    currency: pi.currency,
                },
                method: &p.method,
                capture: pi.capture_method == CaptureMethod::Automatic,
                three_d_secure: p.three_d_secure,
                fingerprint_key: &self.fingerprint_key,
                now_year: year,
                now_month: month,
            })
            .await;

        // 3. Record the answer.
        let now = now_ms();
        let (core_result, details) = match result {
            Ok(r) => {
                let details = serde_json::to_value(&r.details).ok();
                attempt.payment_method = details.as_ref().map(|d| d.to_string());
                let core = self.record_outcome(&mut attempt, Ok(r.outcome), true);
                (core, details)
            }
            Err(e) => (self.record_outcome(&mut attempt, Err(e), true), None),
        };
        attempt.updated_at = now;
        self.apply_result(
            merchant_id,
            &pi.id,
            &attempt,
            "processing",
            core_result,
            details,
            idem,
        )
        .await
    }

    /// Charges an intent in `requires_payment_method` with the stored method behind
    /// `original_ref` (a saved card), without the customer: a merchant-initiated payment.
    /// `method` describes the stored method for the attempt's record. Same outcomes as
    /// [`Services::confirm_intent`] except that no challenge is ever asked for.
    pub(crate) async fn confirm_with_stored_method(
        &self,
        merchant_id: &str,
        intent_id: &str,
        original_ref: &str,
        method: Option<String>,
        idem: Option<&Idem>,
    ) -> Result<PaymentIntent> {
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let mut pi = tx
            .intent(merchant_id, intent_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("payment_intent", intent_id))?;
        pi.begin_confirm(now)?;
        tx.update_intent(&mut pi).await?;
        let mut attempt = PaymentAttempt {
            id: new_id(prefix::PAYMENT_ATTEMPT),
            payment_intent_id: pi.id.clone(),
            status: "processing".into(),
            payment_method: None,
            processor_ref: None,
            challenge_state: None,
            error: None,
            created_at: now,
            updated_at: now,
        };
        tx.insert_attempt(&attempt).await?;
        tx.commit().await?;
        let result = self
            .processor
            .charge_stored(
                original_ref,
                &attempt.id,
                kassa_core::money::Money {
                    amount: pi.amount,
                    currency: pi.currency,
                },
            )
            .await;
        let core = self.record_outcome(&mut attempt, result, false);
        attempt.payment_method = method.clone();
        attempt.updated_at = now_ms();
        let details = method.and_then(|m| serde_json::from_str(&m).ok());
        self.apply_result(
            merchant_id,
            &pi.id,
            &attempt,
            "processing",
            core,
            details,
            idem,
        )
        .await
    }

    /// Writes a processor's answer for an intent in `processing`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn apply_result(
        &self,
        merchant_id: &str,
        intent_id: &str,
        attempt: &PaymentAttempt,
        attempt_from: &str,
        result: AuthorizationResult,
        details: Option<Value>,
        idem: Option<&Idem>,
    ) -> Result<PaymentIntent> {
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let mut pi = tx
            .intent(merchant_id, intent_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("payment_intent", intent_id))?;
        let declined = match &result {
            AuthorizationResult::Declined(e) => Some(e.clone()),
            _ => None,
        };
        let events = pi.apply_authorization(result, details, now)?;
        self.save_method_if_asked(&mut tx, &mut pi, now).await?;
        tx.update_intent(&mut pi).await?;
        if !tx.update_attempt(attempt, attempt_from).await? {
            return Err(ServiceError::Conflict);
        }
        self.emit(&mut tx, &pi, &events, now).await?;
        let body = pi.to_json(&self.base_url);
        match declined {
            Some(error) => {
                // A decline is an answer, not a failure of the request: replay it as such.
                if let Some(idem) = idem {
                    let err_body = crate::error::declined_body(&error, &body);
                    tx.complete_idempotency(
                        &idem.merchant_id,
                        &idem.key,
                        402,
                        &err_body.to_string(),
                    )
                    .await?;
                }
                tx.commit().await?;
                self.notifier.wake();
                self.count_payment("failed");
                Err(ServiceError::Declined {
                    error: Box::new(error),
                    intent: Box::new(body),
                })
            }
            None => {
                self.finish(tx, idem, &body).await?;
                self.count_payment(pi.status.as_str());
                Ok(pi)
            }
        }
    }

    /// Settles attempts left `processing` by a process that died between claiming the intent and
    /// recording the processor's answer: the processor is asked what happened, and the answer
    /// (or "no record": nothing was charged) is applied as if it had just arrived. Safe to run
    /// from several processes at once: the attempt's own status guards the write.
    pub async fn recover_interrupted(&self, older_than_ms: i64) -> Result<usize> {
        let stale = self
            .store
            .stale_processing_attempts(now_ms() - older_than_ms, 100)
            .await?;
        let mut settled = 0;
        for mut attempt in stale {
            let Some(pi) = self
                .store
                .intent_by_id_any_merchant(&attempt.payment_intent_id)
                .await?
            else {
                continue;
            };
            let outcome = match self.processor.lookup(&attempt.id).await {
                Ok(o) => o,
                Err(e) => {
                    tracing::warn!(attempt = %attempt.id, error = %e, "processor lookup failed; will retry");
                    continue;
                }
            };
            let core = match outcome {
                Some(o) => self.record_outcome(&mut attempt, Ok(o), false),
                None => {
                    attempt.status = "failed".into();
                    attempt.error = Some("interrupted; the processor has no record".into());
                    AuthorizationResult::Declined(PaymentError {
                        kind: "api_error".into(),
                        code: "processing_error".into(),
                        decline_code: None,
                        message:
                            "The payment was interrupted and nothing was charged. Please try again."
                                .into(),
                    })
                }
            };
            attempt.updated_at = now_ms();
            tracing::warn!(attempt = %attempt.id, intent = %pi.id, status = %attempt.status, "settled an interrupted payment attempt");
            match self
                .apply_result(
                    &pi.merchant_id,
                    &pi.id,
                    &attempt,
                    "processing",
                    core,
                    None,
                    None,
                )
                .await
            {
                Ok(_) | Err(ServiceError::Declined { .. }) => settled += 1,
                Err(ServiceError::Conflict) | Err(ServiceError::State(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(settled)
    }

    /// Records what the processor answered on the attempt and turns it into the core's terms.
    /// A challenge is only a legal answer to a first authorization (`challenge_allowed`);
    /// anywhere else it, like a processor error, fails the attempt without a charge.
    pub(crate) fn record_outcome(
        &self,
        attempt: &mut PaymentAttempt,
        outcome: Result<AuthorizeOutcome, ProcessorError>,
        challenge_allowed: bool,
    ) -> AuthorizationResult {
        match outcome {
            Ok(AuthorizeOutcome::Approved { processor_ref }) => {
                attempt.status = "succeeded".into();
                attempt.processor_ref = Some(processor_ref.clone());
                AuthorizationResult::Approved { processor_ref }
            }
            Ok(AuthorizeOutcome::UnderReview { processor_ref }) => {
                // Authorized but held for the processor's risk review: nothing is captured yet.
                attempt.status = "succeeded".into();
                attempt.processor_ref = Some(processor_ref.clone());
                AuthorizationResult::Held { processor_ref }
            }
            Ok(AuthorizeOutcome::ChallengeRequired {
                processor_ref,
                challenge_state,
            }) if challenge_allowed => {
                attempt.status = "requires_action".into();
                attempt.processor_ref = Some(processor_ref);
                // A voucher is paid later, offline: it has a payment deadline.
                let offline = kassa_processor::challenge_kind(&challenge_state) == Some("voucher");
                attempt.challenge_state = Some(challenge_state);
                AuthorizationResult::ChallengeRequired {
                    redirect_url: self.challenge_url(&attempt.id),
                    offline,
                }
            }
            Ok(AuthorizeOutcome::Declined(d)) => {
                attempt.status = "failed".into();
                attempt.error = serde_json::to_string(&d).ok();
                AuthorizationResult::Declined(decline_error(&d))
            }
            Ok(AuthorizeOutcome::ChallengeRequired { .. }) => {
                self.record_outcome(attempt, Err(ProcessorError::InvalidState), false)
            }
            Err(e) => {
                attempt.status = "failed".into();
                let err = processor_failure(&e);
                attempt.error = Some(err.message.clone());
                AuthorizationResult::Declined(err)
            }
        }
    }

    pub fn challenge_url(&self, attempt_id: &str) -> String {
        format!("{}/sandbox/3ds/{attempt_id}", self.base_url)
    }

    /// The intent and attempt behind a pending 3-D Secure challenge.
    pub async fn challenge(&self, attempt_id: &str) -> Result<(PaymentIntent, PaymentAttempt)> {
        let attempt = self
            .store
            .attempt(attempt_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("3-D Secure challenge", attempt_id))?;
        let pi = self
            .store
            .intent_by_id_any_merchant(&attempt.payment_intent_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("payment_intent", &attempt.payment_intent_id))?;
        Ok((pi, attempt))
    }

    /// The cardholder approved or failed the simulated issuer's challenge.
    pub async fn complete_challenge(
        &self,
        attempt_id: &str,
        approve: bool,
    ) -> Result<PaymentIntent> {
        let result = if approve {
            ChallengeResult::Approve
        } else {
            ChallengeResult::Fail
        };
        self.complete_challenge_with(attempt_id, result).await
    }

    /// The customer answered a pending challenge (3-D Secure, a wallet's one-time code, a bank
    /// redirect or a voucher) with `result`.
    pub async fn complete_challenge_with(
        &self,
        attempt_id: &str,
        result: ChallengeResult,
    ) -> Result<PaymentIntent> {
        let (pi, mut attempt) = self.challenge(attempt_id).await?;
        if attempt.status != "requires_action" {
            // Already answered (a double submit or the back button): report the current state.
            return Ok(pi);
        }
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let mut claimed = tx
            .intent(&pi.merchant_id, &pi.id)
            .await?
            .ok_or_else(|| ServiceError::not_found("payment_intent", &pi.id))?;
        // An offline payment past its window can no longer be paid, whatever the answer.
        let result = if claimed.offline_payment_expired(now) {
            ChallengeResult::Fail
        } else {
            result
        };
        claimed.begin_challenge_completion(now)?;
        tx.update_intent(&mut claimed).await?;
        let from = attempt.status.clone();
        attempt.status = "processing".into();
        attempt.updated_at = now;
        if !tx.update_attempt(&attempt, &from).await? {
            return Err(ServiceError::Conflict);
        }
        tx.commit().await?;

        let result = self
            .processor
            .complete_challenge(
                attempt.processor_ref.as_deref().unwrap_or_default(),
                attempt.challenge_state.as_deref().unwrap_or_default(),
                result,
                kassa_core::money::Money {
                    amount: claimed.amount,
                    currency: claimed.currency,
                },
                claimed.capture_method == CaptureMethod::Automatic,
            )
            .await;
        let core = self.record_outcome(&mut attempt, result, false);
        attempt.challenge_state = None;
        attempt.updated_at = now_ms();
        match self
            .apply_result(
                &pi.merchant_id,
                &pi.id,
                &attempt,
                "processing",
                core,
                None,
                None,
            )
            .await
        {
            Ok(pi) => Ok(pi),
            Err(ServiceError::Declined { .. }) => self
                .store
                .intent_by_id_any_merchant(&pi.id)
                .await?
                .ok_or_else(|| ServiceError::not_found("payment_intent", &pi.id)),
            Err(e) => Err(e),
        }
    }

    pub async fn capture_intent(
        &self,
        merchant_id: &str,
        id: &str,
        amount: Option<i64>,
        idem: Option<&Idem>,
    ) -> Result<PaymentIntent> {
        let mut pi = self.intent(merchant_id, id).await?;
        let now = now_ms();
        let mut trial = pi.clone();
        trial.capture(amount, now).map_err(|e| match e {
            kassa_core::intent::TransitionError::Amount(m) => {
                ServiceError::invalid("amount_to_capture", m)
            }
            other => other.into(),
        })?;
        self.processor
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
        self.finish(tx, idem, &pi.to_json(&self.base_url)).await?;
        self.count_payment("captured");
        Ok(pi)
    }

    pub async fn cancel_intent(
        &self,
        merchant_id: &str,
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
        self.cancel_checked(merchant_id, id, reason, idem).await
    }

    /// Cancels with a reason already checked (a merchant's, or Kassa's own `automatic`).
    pub(crate) async fn cancel_checked(
        &self,
        merchant_id: &str,
        id: &str,
        reason: Option<String>,
        idem: Option<&Idem>,
    ) -> Result<PaymentIntent> {
        let mut pi = self.intent(merchant_id, id).await?;
        let now = now_ms();
        let was_authorized = pi.status == IntentStatus::RequiresCapture;
        let events = pi.cancel(reason, now)?;
        if was_authorized {
            self.processor
                .void(pi.processor_ref.as_deref().unwrap_or_default())
                .await
                .map_err(|e| ServiceError::Processor(e.to_string()))?;
        }
        let mut tx = self.store.begin().await?;
        tx.update_intent(&mut pi).await?;
        self.emit(&mut tx, &pi, &events, now).await?;
        self.finish(tx, idem, &pi.to_json(&self.base_url)).await?;
        Ok(pi)
    }

    /// Creates a refund. The refunded total is reserved with a conditional update before the
    /// processor is asked, so concurrent refunds can never add up to more than was captured.
    pub async fn create_refund(
        &self,
        merchant_id: &str,
        p: CreateRefundParams,
        idem: Option<&Idem>,
    ) -> Result<Refund> {
        if let Some(r) = &p.reason {
            if !REFUND_REASONS.contains(&r.as_str()) {
                return Err(ServiceError::invalid(
                    "reason",
                    format!("reason must be one of {}.", REFUND_REASONS.join(", ")),
                ));
            }
        }
        check_metadata(&p.metadata)?;
        let pi = self
            .store
            .intent(merchant_id, &p.payment_intent)
            .await?
            .ok_or_else(|| {
                ServiceError::invalid(
                    "payment_intent",
                    format!(
                        "No such payment_intent: '{}'",
                        p.payment_intent.chars().take(100).collect::<String>()
                    ),
                )
            })?;
        let amount = pi.check_refund(p.amount).map_err(|e| match e {
            kassa_core::intent::TransitionError::Amount(m)
                if p.amount.is_some() && pi.status == IntentStatus::Succeeded =>
            {
                ServiceError::invalid("amount", m)
            }
            other => ServiceError::State(other.to_string()),
        })?;
        let now = now_ms();
        let mut refund = Refund {
            id: new_id(prefix::REFUND),
            merchant_id: merchant_id.to_string(),
            payment_intent_id: pi.id.clone(),
            amount,
            currency: pi.currency,
            status: RefundStatus::Pending,
            kind: p.kind,
            reason: p.reason,
            metadata: p.metadata,
            processor_ref: None,
            created: now,
        };
        let mut tx = self.store.begin().await?;
        if !tx.add_refunded(&pi.id, amount, now).await? {
            return Err(ServiceError::invalid(
                "amount",
                "The refund would exceed the amount that remains refundable.",
            ));
        }
        tx.insert_refund(&refund).await?;
        tx.insert_event(
            &self.new_event(merchant_id, EventType::RefundCreated, refund.to_json(), now),
            &refund.id,
        )
        .await?;
        tx.commit().await?;

        let result = self
            .processor
            .refund(
                pi.processor_ref.as_deref().unwrap_or_default(),
                kassa_core::money::Money {
                    amount,
                    currency: pi.currency,
                },
            )
            .await;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        match result {
            Ok(r) => {
                refund.status = RefundStatus::Succeeded;
                refund.processor_ref = Some(r);
                tx.update_refund(&refund).await?;
                let ev = self.new_event(
                    merchant_id,
                    EventType::RefundSucceeded,
                    refund.to_json(),
                    now,
                );
                tx.insert_event(&ev, &refund.id).await?;
                for p in self.projections.iter() {
                    p.refund_succeeded(self, &mut tx, &pi, &refund, &ev.id, now)
                        .await?;
                }
            }
            Err(e) => {
                tracing::warn!(refund = %refund.id, error = %e, "refund failed at the processor");
                refund.status = RefundStatus::Failed;
                tx.update_refund(&refund).await?;
                tx.add_refunded_release(&pi.id, amount, now).await?;
            }
        }
        self.finish(tx, idem, &refund.to_json()).await?;
        Ok(refund)
    }

    pub async fn refund(&self, merchant_id: &str, id: &str) -> Result<Refund> {
        self.store
            .refund(merchant_id, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("refund", id))
    }
}

fn processor_failure(e: &ProcessorError) -> PaymentError {
    tracing::warn!(error = %e, "processor error");
    PaymentError {
        kind: "api_error".into(),
        code: "processing_error".into(),
        decline_code: None,
        message: "An error occurred while processing the card. Try again later.".into(),
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
