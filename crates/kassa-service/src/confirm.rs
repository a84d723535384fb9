//! Paying an intent: a confirmation claims the intent (`processing`) and records an attempt,
//! asks the processor outside any transaction, and applies its answer (approved, held for
//! review, a challenge, a decline) in one transaction with the events, each face's projection
//! and the saving of the card when the payment asked for it. Challenges (3-D Secure, wallets,
//! bank redirects, vouchers) are completed here too, and attempts a crash interrupted are
//! settled by asking the processor.
//!
//! A lost answer ([`ProcessorError::Unknown`]: a timeout, a connection dropped mid-request)
//! is not a decline: the processor may have charged. The attempt and the intent then stay
//! `processing`, the caller gets the intent in `processing` (HTTP 200 on the native API, the
//! "processing" page at checkout), nothing else is written, and
//! [`Payments::recover_interrupted`] asks the processor ([`kassa_processor::Processor::lookup`])
//! once [`LOST_ANSWER_SETTLE_MS`] have passed and applies what it says. A second confirmation
//! meanwhile is refused: the intent is not in `requires_payment_method`.

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

/// The note a `processing` attempt carries while the processor's answer to it is lost
/// ([`ProcessorError::Unknown`]); the recovery asks the processor sooner for such an attempt.
pub(crate) const OUTCOME_UNKNOWN: &str = "the processor's answer was lost; awaiting lookup";

/// How long after a lost answer the processor is asked what became of the attempt: long
/// enough for it to finish what it was doing (and well under the wait for an attempt whose
/// process died, which may still be waiting for its answer).
pub(crate) const LOST_ANSWER_SETTLE_MS: i64 = 30_000;

/// Whether the recovery settles `attempt` (fetched as `processing` and older than
/// [`LOST_ANSWER_SETTLE_MS`]): one whose answer was lost, or one untouched since before
/// `interrupted_before` (its process died while asking, or it is stuck).
pub(crate) fn due_for_recovery(attempt: &PaymentAttempt, interrupted_before: i64) -> bool {
    attempt.error.as_deref() == Some(OUTCOME_UNKNOWN) || attempt.updated_at < interrupted_before
}

/// Why an intent in `status` cannot be confirmed; for one in `processing`, that the payment is
/// being confirmed and must not be paid again.
pub(crate) fn not_confirmable(status: IntentStatus) -> ServiceError {
    ServiceError::State(if status == IntentStatus::Processing {
        "This PaymentIntent's payment is being confirmed (status processing): it was not \
         charged again. Kassa settles it by itself; retrieve the PaymentIntent or wait for its \
         webhook instead of confirming again."
            .into()
    } else {
        format!(
            "This PaymentIntent's status is {}; it can only be confirmed in requires_payment_method.",
            status.as_str()
        )
    })
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
    /// answered: `succeeded`, `requires_capture`, `requires_action` (3-D Secure), `processing`
    /// when the answer was lost (settled later, see the module's doc) or, on a decline,
    /// `ServiceError::Declined` with the intent back in `requires_payment_method`.
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
        let (account, processor) =
            if scope.livemode && kassa_processor::is_known_test_method(&p.method) {
                (None, None)
            } else {
                let (account, processor) = self.route(scope).await?;
                (account, Some(processor))
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
            return Err(not_confirmable(pi.status));
        }
        if let Some(processor) = &processor {
            crate::processors::check_capabilities(
                &processor.capabilities(),
                &p.method,
                pi.capture_method,
                pi.currency,
            )?;
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
        pi.processor_account = account;
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
        if let Err(e @ ProcessorError::Unknown(_)) = &result {
            attempt.payment_method = serde_json::to_string(&kassa_processor::details_of(
                &p.method,
                &self.fingerprint_key,
            ))
            .ok();
            return self.await_lost_answer(pi, &mut attempt, e, idem).await;
        }
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
        let (account, processor) = self.route(scope).await?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let mut pi = tx
            .intent(scope, intent_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("payment_intent", intent_id))?;
        if pi.status == IntentStatus::Processing {
            return Err(not_confirmable(pi.status));
        }
        pi.begin_confirm(now)?;
        pi.processor_account = account;
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
        attempt.payment_method = method.clone();
        if let Err(e @ ProcessorError::Unknown(_)) = &result {
            return self.await_lost_answer(pi, &mut attempt, e, idem).await;
        }
        let core = self.record_outcome(&mut attempt, result, false);
        attempt.updated_at = now_ms();
        let details = method.and_then(|m| serde_json::from_str::<PaymentMethodDetails>(&m).ok());
        self.apply_result_known(pi, &attempt, AttemptStatus::Processing, core, details, idem)
            .await
    }

    /// The processor's answer to the attempt was lost ([`ProcessorError::Unknown`]): it may
    /// have charged. The attempt stays `processing`, noted [`OUTCOME_UNKNOWN`] (with the
    /// method's details, for when it is settled), the intent `known` stays `processing` with no
    /// event, and the answer is that intent, stored for an idempotent replay.
    /// [`Payments::recover_interrupted`] settles it.
    async fn await_lost_answer(
        &self,
        known: PaymentIntent,
        attempt: &mut PaymentAttempt,
        error: &ProcessorError,
        idem: Option<&Idem>,
    ) -> Result<PaymentIntent> {
        tracing::warn!(attempt = %attempt.id, intent = %known.id, error = %error,
            "the processor's answer was lost; the payment stays processing until the processor is asked");
        attempt.status = AttemptStatus::Processing;
        attempt.error = Some(OUTCOME_UNKNOWN.into());
        attempt.updated_at = now_ms();
        let mut tx = self.store.begin().await?;
        if !tx
            .update_attempt(attempt, AttemptStatus::Processing)
            .await?
        {
            // Settled meanwhile (an answer slower than the recovery): report the intent as it is.
            drop(tx);
            return self.intent(&known.scope(), &known.id).await;
        }
        self.finish(tx, idem, &known.to_json(&self.base_url))
            .await?;
        self.count_payment("unknown");
        Ok(known)
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

    /// Settles attempts left `processing`: those whose answer was lost
    /// ([`ProcessorError::Unknown`]) once [`LOST_ANSWER_SETTLE_MS`] (or `older_than_ms`, if
    /// shorter) have passed, and those left by a process that died between claiming the intent
    /// and recording the processor's answer once `older_than_ms` have passed (longer than any
    /// processor call, so none is still waiting for its answer). The processor is asked what
    /// happened, and the answer (or "no record": nothing was charged) is applied as if it had
    /// just arrived, with its events; a processor that cannot answer now is asked on the next
    /// pass. Safe to run from several processes at once: the attempt's own status guards the
    /// write.
    pub async fn recover_interrupted(&self, older_than_ms: i64) -> Result<usize> {
        let now = now_ms();
        let stale = self
            .store
            .stale_processing_attempts(now - older_than_ms.min(LOST_ANSWER_SETTLE_MS), 100)
            .await?;
        let mut settled = 0;
        let due = stale
            .into_iter()
            .filter(|a| due_for_recovery(a, now - older_than_ms));
        for mut attempt in due {
            let Some(pi) = self
                .store
                .intent_by_id_any_merchant(&attempt.payment_intent_id)
                .await?
            else {
                continue;
            };
            let processor = match self.processor_of(&pi).await {
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
                Some(o) => {
                    attempt.challenge_state = None;
                    self.record_outcome(&mut attempt, Ok(o), false)
                }
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
            // The method recorded when the attempt was claimed (or its answer lost), so the
            // settled intent shows it and a card asked to be saved is saved.
            let details = attempt
                .payment_method
                .as_deref()
                .and_then(|m| serde_json::from_str::<PaymentMethodDetails>(m).ok());
            tracing::warn!(attempt = %attempt.id, intent = %pi.id, status = %attempt.status, "settled an interrupted payment attempt");
            match self
                .apply_result(
                    &pi.scope(),
                    &pi.id,
                    &attempt,
                    AttemptStatus::Processing,
                    core,
                    details,
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
        let processor = self.processor_of(&pi).await?;
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
        if let Err(e @ ProcessorError::Unknown(_)) = &result {
            return self.await_lost_answer(claimed, &mut attempt, e, None).await;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(error: Option<&str>, updated_at: i64) -> PaymentAttempt {
        PaymentAttempt {
            id: "pa_1".into(),
            payment_intent_id: "pi_1".into(),
            status: AttemptStatus::Processing,
            payment_method: None,
            processor_ref: None,
            challenge_state: None,
            error: error.map(str::to_string),
            created_at: updated_at,
            updated_at,
        }
    }

    #[test]
    fn a_lost_answer_is_recovered_sooner_than_an_interrupted_attempt() {
        let interrupted_before = 1_000;
        // Its answer lost: due as soon as it was fetched (past the settle delay).
        assert!(due_for_recovery(
            &attempt(Some(OUTCOME_UNKNOWN), 5_000),
            interrupted_before
        ));
        // Otherwise its process may still be waiting for the answer: due only when older.
        assert!(!due_for_recovery(&attempt(None, 5_000), interrupted_before));
        assert!(!due_for_recovery(
            &attempt(Some("something else"), 5_000),
            interrupted_before
        ));
        assert!(due_for_recovery(&attempt(None, 999), interrupted_before));
        assert!(!due_for_recovery(&attempt(None, 1_000), interrupted_before));
    }

    #[test]
    fn a_processing_intent_is_refused_as_being_confirmed() {
        let ServiceError::State(m) = not_confirmable(IntentStatus::Processing) else {
            panic!("a state error");
        };
        assert!(m.contains("being confirmed"), "{m}");
        assert!(m.contains("not charged again"), "{m}");
        let ServiceError::State(m) = not_confirmable(IntentStatus::Succeeded) else {
            panic!("a state error");
        };
        assert!(m.contains("status is succeeded"), "{m}");
    }
}
