//! Paying an intent: a confirmation claims the intent (`processing`) and records an attempt,
//! asks the processor outside any transaction, and applies its answer (approved, held for
//! review, a challenge, a decline) in one transaction with the events, each face's projection
//! and the saving of the card when the payment asked for it. Challenges (3-D Secure, wallets,
//! bank redirects, vouchers) are completed here too, and attempts a crash interrupted are
//! settled by asking the processor.

use crate::Payments;
use kassa_core::ids::{new_id, prefix};
use kassa_core::intent::{
    AttemptStatus, AuthorizationResult, CaptureMethod, IntentStatus, PaymentError, PaymentIntent,
};
use kassa_core::method_details::PaymentMethodDetails;
use kassa_core::scope::Scope;
use kassa_processor::{
    AuthorizeOutcome, AuthorizeRequest, ChallengeResult, Decline, ProcessorError,
};
use kassa_store::{now_ms, PaymentAttempt};

use crate::payments::{check_return_url, check_test_token, year_month, ConfirmParams, SaveChoice};
use crate::{Idem, Result, ServiceError};

fn decline_error(d: &Decline) -> PaymentError {
    PaymentError {
        kind: "card_error".into(),
        code: d.code.clone(),
        decline_code: d.decline_code.clone(),
        message: d.message.clone(),
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

impl Payments<'_> {
    /// Confirms an intent with a payment method. Returns the intent after the processor
    /// answered: `succeeded`, `requires_capture`, `requires_action` (3-D Secure) or, on a
    /// decline, `ServiceError::Declined` with the intent back in `requires_payment_method`.
    pub async fn confirm_intent(
        &self,
        scope: &Scope,
        id: &str,
        p: ConfirmParams,
        idem: Option<&Idem>,
    ) -> Result<PaymentIntent> {
        check_test_token(&p.method)?;
        // A known test card in live mode is declined by Kassa itself: it never reaches a
        // processor. Anything else in live mode needs the live processor before the intent is
        // claimed, so a missing one changes nothing.
        let processor = if scope.livemode && kassa_processor::is_known_test_method(&p.method) {
            None
        } else {
            Some(self.processor_for(scope).await?)
        };
        let return_url = p.return_url.as_deref().map(check_return_url).transpose()?;
        let now = now_ms();

        // 1. Claim the intent.
        let mut tx = self.store.begin().await?;
        let mut pi = tx
            .intent(scope, id)
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
            status: AttemptStatus::Processing,
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
        let request = AuthorizeRequest {
            attempt_id: &attempt.id,
            amount: kassa_core::money::Money {
                amount: pi.amount,
                currency: pi.currency,
            },
            method: &p.method,
            capture: pi.capture_method == CaptureMethod::Automatic,
            three_d_secure: p.three_d_secure,
            save_method: pi.setup_future_usage.is_some(),
            fingerprint_key: &self.fingerprint_key,
            now_year: year,
            now_month: month,
        };
        let result = match processor {
            Some(processor) => processor.authorize(request).await,
            None => Ok(kassa_processor::AuthorizeResult {
                details: kassa_processor::details_of(&p.method, &self.fingerprint_key),
                outcome: kassa_processor::AuthorizeOutcome::Declined(
                    kassa_processor::Decline::test_card_in_live_mode(),
                ),
            }),
        };

        // 3. Record the answer.
        let now = now_ms();
        let (core_result, details) = match result {
            Ok(r) => {
                attempt.payment_method = serde_json::to_string(&r.details).ok();
                let details = Some(r.details);
                let core = self.record_outcome(&mut attempt, Ok(r.outcome), true);
                (core, details)
            }
            Err(e) => (self.record_outcome(&mut attempt, Err(e), true), None),
        };
        attempt.updated_at = now;
        self.apply_result_known(
            pi,
            &attempt,
            AttemptStatus::Processing,
            core_result,
            details,
            idem,
        )
        .await
    }

    /// Charges an intent in `requires_payment_method` with the stored method behind
    /// `original_ref` (a saved card), without the customer: a merchant-initiated payment.
    /// `method` describes the stored method for the attempt's record. Same outcomes as
    /// [`Payments::confirm_intent`](crate::Payments::confirm_intent) except that no challenge is ever asked for.
    pub(crate) async fn confirm_with_stored_method(
        &self,
        scope: &Scope,
        intent_id: &str,
        original_ref: &str,
        method: Option<String>,
        idem: Option<&Idem>,
    ) -> Result<PaymentIntent> {
        let processor = self.processor_for(scope).await?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let mut pi = tx
            .intent(scope, intent_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("payment_intent", intent_id))?;
        pi.begin_confirm(now)?;
        tx.update_intent(&mut pi).await?;
        let mut attempt = PaymentAttempt {
            id: new_id(prefix::PAYMENT_ATTEMPT),
            payment_intent_id: pi.id.clone(),
            status: AttemptStatus::Processing,
            payment_method: None,
            processor_ref: None,
            challenge_state: None,
            error: None,
            created_at: now,
            updated_at: now,
        };
        tx.insert_attempt(&attempt).await?;
        tx.commit().await?;
        let result = processor
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
        let details = method.and_then(|m| serde_json::from_str::<PaymentMethodDetails>(&m).ok());
        self.apply_result_known(pi, &attempt, AttemptStatus::Processing, core, details, idem)
            .await
    }

    /// Writes a processor's answer for an intent in `processing`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn apply_result(
        &self,
        scope: &Scope,
        intent_id: &str,
        attempt: &PaymentAttempt,
        attempt_from: AttemptStatus,
        result: AuthorizationResult,
        details: Option<PaymentMethodDetails>,
        idem: Option<&Idem>,
    ) -> Result<PaymentIntent> {
        self.apply_result_to(
            scope,
            intent_id,
            None,
            attempt,
            attempt_from,
            result,
            details,
            idem,
        )
        .await
    }

    /// [`Payments::apply_result`](crate::Payments::apply_result) for the intent as this process left it when it claimed the
    /// attempt (`known`): no second read on the paid path. The write is version-checked; if
    /// the intent changed meanwhile, the answer is applied again to the intent as stored.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn apply_result_known(
        &self,
        known: PaymentIntent,
        attempt: &PaymentAttempt,
        attempt_from: AttemptStatus,
        result: AuthorizationResult,
        details: Option<PaymentMethodDetails>,
        idem: Option<&Idem>,
    ) -> Result<PaymentIntent> {
        let (scope, intent_id) = (known.scope(), known.id.clone());
        let first = self
            .apply_result_to(
                &scope,
                &intent_id,
                Some(known),
                attempt,
                attempt_from,
                result.clone(),
                details.clone(),
                idem,
            )
            .await;
        match first {
            Err(ServiceError::Conflict) => {
                self.apply_result(
                    &scope,
                    &intent_id,
                    attempt,
                    attempt_from,
                    result,
                    details,
                    idem,
                )
                .await
            }
            other => other,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn apply_result_to(
        &self,
        scope: &Scope,
        intent_id: &str,
        known: Option<PaymentIntent>,
        attempt: &PaymentAttempt,
        attempt_from: AttemptStatus,
        result: AuthorizationResult,
        details: Option<PaymentMethodDetails>,
        idem: Option<&Idem>,
    ) -> Result<PaymentIntent> {
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let mut pi = match known {
            Some(pi) => pi,
            None => tx
                .intent(scope, intent_id)
                .await?
                .ok_or_else(|| ServiceError::not_found("payment_intent", intent_id))?,
        };
        let declined = match &result {
            AuthorizationResult::Declined(e) => Some(e.clone()),
            _ => None,
        };
        let events = pi.apply_authorization(result, details, now)?;
        if let (Some(_), Some(customer)) = (pi.capture_before, pi.customer.clone()) {
            // A held authorization of a customer on a test clock expires in the clock's time.
            if let Some(clock_now) = self
                .store
                .customer_clock_time(&pi.scope(), &customer)
                .await?
            {
                pi.count_capture_window_from(clock_now);
            }
        }
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
                    tx.complete_idempotency(&idem.scope, &idem.key, 402, &err_body.to_string())
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
            let processor = match self.processor_for(&pi.scope()).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(attempt = %attempt.id, error = %e, "no processor to ask; will retry");
                    continue;
                }
            };
            let outcome = match processor.lookup(&attempt.id).await {
                Ok(o) => o,
                Err(e) => {
                    tracing::warn!(attempt = %attempt.id, error = %e, "processor lookup failed; will retry");
                    continue;
                }
            };
            let core = match outcome {
                Some(o) => self.record_outcome(&mut attempt, Ok(o), false),
                None => {
                    attempt.status = AttemptStatus::Failed;
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
                    &pi.scope(),
                    &pi.id,
                    &attempt,
                    AttemptStatus::Processing,
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
                attempt.status = AttemptStatus::Succeeded;
                attempt.processor_ref = Some(processor_ref.clone());
                AuthorizationResult::Approved { processor_ref }
            }
            Ok(AuthorizeOutcome::UnderReview { processor_ref }) => {
                // Authorized but held for the processor's risk review: nothing is captured yet.
                attempt.status = AttemptStatus::Succeeded;
                attempt.processor_ref = Some(processor_ref.clone());
                AuthorizationResult::Held { processor_ref }
            }
            Ok(AuthorizeOutcome::ChallengeRequired {
                processor_ref,
                challenge_state,
            }) if challenge_allowed => {
                attempt.status = AttemptStatus::RequiresAction;
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
                attempt.status = AttemptStatus::Failed;
                attempt.error = serde_json::to_string(&d).ok();
                AuthorizationResult::Declined(decline_error(&d))
            }
            Ok(AuthorizeOutcome::ChallengeRequired { .. }) => {
                self.record_outcome(attempt, Err(ProcessorError::InvalidState), false)
            }
            Err(e) => {
                attempt.status = AttemptStatus::Failed;
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
        if attempt.status != AttemptStatus::RequiresAction {
            // Already answered (a double submit or the back button): report the current state.
            return Ok(pi);
        }
        let processor = self.processor_for(&pi.scope()).await?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let mut claimed = tx
            .intent(&pi.scope(), &pi.id)
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
        let from = attempt.status;
        attempt.status = AttemptStatus::Processing;
        attempt.updated_at = now;
        if !tx.update_attempt(&attempt, from).await? {
            return Err(ServiceError::Conflict);
        }
        tx.commit().await?;

        let result = processor
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
                &pi.scope(),
                &pi.id,
                &attempt,
                AttemptStatus::Processing,
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
}
