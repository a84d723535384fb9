//! Refunds: the refunded total is reserved before the processor is asked, so concurrent refunds
//! never add up to more than was captured; each face's own child object and notification follow
//! through its projection.

use crate::Payments;
use kassa_core::events::EventType;
use kassa_core::ids::{new_id, prefix};
use kassa_core::intent::{IntentStatus, Refund, RefundStatus, REFUND_REASONS};
use kassa_core::scope::Scope;
use kassa_store::now_ms;

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
        let processor = self.processor_for(scope).await?;
        let now = now_ms();
        let mut refund = Refund {
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
        match result {
            Ok(kassa_processor::RefundOutcome::Pending(r)) => {
                refund.processor_ref = Some(r);
                tx.update_refund(&refund).await?;
            }
            Ok(kassa_processor::RefundOutcome::Succeeded(r)) => {
                refund.status = RefundStatus::Succeeded;
                refund.processor_ref = Some(r);
                tx.update_refund(&refund).await?;
                let ev = self.new_event(scope, EventType::RefundSucceeded, refund.to_json(), now);
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

    pub async fn refund(&self, scope: &Scope, id: &str) -> Result<Refund> {
        self.store
            .refund(scope, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("refund", id))
    }
}
