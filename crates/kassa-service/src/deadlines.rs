//! The deadlines the scheduler keeps for every payment, whatever face made it: an authorization
//! nobody captured is released when its capture window runs out, a held authorization's risk
//! review is asked for its verdict, and an offline payment (a voucher) nobody paid is declined
//! when its window runs out.

use crate::Payments;
use kassa_core::intent::AttemptStatus;
use kassa_core::intent::CaptureMethod;
use kassa_core::scope::Scope;
use kassa_processor::ChallengeResult;
use kassa_store::now_ms;

use crate::{Result, ServiceError};

impl Payments<'_> {
    /// Releases the authorizations whose capture window ran out (at most `limit` per pass):
    /// voided at the processor and cancelled as `automatic`, with `payment_intent.canceled` and
    /// each face's own notification (a void callback). Returns how many were released; one
    /// that cannot be released now (the processor is away, or a capture won the race) is left
    /// for the next pass.
    pub async fn expire_authorizations(&self, limit: i64) -> Result<usize> {
        let due = self
            .store
            .due_authorization_expiries(now_ms(), limit)
            .await?;
        let mut released = 0;
        for (merchant_id, id) in due {
            let reason = Some(kassa_core::intent::EXPIRED_AUTHORIZATION_REASON.to_string());
            match self.cancel_checked(&merchant_id, &id, reason, None).await {
                Ok(_) => released += 1,
                Err(e) => {
                    tracing::warn!(intent = %id, error = %e, "an expired authorization was not released; retrying on the next pass")
                }
            }
        }
        Ok(released)
    }

    /// Applies the verdicts of risk reviews that are due (at most `limit` per pass), whatever
    /// face made the payment: accepted, an automatic-capture payment is captured and a
    /// manual-capture one is left for the merchant to capture; declined, the authorization is
    /// voided and cancelled as `fraudulent`; no verdict yet, it is asked again one delay later.
    /// Returns how many verdicts were applied.
    pub async fn decide_reviews(&self, limit: i64) -> Result<usize> {
        let due = self.store.due_reviews(now_ms(), limit).await?;
        let mut decided = 0;
        for (merchant_id, id) in due {
            match self.decide_review(&merchant_id, &id).await {
                Ok(true) => decided += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(intent = %id, error = %e, "risk review not decided; retrying on the next pass")
                }
            }
        }
        Ok(decided)
    }

    async fn decide_review(&self, scope: &Scope, id: &str) -> Result<bool> {
        let pi = self.intent(scope, id).await?;
        if !pi.under_review() {
            return Ok(false);
        }
        let verdict = self
            .processor_of(&pi)
            .await?
            .review_verdict(pi.processor_ref.as_deref().unwrap_or_default())
            .await
            .map_err(|e| ServiceError::Processor(e.to_string()))?;
        match verdict {
            Some(true) if pi.capture_method == CaptureMethod::Automatic => {
                self.capture_intent(scope, id, None, None).await?;
            }
            Some(false) => {
                let reason = Some(kassa_core::intent::REVIEW_DECLINED_REASON.to_string());
                self.cancel_checked(scope, id, reason, None).await?;
            }
            accepted_or_pending => {
                let now = now_ms();
                let mut tx = self.store.begin().await?;
                let mut pi = tx
                    .intent(scope, id)
                    .await?
                    .ok_or_else(|| ServiceError::not_found("payment_intent", id))?;
                if accepted_or_pending.is_some() {
                    pi.review_accepted_for_manual_capture(now);
                } else {
                    pi.review_later(now);
                }
                tx.update_intent(&mut pi).await?;
                tx.commit().await?;
                return Ok(accepted_or_pending.is_some());
            }
        }
        Ok(true)
    }

    /// Declines the offline payments (vouchers, kiosk references) whose window ran out (at most
    /// `limit` per pass): the pending attempt is answered as unpaid, so the payment declines
    /// with `voucher_expired`, its events and each face's own notification follow, and the
    /// customer may pay again another way. Returns how many were declined.
    pub async fn expire_offline_payments(&self, limit: i64) -> Result<usize> {
        let due = self.store.due_offline_expiries(now_ms(), limit).await?;
        let mut expired = 0;
        for (_, id) in due {
            let attempt = match self.store.open_attempt(&id).await? {
                Some(a) if a.status == AttemptStatus::RequiresAction => a,
                _ => continue,
            };
            match self
                .complete_challenge_with(&attempt.id, ChallengeResult::Fail)
                .await
            {
                Ok(_) => expired += 1,
                Err(ServiceError::Conflict | ServiceError::State(_)) => {}
                Err(e) => {
                    tracing::warn!(intent = %id, error = %e, "an expired voucher was not declined; retrying on the next pass")
                }
            }
        }
        Ok(expired)
    }
}
