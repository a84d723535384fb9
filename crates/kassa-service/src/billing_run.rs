//! The subscription engine: does what a subscription has due (a trial's notice, a new period's
//! invoice and its charge, a retry, the end), one step at a time, for the wall-clock scheduler
//! and for test clocks alike.
//!
//! Several processes may run it against one PostgreSQL: a step first claims the subscription
//! with a lease (a version-checked write), so only one process bills a period. A charge is made
//! under an idempotency key derived from the invoice and the attempt number, so a step retried
//! after a crash replays the first answer instead of charging again.

use crate::Billing;
use kassa_core::events::EventType;
use kassa_core::ids::{new_id, prefix};
use kassa_core::intent::{IntentStatus, Metadata};
use kassa_core::invoice::{Invoice, InvoiceStatus};
use kassa_core::scope::Scope;
use kassa_core::subscription::{Due, Subscription};
use kassa_store::{now_ms, IdemBegin};
use serde_json::Value;

use crate::payments::CreateIntentParams;
use crate::{Idem, Result, ServiceError};

/// How long a process holds a subscription while it makes one step (a charge included).
const LEASE_MS: i64 = 60_000;
/// Idempotency records of billing charges are kept as long as the API's.
const CHARGE_KEY_RETENTION_MS: i64 = 24 * 3_600_000;
/// Most steps one subscription makes in one call (a guard against a rule that never settles).
const MAX_STEPS: usize = 1_000;

/// How a charge attempt went.
enum Charged {
    Paid(Option<String>),
    Failed(Option<String>),
    /// The processor's answer was lost; the payment is `processing` until the recovery
    /// settles it. The same charge is asked again (replayed) at the next check.
    Pending,
}

/// How soon a charge with no known outcome is checked again (the recovery settles such a
/// payment within about a minute and a half).
const PENDING_RECHECK_MS: i64 = 60_000;

impl Billing<'_> {
    /// Runs every step the subscription has due at `now`, in order. Returns how many ran.
    pub async fn run_subscription(&self, scope: &Scope, id: &str, now: i64) -> Result<usize> {
        let mut steps = 0;
        while steps < MAX_STEPS && self.step_subscription(scope, id, now).await? {
            steps += 1;
        }
        Ok(steps)
    }

    /// The wall-clock scheduler's part: every subscription not on a test clock with work due.
    pub async fn run_due_subscriptions(&self, limit: i64) -> Result<usize> {
        let now = now_ms();
        let mut done = 0;
        for (merchant_id, id) in self.store.due_subscriptions(now, limit).await? {
            match self.run_subscription(&merchant_id, &id, now).await {
                Ok(n) => done += n,
                Err(e) => {
                    tracing::warn!(subscription = %id, error = %e, "billing step failed; will retry")
                }
            }
        }
        Ok(done)
    }

    /// Makes the one step due at `now`, if any; false when nothing was due or another process
    /// holds the subscription.
    pub(crate) async fn step_subscription(
        &self,
        scope: &Scope,
        id: &str,
        now: i64,
    ) -> Result<bool> {
        // 1. Claim it.
        let mut tx = self.store.begin().await?;
        let Some(mut sub) = tx.subscription(scope, id).await? else {
            return Ok(false);
        };
        let Some(due) = sub.due(now) else {
            return Ok(false);
        };
        let wall = now_ms();
        if !tx
            .claim_subscription(id, sub.version, wall, wall + LEASE_MS)
            .await?
        {
            return Ok(false);
        }
        sub.version += 1;
        tx.commit().await?;
        let before = sub.clone();

        // 2. Do it.
        match due {
            Due::TrialWillEnd => {
                sub.trial_notice_sent(now);
                self.write_step(
                    &before,
                    &mut sub,
                    &[EventType::CustomerSubscriptionTrialWillEnd],
                    None,
                    now,
                )
                .await?;
            }
            Due::End => {
                let at = sub.end_time();
                sub.end(at, now);
                let ended = [EventType::CustomerSubscriptionDeleted];
                self.write_step(&before, &mut sub, &ended, None, now)
                    .await?;
            }
            Due::Expire => {
                sub.expire(now);
                let ended = [EventType::CustomerSubscriptionDeleted];
                self.write_step(&before, &mut sub, &ended, None, now)
                    .await?;
            }
            Due::Bill(reason) => {
                sub.begin_period();
                let inv = Invoice::for_period(new_id(prefix::INVOICE), &sub, reason.as_str(), now);
                sub.latest_invoice = Some(inv.id.clone());
                sub.updated = now;
                let mut tx = self.store.begin().await?;
                tx.insert_invoice(&inv).await?;
                tx.update_subscription(&mut sub, Some(now_ms() + LEASE_MS))
                    .await?;
                self.invoice_event(&mut tx, &inv, EventType::InvoiceCreated)
                    .await?;
                tx.commit().await?;
                self.charge_invoice(sub, inv, now).await?;
            }
            Due::Retry => {
                let inv = match &sub.latest_invoice {
                    Some(i) => self.store.invoice(scope, i).await?,
                    None => None,
                };
                match inv {
                    Some(inv) if inv.status == InvoiceStatus::Open => {
                        self.charge_invoice(sub, inv, now).await?
                    }
                    // Nothing left to retry (paid or closed elsewhere): clear the retry.
                    _ => {
                        sub.retry_at = None;
                        sub.refresh_next_action();
                        self.write_step(&before, &mut sub, &[], None, now).await?;
                    }
                }
            }
        }
        self.notifier.wake();
        Ok(true)
    }

    /// Writes a step's change with its events and releases the lease.
    async fn write_step(
        &self,
        before: &Subscription,
        sub: &mut Subscription,
        events: &[EventType],
        invoice: Option<(&Invoice, EventType)>,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.store.begin().await?;
        self.write_subscription_change(&mut tx, before, sub, events, invoice, now)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One attempt at paying the invoice with the subscription's default card, then the
    /// outcome written on both (the subscription as it is by then: a merchant may have changed
    /// it during the charge).
    async fn charge_invoice(&self, sub: Subscription, mut inv: Invoice, now: i64) -> Result<()> {
        let attempt = inv.attempt_count + 1;
        let charged = if inv.amount_due == 0 {
            Charged::Paid(None)
        } else {
            match &sub.default_payment_method {
                None => Charged::Failed(None),
                Some(pm) => self.charge_once(&sub, &inv, pm, attempt).await?,
            }
        };
        let mut fresh = self
            .store
            .subscription(&sub.scope(), &sub.id)
            .await?
            .ok_or_else(|| ServiceError::not_found("subscription", &sub.id))?;
        let before = fresh.clone();
        inv.attempt_count = attempt;
        inv.updated = now;
        let (events, inv_event) = match charged {
            Charged::Pending => {
                // Neither paid nor failed: no event, and the invoice keeps its attempt count so
                // the check asks again under the same charge (which replays its answer).
                fresh.charge_pending(now + PENDING_RECHECK_MS, now);
                return self.write_step(&before, &mut fresh, &[], None, now).await;
            }
            Charged::Paid(pi) => {
                inv.payment_intent = pi.or(inv.payment_intent);
                inv.paid(now);
                (fresh.invoice_paid(now), EventType::InvoicePaid)
            }
            Charged::Failed(pi) => {
                inv.payment_intent = pi.or(inv.payment_intent);
                let events = fresh.invoice_failed(attempt as usize, now);
                (events, EventType::InvoicePaymentFailed)
            }
        };
        self.write_step(&before, &mut fresh, &events, Some((&inv, inv_event)), now)
            .await
    }

    /// Charges the saved card for the invoice under a key unique to this attempt, so a retry of
    /// the same step replays the first answer.
    async fn charge_once(
        &self,
        sub: &Subscription,
        inv: &Invoice,
        pm: &str,
        attempt: i64,
    ) -> Result<Charged> {
        let key = format!("billing:{}:{attempt}", inv.id);
        let idem = Idem {
            scope: sub.scope(),
            key: key.clone(),
        };
        let begun = self
            .store
            .idempotency_begin(
                &sub.scope(),
                &key,
                &key,
                now_ms(),
                LEASE_MS,
                CHARGE_KEY_RETENTION_MS,
            )
            .await?;
        match begun {
            IdemBegin::Proceed => {}
            IdemBegin::Replay { body, .. } => return self.replayed(&sub.scope(), &body).await,
            IdemBegin::InProgress | IdemBegin::Mismatch => {
                return Err(ServiceError::Conflict);
            }
        }
        let mut metadata = Metadata::new();
        metadata.insert("invoice".into(), inv.id.clone());
        metadata.insert("subscription".into(), sub.id.clone());
        let params = CreateIntentParams {
            amount: inv.amount_due,
            currency: Some(inv.currency),
            description: Some(inv.description()),
            metadata,
            customer: Some(sub.customer.clone()),
            ..Default::default()
        };
        let result = match self.create_invoice_intent(sub, inv, pm, params).await {
            Ok(pi) => {
                self.payments()
                    .confirm_with_saved_method(&sub.scope(), &pi.id, pm, Some(&idem))
                    .await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(pi) if pi.status == IntentStatus::Processing => Ok(Charged::Pending),
            Ok(pi) => Ok(Charged::Paid(Some(pi.id))),
            Err(ServiceError::Declined { intent, .. }) => {
                Ok(Charged::Failed(intent["id"].as_str().map(str::to_string)))
            }
            // The card can no longer pay (detached): a failed attempt, retried on schedule.
            Err(ServiceError::Invalid { .. }) => {
                self.store.idempotency_release(&sub.scope(), &key).await?;
                Ok(Charged::Failed(None))
            }
            Err(e) => {
                self.store.idempotency_release(&sub.scope(), &key).await?;
                Err(e)
            }
        }
    }
}

impl Billing<'_> {
    /// The payment intent of an invoice's charge with saved method `pm`, written with every
    /// face's own objects for it ([`crate::Projection::invoice_charge`]).
    async fn create_invoice_intent(
        &self,
        sub: &Subscription,
        inv: &Invoice,
        pm: &str,
        params: CreateIntentParams,
    ) -> Result<kassa_core::intent::PaymentIntent> {
        self.payments()
            .check_saved_method_use(&sub.scope(), pm, Some(&sub.customer))
            .await?;
        let now = now_ms();
        let mut pi = self.payments().build_intent(&sub.scope(), params, now)?;
        let mut tx = self.store.begin().await?;
        for p in self.projections.iter() {
            p.invoice_charge(self, &mut tx, sub, inv, &mut pi, now)
                .await?;
        }
        tx.insert_intent(&pi).await?;
        for p in self.projections.iter() {
            p.invoice_charge_written(self, &mut tx, sub, &pi, now)
                .await?;
        }
        self.payments()
            .emit(&mut tx, &pi, &[EventType::PaymentIntentCreated], now)
            .await?;
        tx.commit().await?;
        Ok(pi)
    }
}

/// The payment an earlier run's stored answer names: the intent of a success, or the one a
/// decline carries.
fn replayed_intent_id(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    v["error"]["payment_intent"]["id"]
        .as_str()
        .or(v["id"].as_str())
        .map(str::to_string)
}

impl Billing<'_> {
    /// The outcome of an earlier run of the same charge: the payment its stored answer names,
    /// as the core has it now (paid only if that payment succeeded).
    async fn replayed(&self, scope: &Scope, body: &str) -> Result<Charged> {
        let Some(id) = replayed_intent_id(body) else {
            return Ok(Charged::Failed(None));
        };
        Ok(match self.store.intent(scope, &id).await? {
            Some(pi) if pi.status == IntentStatus::Succeeded => Charged::Paid(Some(pi.id)),
            Some(pi) if pi.status == IntentStatus::Processing => Charged::Pending,
            Some(pi) => Charged::Failed(Some(pi.id)),
            None => Charged::Failed(None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::replayed_intent_id;

    #[test]
    fn a_replayed_answer_names_its_payment() {
        let paid = r#"{"id": "pi_1", "object": "payment_intent", "status": "succeeded"}"#;
        assert_eq!(replayed_intent_id(paid).as_deref(), Some("pi_1"));
        let declined = r#"{"error": {"type": "card_error", "payment_intent": {"id": "pi_2"}}}"#;
        assert_eq!(replayed_intent_id(declined).as_deref(), Some("pi_2"));
        assert_eq!(
            replayed_intent_id(r#"{"error": {"type": "api_error"}}"#),
            None
        );
        assert_eq!(replayed_intent_id("not json"), None);
    }
}
