//! Subscriptions bought through signed links: created by their first payment, renewed by the
//! scheduler (a merchant-initiated charge of the stored credential, new `ref`, type 0), retried
//! twice after a failed renewal and then stopped (type 14), cancelled at once (type 12), expired
//! at the end of the paid term (type 13).
//!
//! Invariant: a subscription has at most one renewal in flight. Starting a renewal clears
//! `next_attempt_at` in the same transaction that writes the renewal's intent, and only the
//! renewal's outcome (written in the transaction that records the processor's answer, including
//! crash recovery's) sets it again; so no crash or second scheduler can charge a period twice.

use kassa_core::events::{Event, EventType};
use kassa_core::ids::new_id;
use kassa_core::intent::AttemptStatus;
use kassa_core::intent::PaymentIntent;
use kassa_paymentwall::{
    TYPE_SUBSCRIPTION_CANCELLED, TYPE_SUBSCRIPTION_EXPIRED, TYPE_SUBSCRIPTION_PAYMENT_FAILED,
};
use kassa_store::{now_ms, PaymentAttempt, PwOrder, PwSubscription, Tx};
use serde_json::{json, Value};

use super::pingbacks::PingbackFacts;
use super::product::{Item, Period, Plan, Product};
use super::projects::Project;
use crate::{CreateIntentParams, Result, ServiceError, Services};

pub const SUBSCRIPTION_PREFIX: &str = "pws";
/// Attempts to charge one renewal: the first and two retries.
pub const RENEWAL_ATTEMPTS: i64 = 3;
/// How long the scheduler holds a subscription while it starts a renewal.
const LEASE_MS: i64 = 60_000;

/// The product an order of this plan paid for: the trial for the first order of a trial plan,
/// otherwise the main product.
pub fn phase_of(plan: &Plan, initial: bool) -> (&Item, Period) {
    match (&plan.trial, initial) {
        (Some((item, period)), true) => (item, *period),
        _ => (&plan.main, plan.period),
    }
}

fn plan_of(order: &PwOrder) -> Result<Plan> {
    match serde_json::from_str::<Product>(&order.product) {
        Ok(Product::Subscription { plan }) => Ok(plan),
        _ => Err(ServiceError::Store(kassa_store::StoreError::Corrupt(
            format!("order {} is not a subscription", order.id),
        ))),
    }
}

pub fn subscription_json(s: &PwSubscription) -> Value {
    let plan: Value = serde_json::from_str(&s.plan).unwrap_or(Value::Null);
    let secs = |ms: Option<i64>| ms.map(|v| v / 1000);
    json!({
        "id": s.id,
        "object": "paymentwall.subscription",
        "project": s.project_id,
        "uid": s.uid,
        "status": s.status,
        "phase": s.phase,
        "plan": plan,
        "payments": s.payments,
        "current_period_end": secs(s.period_end),
        "next_attempt_at": secs(s.next_attempt_at),
        "failed_attempts": s.failed_attempts,
        "test_clock_offset_seconds": s.clock_offset_ms / 1000,
        "is_test": s.is_test,
        "created": s.created_at / 1000,
    })
}

impl Services {
    fn sub_event(&self, s: &PwSubscription, ty: EventType, now: i64) -> Event {
        Event {
            id: new_id(kassa_core::ids::prefix::EVENT),
            merchant_id: s.merchant_id.clone(),
            event_type: ty,
            object: subscription_json(s),
            created: now,
        }
    }

    /// Writes a subscription event and, for 12/13/14, its pingback (with the latest payment's
    /// `ref`), inside `tx`.
    async fn sub_notify(
        &self,
        tx: &mut Tx,
        project: &Project,
        s: &PwSubscription,
        ty: EventType,
        pingback_type: Option<u16>,
        now: i64,
    ) -> Result<()> {
        let ev = self.sub_event(s, ty, now);
        tx.insert_event(&ev, &s.id).await?;
        if let Some(code) = pingback_type {
            if let Some(order) = tx.pw_last_paid_order_of_subscription(&s.id).await? {
                let r = order.r#ref.clone().unwrap_or_default();
                let facts = PingbackFacts {
                    initial_ref: self.pw_initial_ref(tx, Some(s)).await?,
                    now_ms: now,
                    ..Default::default()
                };
                self.queue_pingback(tx, project, &order, Some(s), code, &r, &facts, &ev.id)
                    .await?;
            }
        }
        Ok(())
    }

    /// After an order's payment succeeded: starts the subscription it bought (first payment)
    /// or moves a renewed one to its next period. Returns the subscription, if any.
    pub(crate) async fn pw_subscription_after_payment(
        &self,
        tx: &mut Tx,
        project: &Project,
        order: &PwOrder,
        pi: &PaymentIntent,
        now: i64,
    ) -> Result<Option<PwSubscription>> {
        if let Some(sub_id) = &order.subscription_id {
            let Some(mut s) = tx.pw_subscription(sub_id).await? else {
                return Ok(None);
            };
            if s.initial_order_id == order.id {
                return Ok(Some(s));
            }
            // A renewal was paid: the next period starts where the paid one ended.
            let plan = plan_of(order)?;
            let start = s.period_end.unwrap_or(now + s.clock_offset_ms);
            s.phase = "main".into();
            s.payments += 1;
            s.failed_attempts = 0;
            s.period_end = Some(plan.period.add_to(start));
            // Renewed (or, if cancelled while the renewal was in flight, expires) at the new end.
            s.next_attempt_at = s.period_end;
            if pi.processor_ref.is_some() {
                s.credential = pi.processor_ref.clone();
            }
            s.updated_at = now;
            tx.update_pw_subscription(&mut s).await?;
            self.sub_notify(tx, project, &s, EventType::SubscriptionRenewed, None, now)
                .await?;
            return Ok(Some(s));
        }
        let plan = match serde_json::from_str::<Product>(&order.product) {
            Ok(Product::Subscription { plan }) => plan,
            _ => return Ok(None),
        };
        let (_, period) = phase_of(&plan, true);
        let end = period.add_to(now);
        let s = PwSubscription {
            id: new_id(SUBSCRIPTION_PREFIX),
            project_id: project.row.id.clone(),
            merchant_id: project.row.merchant_id.clone(),
            initial_order_id: order.id.clone(),
            uid: order.uid.clone(),
            status: "active".into(),
            plan: serde_json::to_string(&plan).unwrap_or_default(),
            phase: if plan.trial.is_some() {
                "trial"
            } else {
                "main"
            }
            .into(),
            payments: 1,
            period_end: Some(end),
            // Recurring: the renewal is due at the end; otherwise the end is the expiry.
            next_attempt_at: Some(end),
            failed_attempts: 0,
            clock_offset_ms: 0,
            credential: pi.processor_ref.clone(),
            is_test: order.is_test,
            lease_until: None,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        tx.insert_pw_subscription(&s).await?;
        tx.set_pw_order_subscription(&order.id, &s.id).await?;
        self.sub_notify(tx, project, &s, EventType::SubscriptionCreated, None, now)
            .await?;
        Ok(Some(s))
    }

    /// After a renewal's charge failed: retry later, or after the last attempt stop the
    /// subscription (type 14).
    pub(crate) async fn pw_renewal_failed(
        &self,
        tx: &mut Tx,
        project: &Project,
        order: &PwOrder,
        now: i64,
    ) -> Result<()> {
        let Some(sub_id) = &order.subscription_id else {
            return Ok(());
        };
        let Some(mut s) = tx.pw_subscription(sub_id).await? else {
            return Ok(());
        };
        if s.initial_order_id == order.id {
            return Ok(());
        }
        s.failed_attempts += 1;
        s.updated_at = now;
        if s.failed_attempts >= RENEWAL_ATTEMPTS || s.status != "active" {
            s.status = "failed".into();
            s.next_attempt_at = None;
            tx.update_pw_subscription(&mut s).await?;
            self.sub_notify(
                tx,
                project,
                &s,
                EventType::SubscriptionPaymentFailed,
                Some(TYPE_SUBSCRIPTION_PAYMENT_FAILED),
                now,
            )
            .await
        } else {
            s.next_attempt_at = Some(
                now + s.clock_offset_ms + project.settings.renewal_retry_seconds as i64 * 1000,
            );
            Ok(tx.update_pw_subscription(&mut s).await?)
        }
    }

    /// A subscription of this merchant.
    pub async fn pw_subscription(&self, merchant_id: &str, id: &str) -> Result<PwSubscription> {
        match self.store.pw_subscription(id).await? {
            Some(s) if s.merchant_id == merchant_id => Ok(s),
            _ => Err(ServiceError::not_found("subscription", id)),
        }
    }

    pub async fn pw_subscriptions_of_project(
        &self,
        merchant_id: &str,
        project_id: &str,
    ) -> Result<Vec<PwSubscription>> {
        let p = self.pw_project(merchant_id, project_id).await?;
        Ok(self.store.pw_subscriptions_of_project(&p.row.id).await?)
    }

    /// Cancels a subscription: no more renewals, type 12 at once; the paid period stays paid
    /// and ends with type 13.
    pub async fn pw_cancel_subscription(
        &self,
        merchant_id: &str,
        id: &str,
    ) -> Result<PwSubscription> {
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let mut s = match tx.pw_subscription(id).await? {
            Some(s) if s.merchant_id == merchant_id => s,
            _ => return Err(ServiceError::not_found("subscription", id)),
        };
        if s.status != "active" {
            return Err(ServiceError::State(format!(
                "This subscription is {}; only an active one can be cancelled.",
                s.status
            )));
        }
        let project = self.pw_project_by_id(&s.project_id).await?;
        s.status = "cancelled".into();
        if s.next_attempt_at.is_some() {
            s.next_attempt_at = s.period_end;
        }
        s.updated_at = now;
        tx.update_pw_subscription(&mut s).await?;
        self.sub_notify(
            &mut tx,
            &project,
            &s,
            EventType::SubscriptionCanceled,
            Some(TYPE_SUBSCRIPTION_CANCELLED),
            now,
        )
        .await?;
        tx.commit().await?;
        self.notifier.wake();
        Ok(s)
    }

    /// Test clock: moves a test subscription's clock forward so its renewals and expiry come
    /// due now instead of in days.
    pub async fn pw_advance_clock(
        &self,
        merchant_id: &str,
        id: &str,
        seconds: i64,
    ) -> Result<PwSubscription> {
        if !(1..=5 * 365 * 86_400).contains(&seconds) {
            return Err(ServiceError::invalid(
                "seconds",
                "seconds must be from 1 to 5 years.",
            ));
        }
        let mut tx = self.store.begin().await?;
        let mut s = match tx.pw_subscription(id).await? {
            Some(s) if s.merchant_id == merchant_id => s,
            _ => return Err(ServiceError::not_found("subscription", id)),
        };
        if !s.is_test {
            return Err(ServiceError::State(
                "Only a test subscription (paid with the Test method or in test mode) has a test clock."
                    .into(),
            ));
        }
        s.clock_offset_ms += seconds * 1000;
        s.updated_at = now_ms();
        tx.update_pw_subscription(&mut s).await?;
        tx.commit().await?;
        Ok(s)
    }

    /// One scheduler pass: acts on due subscriptions (risk reviews are the core's:
    /// [`Services::decide_reviews`]). Safe to run from several processes.
    pub async fn pw_run_due(&self) -> Result<usize> {
        let mut done = 0;
        for s in self.store.pw_due_subscriptions(now_ms(), 50).await? {
            match self.pw_act_on_subscription(s).await {
                Ok(true) => done += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "subscription step failed; will retry"),
            }
        }
        Ok(done)
    }

    /// Expires or renews one due subscription. False when another process had it.
    async fn pw_act_on_subscription(&self, s: PwSubscription) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        if !tx.lease_pw_subscription(&s.id, now, now + LEASE_MS).await? {
            return Ok(false);
        }
        tx.commit().await?;
        let project = self.pw_project_by_id(&s.project_id).await?;
        let plan: Plan = serde_json::from_str(&s.plan).map_err(|_| {
            ServiceError::Store(kassa_store::StoreError::Corrupt(format!(
                "subscription {} plan",
                s.id
            )))
        })?;
        let mut tx = self.store.begin().await?;
        let Some(mut s) = tx.pw_subscription(&s.id).await? else {
            return Ok(false);
        };
        let sub_now = now + s.clock_offset_ms;
        if s.next_attempt_at.is_none_or(|t| t > sub_now) {
            return Ok(false);
        }
        let renews = s.status == "active" && plan.recurring;
        if !renews {
            s.status = "expired".into();
            s.next_attempt_at = None;
            s.updated_at = now;
            tx.update_pw_subscription(&mut s).await?;
            self.sub_notify(
                &mut tx,
                &project,
                &s,
                EventType::SubscriptionExpired,
                Some(TYPE_SUBSCRIPTION_EXPIRED),
                now,
            )
            .await?;
            tx.commit().await?;
            self.notifier.wake();
            return Ok(true);
        }

        // Renew: write the renewal's intent, attempt and order, and mark the renewal in flight.
        let initial = tx
            .pw_order(&s.initial_order_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("order", &s.initial_order_id))?;
        let currency = kassa_core::money::Currency::parse(&plan.main.currency)
            .map_err(|e| ServiceError::invalid("currency", e.to_string()))?;
        let mut metadata = kassa_core::intent::Metadata::new();
        metadata.insert("paymentwall_subscription".into(), s.id.clone());
        let mut pi = self.build_intent(
            &s.merchant_id,
            CreateIntentParams {
                amount: plan.main.amount,
                currency: Some(currency),
                description: Some(format!("{} (renewal)", plan.main.name)),
                metadata,
                review_delay_ms: Some(project.settings.risk_review_delay_seconds as i64 * 1000),
                ..Default::default()
            },
            now,
        )?;
        tx.insert_intent(&pi).await?;
        self.emit(&mut tx, &pi, &[EventType::PaymentIntentCreated], now)
            .await?;
        pi.begin_confirm(now)?;
        tx.update_intent(&mut pi).await?;
        let mut attempt = PaymentAttempt {
            id: new_id(kassa_core::ids::prefix::PAYMENT_ATTEMPT),
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
        let order = PwOrder {
            id: new_id(super::ORDER_PREFIX),
            project_id: s.project_id.clone(),
            merchant_id: s.merchant_id.clone(),
            payment_intent_id: pi.id.clone(),
            uid: s.uid.clone(),
            widget: initial.widget.clone(),
            params: initial.params.clone(),
            product: initial.product.clone(),
            r#ref: None,
            is_test: s.is_test,
            created_at: now,
            link_hash: None,
            country: initial.country.clone(),
            method: initial.method.clone(),
            subscription_id: Some(s.id.clone()),
        };
        tx.insert_pw_order(&order).await?;
        s.next_attempt_at = None;
        s.updated_at = now;
        tx.update_pw_subscription(&mut s).await?;
        tx.commit().await?;

        let result = match s.credential.as_deref() {
            Some(cred) => {
                self.processor
                    .charge_stored(
                        cred,
                        &attempt.id,
                        kassa_core::money::Money {
                            amount: pi.amount,
                            currency: pi.currency,
                        },
                    )
                    .await
            }
            None => Err(kassa_processor::ProcessorError::InvalidState),
        };
        let core = self.record_outcome(&mut attempt, result, false);
        attempt.payment_method = initial_method_details(&self.store, &initial).await;
        attempt.updated_at = now_ms();
        match self
            .apply_result(
                &s.merchant_id,
                &pi.id,
                &attempt,
                AttemptStatus::Processing,
                core,
                None,
                None,
            )
            .await
        {
            Ok(_) | Err(ServiceError::Declined { .. }) => Ok(true),
            Err(e) => Err(e),
        }
    }
}

/// The payment-method description of the subscription's first payment, for the renewal's
/// attempt record.
async fn initial_method_details(store: &kassa_store::Store, initial: &PwOrder) -> Option<String> {
    store
        .intent_by_id_any_merchant(&initial.payment_intent_id)
        .await
        .ok()
        .flatten()
        .and_then(|pi| pi.payment_method)
        .map(|v| v.to_string())
}
