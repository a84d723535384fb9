//! Refunds: the refunded total is reserved before the processor is asked, so concurrent refunds
//! never add up to more than was captured; each face's own child object and notification follow
//! through its projection.
//!
//! A refund whose answer was lost ([`ProcessorError::Unknown`]) may have been made: it stays
//! `pending` with its amount reserved, and [`Payments::retry_unanswered_refunds`] asks the
//! processor again under the same refund id (so the same idempotency key: the processor refunds
//! at most once) until it answers.

use crate::Payments;
use kassa_core::events::EventType;
use kassa_core::ids::{new_id, prefix};
use kassa_core::intent::{IntentStatus, Refund, RefundStatus, REFUND_REASONS};
use kassa_core::scope::Scope;
use kassa_processor::{ProcessorError, RefundOutcome};
use kassa_store::{now_ms, Tx};

use crate::payments::{check_metadata, CreateRefundParams};
use crate::{Idem, Result, ServiceError};

impl Payments<'_> {
    /// Creates a refund. The refunded total is reserved with a conditional update before the
    /// processor is asked, so concurrent refunds can never add up to more than was captured.
    pub async fn create_refund(
        &self,
        scope: &Scope,
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
            .intent(scope, &p.payment_intent)
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
        let processor = self.processor_of(&pi).await?;
        crate::processors::check_partial(
            &processor.capabilities(),
            "refund",
            amount,
            pi.amount_received,
        )?;
        let now = now_ms();
        let refund = Refund {
            id: new_id(prefix::REFUND),
            merchant_id: scope.merchant_id.clone(),
            livemode: scope.livemode,
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
            &self.new_event(scope, EventType::RefundCreated, refund.to_json(), now),
            &refund.id,
        )
        .await?;
        crate::audit::record(
            &mut tx,
            scope,
            "refund.create",
            Some(&refund.id),
            &serde_json::json!({
                "payment_intent": pi.id, "amount": amount, "currency": pi.currency.code(),
                "kind": refund.kind.as_str(), "reason": refund.reason,
            }),
        )
        .await?;
        tx.commit().await?;

        let result = processor
            .refund(
                pi.processor_ref.as_deref().unwrap_or_default(),
                &refund.id,
                kassa_core::money::Money {
                    amount,
                    currency: pi.currency,
                },
            )
            .await;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let refund = match self
            .write_refund_answer(&mut tx, &pi, refund, result, Ask::First, now)
            .await?
        {
            Written::Answered(r) | Written::Unanswered(r) => r,
            // The sweep answered it first (this answer came very late): report it as stored.
            Written::AlreadyAnswered(id) => {
                drop(tx);
                let stored = self.refund(scope, &id).await?;
                let mut tx = self.store.begin().await?;
                if let Some(idem) = idem {
                    tx.complete_idempotency(
                        &idem.scope,
                        &idem.key,
                        200,
                        &stored.to_json().to_string(),
                    )
                    .await?;
                }
                tx.commit().await?;
                return Ok(stored);
            }
        };
        self.finish(tx, idem, &refund.to_json()).await?;
        Ok(refund)
    }

    /// Writes the processor's answer to `refund` (still `pending` without a reference) in
    /// `tx`: succeeded (with `refund.succeeded` and each face's projection), pending at the
    /// processor (its reference kept), or failed (the reserved amount given back). A lost
    /// answer writes nothing: the refund stays `pending` with its amount reserved. So does a
    /// processor that cannot be reached on a second ask, since the first may have been made.
    async fn write_refund_answer(
        &self,
        tx: &mut Tx,
        pi: &kassa_core::intent::PaymentIntent,
        mut refund: Refund,
        result: std::result::Result<RefundOutcome, ProcessorError>,
        ask: Ask,
        now: i64,
    ) -> Result<Written> {
        match result {
            Ok(RefundOutcome::Pending(r)) => {
                refund.processor_ref = Some(r);
                if !tx.answer_refund(&refund).await? {
                    return Ok(Written::AlreadyAnswered(refund.id));
                }
            }
            Ok(RefundOutcome::Succeeded(r)) => {
                refund.status = RefundStatus::Succeeded;
                refund.processor_ref = Some(r);
                if !tx.answer_refund(&refund).await? {
                    return Ok(Written::AlreadyAnswered(refund.id));
                }
                let ev = self.new_event(
                    &refund.scope(),
                    EventType::RefundSucceeded,
                    refund.to_json(),
                    now,
                );
                tx.insert_event(&ev, &refund.id).await?;
                for p in self.projections.iter() {
                    p.refund_succeeded(self, tx, pi, &refund, &ev.id, now)
                        .await?;
                }
            }
            Err(e) if keeps_refund_pending(&e, ask) => {
                tracing::warn!(refund = %refund.id, error = %e,
                    "the processor's answer to a refund is unknown; it stays pending and is asked again");
                return Ok(Written::Unanswered(refund));
            }
            Err(e) => {
                tracing::warn!(refund = %refund.id, error = %e, "refund failed at the processor");
                refund.status = RefundStatus::Failed;
                if !tx.answer_refund(&refund).await? {
                    return Ok(Written::AlreadyAnswered(refund.id));
                }
                tx.add_refunded_release(&pi.id, refund.amount, now).await?;
            }
        }
        Ok(Written::Answered(refund))
    }

    /// Asks the processor again about the refunds whose answer was lost (still `pending`
    /// without the processor's reference, created more than `older_than_ms` ago; at most
    /// `limit` per pass), under the same refund id, so the processor refunds at most once.
    /// A definite answer is written as at creation, with its events; otherwise the refund
    /// stays pending, its amount reserved, for the next pass. Returns how many were answered.
    /// Safe to run from several processes at once: the answer is written only on a refund
    /// that has none.
    pub async fn retry_unanswered_refunds(&self, older_than_ms: i64, limit: i64) -> Result<usize> {
        let due = self
            .store
            .unanswered_refunds(now_ms() - older_than_ms, limit)
            .await?;
        let mut answered = 0;
        for refund in due {
            let scope = refund.scope();
            let Some(pi) = self.store.intent(&scope, &refund.payment_intent_id).await? else {
                continue;
            };
            let processor = match self.processor_of(&pi).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(refund = %refund.id, error = %e, "no processor to ask about a refund; will retry");
                    continue;
                }
            };
            let result = processor
                .refund(
                    pi.processor_ref.as_deref().unwrap_or_default(),
                    &refund.id,
                    kassa_core::money::Money {
                        amount: refund.amount,
                        currency: refund.currency,
                    },
                )
                .await;
            let now = now_ms();
            let mut tx = self.store.begin().await?;
            match self
                .write_refund_answer(&mut tx, &pi, refund, result, Ask::Again, now)
                .await?
            {
                Written::Answered(r) => {
                    tx.commit().await?;
                    self.notifier.wake();
                    tracing::warn!(refund = %r.id, status = %r.status.as_str(), "settled a refund whose answer was lost");
                    answered += 1;
                }
                Written::Unanswered(_) | Written::AlreadyAnswered(_) => {}
            }
        }
        Ok(answered)
    }

    pub async fn refund(&self, scope: &Scope, id: &str) -> Result<Refund> {
        self.store
            .refund(scope, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("refund", id))
    }
}

/// Whether the processor is asked about the refund for the first time or again (after its
/// answer was lost).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ask {
    First,
    Again,
}

/// What [`Payments::write_refund_answer`] did.
enum Written {
    /// The answer is written in the transaction.
    Answered(Refund),
    /// No definite answer: nothing written, the refund stays pending and reserved.
    Unanswered(Refund),
    /// Another writer answered this refund first: nothing written.
    AlreadyAnswered(String),
}

/// Whether a failed call leaves the refund pending (to be asked again) rather than failed: a
/// lost answer always (the refund may have been made); a processor that could not be reached
/// when asked again too, since the first ask may have been made.
fn keeps_refund_pending(e: &ProcessorError, ask: Ask) -> bool {
    match e {
        ProcessorError::Unknown(_) => true,
        ProcessorError::Unavailable(_) => ask == Ask::Again,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_uncertain_answer_keeps_a_refund_pending() {
        let unknown = || ProcessorError::Unknown("timeout".into());
        let unavailable = || ProcessorError::Unavailable("503".into());
        assert!(keeps_refund_pending(&unknown(), Ask::First));
        assert!(keeps_refund_pending(&unknown(), Ask::Again));
        // Not reached the first time: nothing was refunded, the refund fails.
        assert!(!keeps_refund_pending(&unavailable(), Ask::First));
        // Not reached on a second ask: the first may have been made.
        assert!(keeps_refund_pending(&unavailable(), Ask::Again));
        for definite in [
            ProcessorError::Rejected("bad".into()),
            ProcessorError::InvalidState,
            ProcessorError::UnknownReference("x".into()),
        ] {
            assert!(!keeps_refund_pending(&definite, Ask::First), "{definite:?}");
            assert!(!keeps_refund_pending(&definite, Ask::Again), "{definite:?}");
        }
    }
}
