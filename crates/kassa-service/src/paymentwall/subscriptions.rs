//! Paymentwall subscriptions on the one subscription engine. A subscription bought through a
//! signed link starts with its first payment; from then on it is a core subscription
//! (`kassa_core::subscription`) that the engine renews (a merchant-initiated charge of the
//! stored credential, which this face sees as a new order: new `ref`, type 0), retries after a
//! failed renewal on the project's `renewal_retry_seconds` (two retries) and then stops (type
//! 14), and ends at the end of the paid term (type 13). A cancellation stops the renewals at
//! once (type 12) and leaves the paid period to run out.
//!
//! This face keeps what only Paymentwall has (the user, the plan as the link described it with
//! its trial, the phase, the payments count and the status its pingbacks announced), writes the
//! renewal's order for each charge and queues the subscription pingbacks from the core's changes.

use crate::Paymentwall;
use kassa_core::customer::Customer;
use kassa_core::events::EventType;
use kassa_core::ids::{new_id, prefix};
use kassa_core::intent::{Metadata, PaymentIntent};
use kassa_core::invoice::Invoice;
use kassa_core::payment_method::{PaymentMethod, SetupFutureUsage};
use kassa_core::scope::Scope;
use kassa_core::subscription::{
    FinalAction, Interval, Item as CoreItem, Recurring, RetryPolicy, Subscription,
    SubscriptionStatus,
};
use kassa_paymentwall::{
    TYPE_SUBSCRIPTION_CANCELLED, TYPE_SUBSCRIPTION_EXPIRED, TYPE_SUBSCRIPTION_PAYMENT_FAILED,
};
use kassa_store::{now_ms, PwOrder, PwSubscription, Tx};
use serde_json::{json, Value};

use super::pingbacks::PingbackFacts;
use super::product::{Item, Period, PeriodUnit, Plan, Product};
use super::projects::Project;
use crate::projection::SubscriptionChange;
use crate::{Result, ServiceError, SubscriptionUpdate};

pub const SUBSCRIPTION_PREFIX: &str = "pws";
/// Attempts to charge one renewal: the first and two retries.
pub const RENEWAL_ATTEMPTS: i64 = 3;

/// The product an order of this plan paid for: the trial for the first order of a trial plan,
/// otherwise the main product.
pub fn phase_of(plan: &Plan, initial: bool) -> (&Item, Period) {
    match (&plan.trial, initial) {
        (Some((item, period)), true) => (item, *period),
        _ => (&plan.main, plan.period),
    }
}

fn interval_of(p: Period) -> Recurring {
    Recurring {
        interval: match p.unit {
            PeriodUnit::Day => Interval::Day,
            PeriodUnit::Week => Interval::Week,
            PeriodUnit::Month => Interval::Month,
            PeriodUnit::Year => Interval::Year,
        },
        interval_count: i64::from(p.length),
    }
}

/// The merchant's view of a subscription: the face's fields and, from the core, its period and
/// when the engine acts on it next.
pub fn subscription_json(s: &PwSubscription, core: Option<&Subscription>) -> Value {
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
        "current_period_end": secs(core.map(|c| c.current_period_end)),
        "next_attempt_at": secs(core.and_then(|c| c.next_action_at)),
        "failed_attempts": s.failed_attempts,
        "test_clock_offset_seconds": s.clock_offset_ms / 1000,
        "is_test": s.is_test,
        "created": s.created_at / 1000,
    })
}

impl Paymentwall<'_> {
    /// [`subscription_json`] with the core subscription read.
    pub async fn subscription_view(&self, s: &PwSubscription) -> Result<Value> {
        let core = match &s.subscription_id {
            Some(id) => self.store.subscription(&s.scope(), id).await?,
            None => None,
        };
        Ok(subscription_json(s, core.as_ref()))
    }

    /// Queues the subscription pingback `code` (12, 13, 14) with the latest payment's `ref` for
    /// the core event `event_id`, inside `tx`.
    async fn sub_pingback(
        &self,
        tx: &mut Tx,
        project: &Project,
        s: &PwSubscription,
        code: u16,
        event_id: &str,
        now: i64,
    ) -> Result<()> {
        let Some(order) = tx.pw_last_paid_order_of_subscription(&s.id).await? else {
            return Ok(());
        };
        let r = order.r#ref.clone().unwrap_or_default();
        let facts = PingbackFacts {
            initial_ref: self.initial_ref(tx, Some(s)).await?,
            now_ms: now,
            ..Default::default()
        };
        self.queue_pingback(tx, project, &order, Some(s), code, &r, &facts, event_id)
            .await
    }

    /// After an order's payment succeeded: starts the subscription it bought (first payment).
    /// A renewal's outcome is the engine's to record. Returns the order's subscription, if any.
    pub(crate) async fn subscription_after_payment(
        &self,
        tx: &mut Tx,
        project: &Project,
        order: &PwOrder,
        pi: &PaymentIntent,
        now: i64,
    ) -> Result<Option<PwSubscription>> {
        if let Some(sub_id) = &order.subscription_id {
            return Ok(tx.pw_subscription(sub_id).await?);
        }
        let plan = match serde_json::from_str::<Product>(&order.product) {
            Ok(Product::Subscription { plan }) => plan,
            _ => return Ok(None),
        };
        let (_, first) = phase_of(&plan, true);
        let customer = self.core_customer(tx, project, order, now).await?;
        let method = self.core_method(tx, &customer, pi, now).await?;
        let currency = kassa_core::money::Currency::parse(&plan.main.currency)
            .map_err(|e| ServiceError::invalid("currency", e.to_string()))?;
        let retry = project.settings.renewal_retry_seconds as i64;
        let end = first.add_to(now);
        let mut sub = Subscription {
            id: new_id(prefix::SUBSCRIPTION),
            merchant_id: project.row.merchant_id.clone(),
            livemode: order.livemode,
            customer,
            test_clock: None,
            status: SubscriptionStatus::Incomplete,
            default_payment_method: method,
            items: vec![CoreItem {
                id: new_id(prefix::SUBSCRIPTION_ITEM),
                product_name: plan.main.name.clone(),
                currency,
                unit_amount: plan.main.amount,
                recurring: interval_of(plan.period),
                quantity: 1,
            }],
            currency,
            billing_cycle_anchor: now,
            cycle: -1,
            current_period_start: now,
            current_period_end: now,
            trial_start: None,
            trial_end: None,
            trial_will_end_sent: false,
            cancel_at_period_end: false,
            // A plan that does not recur ends with its first period.
            cancel_at: (!plan.recurring).then_some(end),
            canceled_at: None,
            ended_at: None,
            latest_invoice: None,
            retry_at: None,
            retry_policy: RetryPolicy {
                retry_days: Vec::new(),
                final_action: FinalAction::Cancel,
                retry_seconds: Some(vec![retry; (RENEWAL_ATTEMPTS - 1) as usize]),
            },
            metadata: Metadata::new(),
            next_action_at: None,
            created: now,
            updated: now,
            version: 0,
        };
        sub.start_paid(now, end);
        // The first period's invoice, paid by this payment (the trial's, on a trial plan).
        let mut inv =
            Invoice::for_period(new_id(prefix::INVOICE), &sub, "subscription_create", now);
        if let Some(line) = inv.lines.first_mut() {
            let (item, _) = phase_of(&plan, true);
            line.amount = pi.amount;
            line.unit_amount = pi.amount;
            line.description = item.name.clone();
        }
        inv.amount_due = pi.amount;
        inv.attempt_count = 1;
        inv.payment_intent = Some(pi.id.clone());
        inv.paid(now);
        sub.latest_invoice = Some(inv.id.clone());
        tx.insert_subscription(&sub).await?;
        tx.insert_invoice(&inv).await?;
        self.billing()
            .subscription_event(tx, &sub, EventType::CustomerSubscriptionCreated)
            .await?;
        self.billing()
            .invoice_event(tx, &inv, EventType::InvoiceCreated)
            .await?;
        self.billing()
            .invoice_event(tx, &inv, EventType::InvoicePaid)
            .await?;

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
            failed_attempts: 0,
            clock_offset_ms: 0,
            is_test: order.is_test,
            created_at: now,
            updated_at: now,
            version: 0,
            subscription_id: Some(sub.id.clone()),
            livemode: order.livemode,
        };
        tx.insert_pw_subscription(&s).await?;
        tx.set_pw_order_subscription(&order.id, &s.id).await?;
        Ok(Some(s))
    }

    /// The core customer a Paymentwall user's subscription bills: one per subscription (a
    /// user id means nothing outside its project).
    async fn core_customer(
        &self,
        tx: &mut Tx,
        project: &Project,
        order: &PwOrder,
        now: i64,
    ) -> Result<String> {
        let uid: String = order.uid.chars().take(200).collect();
        let c = Customer {
            id: new_id(prefix::CUSTOMER),
            merchant_id: project.row.merchant_id.clone(),
            livemode: order.livemode,
            email: None,
            name: None,
            phone: None,
            description: Some(format!("Paymentwall user {uid} ({})", project.row.id)),
            metadata: Metadata::new(),
            test_clock: None,
            created: now,
            updated: now,
        };
        tx.insert_customer(&c).await?;
        let ev =
            self.payments()
                .new_event(&c.scope(), EventType::CustomerCreated, c.to_json(), now);
        tx.insert_event(&ev, &c.id).await?;
        Ok(c.id)
    }

    /// The first payment's stored credential as a core payment method of `customer` (none when
    /// the processor gave no reference to charge again).
    async fn core_method(
        &self,
        tx: &mut Tx,
        customer: &str,
        pi: &PaymentIntent,
        now: i64,
    ) -> Result<Option<String>> {
        let (Some(details), Some(processor_ref)) = (&pi.payment_method, &pi.processor_ref) else {
            return Ok(None);
        };
        let pm = PaymentMethod {
            id: new_id(prefix::PAYMENT_METHOD),
            merchant_id: pi.merchant_id.clone(),
            livemode: pi.livemode,
            customer: Some(customer.to_string()),
            kind: "card".into(),
            details: details.clone(),
            processor_ref: processor_ref.clone(),
            source_payment: Some(pi.id.clone()),
            usage: SetupFutureUsage::OffSession,
            created: now,
            detached_at: None,
        };
        tx.insert_payment_method(&pm).await?;
        let ev = self.payments().new_event(
            &pm.scope(),
            EventType::PaymentMethodAttached,
            pm.to_json(),
            now,
        );
        tx.insert_event(&ev, &pm.id).await?;
        Ok(Some(pm.id))
    }

    /// The engine is about to charge a renewal of a Paymentwall subscription: the payment
    /// says so, and the project's risk review delay applies to it.
    pub(crate) async fn invoice_charge(
        &self,
        tx: &mut Tx,
        sub: &Subscription,
        pi: &mut PaymentIntent,
    ) -> Result<()> {
        let Some(s) = tx.pw_subscription_of_core(&sub.id).await? else {
            return Ok(());
        };
        let project = self.project_by_id(&s.project_id, s.scope().mode()).await?;
        let plan: Plan = serde_json::from_str(&s.plan).map_err(|_| {
            ServiceError::Store(kassa_store::StoreError::Corrupt(format!(
                "subscription {} plan",
                s.id
            )))
        })?;
        pi.description = Some(format!("{} (renewal)", plan.main.name));
        pi.review_delay_ms = project.settings.risk_review_delay_seconds as i64 * 1000;
        pi.metadata
            .insert("paymentwall_subscription".into(), s.id.clone());
        // The renewal's order (written once the payment is: `pw_renewal_order`).
        pi.order_key = Some(super::order_key(&new_id(super::ORDER_PREFIX)));
        Ok(())
    }

    /// The renewal's order (a copy of the first one's link, product and user) for the payment
    /// the engine wrote, so its outcome becomes a pingback with a new `ref`.
    pub(crate) async fn renewal_order(
        &self,
        tx: &mut Tx,
        sub: &Subscription,
        pi: &PaymentIntent,
        now: i64,
    ) -> Result<()> {
        let Some(s) = tx.pw_subscription_of_core(&sub.id).await? else {
            return Ok(());
        };
        let initial = tx
            .pw_order(&s.initial_order_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("order", &s.initial_order_id))?;
        let Some(order_id) = pi
            .order_key
            .as_deref()
            .and_then(|k| k.strip_prefix("paymentwall:"))
        else {
            return Ok(());
        };
        let order = PwOrder {
            id: order_id.to_string(),
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
            livemode: s.livemode,
        };
        tx.insert_pw_order(&order).await?;
        Ok(())
    }

    /// A core change of a Paymentwall subscription: the face's counters and status, and the
    /// pingback the change means (12 cancelled, 13 expired, 14 renewals failed).
    pub(crate) async fn subscription_changed(
        &self,
        tx: &mut Tx,
        c: &SubscriptionChange<'_>,
    ) -> Result<()> {
        let Some(mut s) = tx.pw_subscription_of_core(&c.after.id).await? else {
            return Ok(());
        };
        let before = s.clone();
        let ended = c.after.status.is_final() && !c.before.status.is_final();
        let mut pingback = None;
        match c.invoice {
            Some((_, EventType::InvoicePaid)) => {
                s.payments += 1;
                s.phase = "main".into();
                s.failed_attempts = 0;
            }
            Some((_, EventType::InvoicePaymentFailed)) => {
                s.failed_attempts += 1;
                if ended {
                    s.status = "failed".into();
                    pingback = Some(TYPE_SUBSCRIPTION_PAYMENT_FAILED);
                }
            }
            _ if ended && c.after.ended_at == Some(c.before.end_time()) => {
                // The paid term ran out (after a cancellation, or a plan that does not recur).
                s.status = "expired".into();
                pingback = Some(TYPE_SUBSCRIPTION_EXPIRED);
            }
            _ if ended || (c.after.cancel_at_period_end && !c.before.cancel_at_period_end) => {
                s.status = "cancelled".into();
                pingback = Some(TYPE_SUBSCRIPTION_CANCELLED);
            }
            _ => {}
        }
        if s == before {
            return Ok(());
        }
        s.updated_at = now_ms();
        tx.update_pw_subscription(&mut s).await?;
        let (Some(code), Some((_, event_id))) = (pingback, c.events.last()) else {
            return Ok(());
        };
        let project = self.project_by_id(&s.project_id, s.scope().mode()).await?;
        self.sub_pingback(tx, &project, &s, code, event_id, now_ms())
            .await
    }

    /// A subscription of this merchant.
    pub async fn subscription(&self, scope: &Scope, id: &str) -> Result<PwSubscription> {
        match self.store.pw_subscription(id).await? {
            Some(s) if s.scope() == *scope => Ok(s),
            _ => Err(ServiceError::not_found("subscription", id)),
        }
    }

    pub async fn subscriptions_of_project(
        &self,
        scope: &Scope,
        project_id: &str,
    ) -> Result<Vec<PwSubscription>> {
        let p = self.project_in(scope, project_id).await?;
        Ok(self
            .store
            .pw_subscriptions_of_project(&p.row.id, scope.livemode)
            .await?)
    }

    /// The core subscription of a running Paymentwall subscription.
    fn core_id(s: &PwSubscription) -> Result<&str> {
        match (&s.subscription_id, s.status.as_str()) {
            (Some(id), "active") => Ok(id),
            (_, status) => Err(ServiceError::State(format!(
                "This subscription is {status}; only an active one can be cancelled."
            ))),
        }
    }

    /// Cancels a subscription: no more renewals, type 12 at once; the paid period stays paid
    /// and ends with type 13.
    pub async fn cancel_subscription(&self, scope: &Scope, id: &str) -> Result<PwSubscription> {
        let s = self.subscription(scope, id).await?;
        let core = Self::core_id(&s)?;
        self.billing()
            .update_subscription(
                scope,
                core,
                SubscriptionUpdate {
                    cancel_at_period_end: Some(true),
                    ..Default::default()
                },
            )
            .await?;
        self.subscription(scope, id).await
    }

    /// Test clock: moves a test subscription's clock forward, running every renewal, retry and
    /// end it passes before it answers. The first advance gives the subscription a native test
    /// clock of its own, frozen at the present.
    pub async fn advance_clock(
        &self,
        scope: &Scope,
        id: &str,
        seconds: i64,
    ) -> Result<PwSubscription> {
        if !(1..=5 * 365 * 86_400).contains(&seconds) {
            return Err(ServiceError::invalid(
                "seconds",
                "seconds must be from 1 to 5 years.",
            ));
        }
        let s = self.subscription(scope, id).await?;
        if !s.is_test || s.livemode {
            return Err(ServiceError::State(
                "Only a test subscription (paid with the Test method or in test mode) has a test clock."
                    .into(),
            ));
        }
        let Some(core_id) = s.subscription_id.clone() else {
            return Err(ServiceError::State(format!(
                "This subscription is {}; it no longer runs.",
                s.status
            )));
        };
        let clock = self
            .billing()
            .clock_of_subscription(scope, &core_id, &format!("Paymentwall subscription {id}"))
            .await?;
        let clock = self.billing().test_clock(scope, &clock).await?;
        self.billing()
            .advance_test_clock(scope, &clock.id, clock.frozen_time / 1000 + seconds)
            .await?;
        let mut tx = self.store.begin().await?;
        let Some(mut s) = tx.pw_subscription(id).await? else {
            return Err(ServiceError::not_found("subscription", id));
        };
        s.clock_offset_ms += seconds * 1000;
        s.updated_at = now_ms();
        tx.update_pw_subscription(&mut s).await?;
        tx.commit().await?;
        Ok(s)
    }
}
