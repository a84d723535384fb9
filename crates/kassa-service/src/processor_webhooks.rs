//! A processor's webhooks (`POST /v1/processor_webhooks/{account}`): verified by the account's
//! connector, then applied through the core like any other answer of the processor, so a
//! payment or refund the processor settled later reaches its final state with its events,
//! once, however many times the processor sends the event.

use kassa_core::events::EventType;
use kassa_core::intent::{AttemptStatus, RefundStatus};
use kassa_processor::{AuthorizeOutcome, Decline, ProcessorEvent, WebhookError};
use kassa_store::{now_ms, PaymentAttempt, ProcessorAccount};

use crate::{Processors, Result, ServiceError};

/// What became of a verified webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookApplied {
    /// It moved a payment or a refund to its final state (the object's id).
    Settled(String),
    /// It named nothing of this account's that is still waiting (already settled, another
    /// account's payment, an event Kassa has no use for).
    Ignored,
}

/// Why a webhook was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookRefused {
    #[error("no such processor account")]
    UnknownAccount,
    #[error("{0}")]
    Invalid(#[from] WebhookError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl Processors<'_> {
    /// Verifies a webhook sent to `account_id`'s URL with the account's connector and applies
    /// it. A removed account still receives the webhooks of the payments it took.
    pub async fn handle_webhook(
        &self,
        account_id: &str,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> std::result::Result<WebhookApplied, WebhookRefused> {
        let account = self
            .store
            .processor_account_by_id(account_id)
            .await
            .map_err(ServiceError::from)?
            .ok_or(WebhookRefused::UnknownAccount)?;
        let processor = self.account_processor(&account)?;
        let event = processor
            .handle_webhook(headers, body, now_ms() / 1000)
            .await?;
        Ok(self.apply_event(&account, event).await?)
    }

    async fn apply_event(
        &self,
        account: &ProcessorAccount,
        event: ProcessorEvent,
    ) -> Result<WebhookApplied> {
        let (processor_ref, attempt_id, outcome) = match event {
            ProcessorEvent::PaymentSucceeded {
                processor_ref,
                attempt_id,
            }
            | ProcessorEvent::PaymentAuthorized {
                processor_ref,
                attempt_id,
            } => {
                let approved = AuthorizeOutcome::Approved {
                    processor_ref: processor_ref.clone(),
                };
                (processor_ref, attempt_id, approved)
            }
            ProcessorEvent::PaymentFailed {
                processor_ref,
                attempt_id,
                decline,
            } => (
                processor_ref,
                attempt_id,
                AuthorizeOutcome::Declined(decline),
            ),
            ProcessorEvent::PaymentCanceled {
                processor_ref,
                attempt_id,
            } => (
                processor_ref,
                attempt_id,
                AuthorizeOutcome::Declined(Decline::authentication_failed()),
            ),
            ProcessorEvent::RefundSucceeded { refund_ref } => {
                return self.settle_refund(account, &refund_ref, true).await
            }
            ProcessorEvent::RefundFailed { refund_ref } => {
                return self.settle_refund(account, &refund_ref, false).await
            }
            ProcessorEvent::Ignored { event_type } => {
                tracing::debug!(account = %account.id, event_type, "processor webhook ignored");
                return Ok(WebhookApplied::Ignored);
            }
        };
        let Some(attempt) = self
            .store
            .attempt_for_processor(&processor_ref, attempt_id.as_deref())
            .await?
        else {
            return Ok(WebhookApplied::Ignored);
        };
        self.settle_attempt(account, attempt, outcome).await
    }

    /// Applies the processor's late answer to an attempt still waiting for one (a challenge
    /// at the processor, or an answer that was lost). An attempt already answered, or one of
    /// another account, is left alone.
    async fn settle_attempt(
        &self,
        account: &ProcessorAccount,
        mut attempt: PaymentAttempt,
        outcome: AuthorizeOutcome,
    ) -> Result<WebhookApplied> {
        let from = attempt.status;
        if !matches!(
            from,
            AttemptStatus::Processing | AttemptStatus::RequiresAction
        ) {
            return Ok(WebhookApplied::Ignored);
        }
        let Some(pi) = self
            .store
            .intent_by_id_any_merchant(&attempt.payment_intent_id)
            .await?
        else {
            return Ok(WebhookApplied::Ignored);
        };
        if pi.scope() != account.scope() || pi.processor_account.as_deref() != Some(&account.id) {
            return Ok(WebhookApplied::Ignored);
        }
        let payments = self.payments();
        let settled = if from == AttemptStatus::RequiresAction {
            // The customer finished the challenge at the processor (and may never come back to
            // Kassa): finish it as their return would, the connector asking the processor.
            let approved = matches!(outcome, AuthorizeOutcome::Approved { .. });
            payments.complete_challenge(&attempt.id, approved).await
        } else {
            // The answer that was lost.
            let result = payments.record_outcome(&mut attempt, Ok(outcome), false);
            attempt.updated_at = now_ms();
            payments
                .apply_result(&pi.scope(), &pi.id, &attempt, from, result, None, None)
                .await
        };
        match settled {
            Ok(pi) => Ok(WebhookApplied::Settled(pi.id)),
            // Answered meanwhile (the customer came back, the recovery ran): nothing to do.
            Err(ServiceError::Conflict | ServiceError::State(_)) => Ok(WebhookApplied::Ignored),
            // A decline is the answer applied, not a failure of the webhook.
            Err(ServiceError::Declined { .. }) => Ok(WebhookApplied::Settled(pi.id)),
            Err(e) => Err(e),
        }
    }

    /// A refund that answered pending succeeded (`refund.succeeded`, each face's projection) or
    /// failed (its reserved amount given back).
    async fn settle_refund(
        &self,
        account: &ProcessorAccount,
        refund_ref: &str,
        succeeded: bool,
    ) -> Result<WebhookApplied> {
        let scope = account.scope();
        let Some(mut refund) = self
            .store
            .refund_by_processor_ref(&scope, refund_ref)
            .await?
        else {
            return Ok(WebhookApplied::Ignored);
        };
        if refund.status != RefundStatus::Pending {
            return Ok(WebhookApplied::Ignored);
        }
        let Some(pi) = self.store.intent(&scope, &refund.payment_intent_id).await? else {
            return Ok(WebhookApplied::Ignored);
        };
        if pi.processor_account.as_deref() != Some(&account.id) {
            return Ok(WebhookApplied::Ignored);
        }
        let now = now_ms();
        refund.status = if succeeded {
            RefundStatus::Succeeded
        } else {
            RefundStatus::Failed
        };
        let mut tx = self.store.begin().await?;
        if !tx.settle_pending_refund(&refund).await? {
            return Ok(WebhookApplied::Ignored);
        }
        if succeeded {
            let ev = self.payments().new_event(
                &scope,
                EventType::RefundSucceeded,
                refund.to_json(),
                now,
            );
            tx.insert_event(&ev, &refund.id).await?;
            for p in self.projections.iter() {
                p.refund_succeeded(self, &mut tx, &pi, &refund, &ev.id, now)
                    .await?;
            }
        } else {
            tx.add_refunded_release(&pi.id, refund.amount, now).await?;
        }
        tx.commit().await?;
        self.notifier.wake();
        Ok(WebhookApplied::Settled(refund.id))
    }
}
