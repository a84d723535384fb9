//! `/v1/subscriptions` and `/v1/invoices`: create a subscription (its first period is billed at
//! once unless it starts with a trial), change its card, cancel it now or at the period's end,
//! pause and resume it. The engine that bills, retries and ends subscriptions over time is in
//! `billing_run.rs`; test clocks in `test_clocks.rs`.

use crate::Billing;
use kassa_core::events::EventType;
use kassa_core::ids::{new_id, prefix};
use kassa_core::intent::Metadata;
use kassa_core::invoice::Invoice;
use kassa_core::money::Currency;
use kassa_core::scope::Scope;
use kassa_core::subscription::{
    self, Interval, Item, Recurring, RetryPolicy, Subscription, SubscriptionStatus,
};
use kassa_store::{now_ms, Tx};

use crate::payments::check_metadata;
use crate::{Result, ServiceError};

/// One item of a new subscription: an inline price and a quantity.
#[derive(Debug, Clone)]
pub struct ItemParams {
    pub currency: Currency,
    pub unit_amount: i64,
    pub interval: Interval,
    pub interval_count: Option<i64>,
    pub product_name: String,
    pub quantity: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct SubscriptionParams {
    pub customer: String,
    pub default_payment_method: Option<String>,
    pub items: Vec<ItemParams>,
    pub trial_period_days: Option<i64>,
    pub cancel_at_period_end: bool,
    pub metadata: Metadata,
    pub retry_policy: Option<RetryPolicy>,
}

/// What `POST /v1/subscriptions/{id}` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionUpdate {
    pub cancel_at_period_end: Option<bool>,
    pub default_payment_method: Option<String>,
    pub metadata: Option<Metadata>,
}

/// A change of what and when a subscription bills (a face's merchant API changing a plan).
#[derive(Debug, Clone, Default)]
pub struct BillingChange {
    /// The new price of a one-item subscription.
    pub unit_amount: Option<i64>,
    /// When to bill next; periods count from there.
    pub next_billing: Option<i64>,
    /// When the subscription ends by itself (`Some(None)` takes that back).
    pub cancel_at: Option<Option<i64>>,
}

impl Billing<'_> {
    /// The time a customer's subscriptions live at: their test clock's, else the wall clock's.
    pub(crate) async fn time_of(&self, scope: &Scope, clock: Option<&str>) -> Result<i64> {
        match clock {
            None => Ok(now_ms()),
            Some(c) => Ok(self.test_clock(scope, c).await?.frozen_time),
        }
    }

    /// Checks that `pm` is a saved method attached to `customer`.
    async fn check_default_method(&self, scope: &Scope, customer: &str, pm: &str) -> Result<()> {
        let attached = self
            .store
            .payment_method(scope, pm)
            .await?
            .is_some_and(|m| m.customer.as_deref() == Some(customer));
        if attached {
            Ok(())
        } else {
            Err(ServiceError::invalid(
                "default_payment_method",
                format!(
                    "No such PaymentMethod attached to customer {customer}: '{}'.",
                    pm.chars().take(100).collect::<String>()
                ),
            ))
        }
    }

    pub async fn create_subscription(
        &self,
        scope: &Scope,
        p: SubscriptionParams,
    ) -> Result<Subscription> {
        let customer = self
            .store
            .customer(scope, &p.customer)
            .await?
            .ok_or_else(|| {
                ServiceError::invalid(
                    "customer",
                    format!(
                        "No such customer: '{}'.",
                        p.customer.chars().take(100).collect::<String>()
                    ),
                )
            })?;
        if let Some(pm) = &p.default_payment_method {
            self.check_default_method(scope, &customer.id, pm).await?;
        }
        if p.trial_period_days
            .is_some_and(|d| !(0..=subscription::MAX_TRIAL_DAYS).contains(&d))
        {
            return Err(ServiceError::invalid(
                "trial_period_days",
                format!(
                    "trial_period_days must be 0 to {}.",
                    subscription::MAX_TRIAL_DAYS
                ),
            ));
        }
        check_metadata(&p.metadata)?;
        let retry_policy = p.retry_policy.unwrap_or_default();
        retry_policy
            .check()
            .map_err(|m| ServiceError::invalid("retry_policy", m))?;
        let items: Vec<Item> = p
            .items
            .into_iter()
            .map(|i| Item {
                id: new_id(prefix::SUBSCRIPTION_ITEM),
                product_name: i.product_name.trim().to_string(),
                currency: i.currency,
                unit_amount: i.unit_amount,
                recurring: Recurring {
                    interval: i.interval,
                    interval_count: i.interval_count.unwrap_or(1),
                },
                quantity: i.quantity.unwrap_or(1),
            })
            .collect();
        let (currency, _) = subscription::check_items(&items)
            .map_err(|(param, m)| ServiceError::invalid(param, m))?;
        let now = match &customer.test_clock {
            None => now_ms(),
            Some(clock) => {
                self.store
                    .test_clock(scope, clock)
                    .await?
                    .ok_or_else(|| {
                        ServiceError::invalid("customer", "The customer's test clock was deleted.")
                    })?
                    .frozen_time
            }
        };
        let mut sub = Subscription {
            id: new_id(prefix::SUBSCRIPTION),
            merchant_id: scope.merchant_id.clone(),
            livemode: scope.livemode,
            customer: customer.id.clone(),
            test_clock: customer.test_clock.clone(),
            status: SubscriptionStatus::Incomplete,
            default_payment_method: p.default_payment_method,
            items,
            currency,
            billing_cycle_anchor: now,
            cycle: -1,
            current_period_start: now,
            current_period_end: now,
            trial_start: None,
            trial_end: None,
            trial_will_end_sent: false,
            cancel_at_period_end: p.cancel_at_period_end,
            cancel_at: None,
            canceled_at: None,
            ended_at: None,
            latest_invoice: None,
            retry_at: None,
            retry_policy,
            metadata: p.metadata,
            next_action_at: None,
            created: now,
            updated: now,
            version: 0,
        };
        sub.start(now, p.trial_period_days);
        if p.cancel_at_period_end {
            sub.canceled_at = Some(now);
        }
        let mut tx = self.store.begin().await?;
        tx.insert_subscription(&sub).await?;
        self.subscription_event(&mut tx, &sub, EventType::CustomerSubscriptionCreated)
            .await?;
        tx.commit().await?;
        self.notifier.wake();
        // Without a trial, the first period is billed now.
        self.run_subscription(scope, &sub.id, now).await?;
        self.subscription(scope, &sub.id).await
    }

    pub async fn subscription(&self, scope: &Scope, id: &str) -> Result<Subscription> {
        self.store
            .subscription(scope, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("subscription", id))
    }

    /// Reads the subscription for a change by the merchant. A charge the engine is making at the
    /// same moment still lands: the engine records its outcome on the subscription as it then
    /// is (an invoice paid after a cancellation is paid; the subscription stays cancelled).
    async fn for_change(&self, tx: &mut Tx, scope: &Scope, id: &str) -> Result<Subscription> {
        tx.subscription(scope, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("subscription", id))
    }

    /// Writes a merchant's change and its `customer.subscription.*` event.
    async fn commit_change(
        &self,
        mut tx: Tx,
        before: &Subscription,
        sub: &mut Subscription,
        events: &[EventType],
    ) -> Result<()> {
        let now = sub.updated;
        self.write_subscription_change(&mut tx, before, sub, events, None, now)
            .await?;
        tx.commit().await?;
        self.notifier.wake();
        Ok(())
    }

    pub async fn update_subscription(
        &self,
        scope: &Scope,
        id: &str,
        u: SubscriptionUpdate,
    ) -> Result<Subscription> {
        let mut tx = self.store.begin().await?;
        let mut sub = self.for_change(&mut tx, scope, id).await?;
        if sub.status.is_final() {
            return Err(ServiceError::State(format!(
                "This subscription is {}; it can no longer change.",
                sub.status.as_str()
            )));
        }
        let now = self.time_of(scope, sub.test_clock.as_deref()).await?;
        let before = sub.clone();
        if let Some(pm) = u.default_payment_method {
            self.check_default_method(scope, &sub.customer, &pm).await?;
            sub.default_payment_method = Some(pm);
        }
        if let Some(m) = u.metadata {
            for (k, v) in m {
                if v.is_empty() {
                    sub.metadata.remove(&k);
                } else {
                    sub.metadata.insert(k, v);
                }
            }
            check_metadata(&sub.metadata)?;
        }
        match u.cancel_at_period_end {
            Some(true) if !sub.cancel_at_period_end => {
                sub.cancel(true, now).map_err(ServiceError::State)?;
            }
            Some(false) if sub.cancel_at_period_end => sub.keep(now),
            _ => {}
        }
        if sub != before {
            sub.updated = now;
            self.commit_change(
                tx,
                &before,
                &mut sub,
                &[EventType::CustomerSubscriptionUpdated],
            )
            .await?;
        }
        Ok(sub)
    }

    /// Changes what and when the subscription bills; anything now due (an end at a past
    /// `cancel_at`) runs at once.
    pub async fn change_billing(
        &self,
        scope: &Scope,
        id: &str,
        c: BillingChange,
    ) -> Result<Subscription> {
        let mut tx = self.store.begin().await?;
        let mut sub = self.for_change(&mut tx, scope, id).await?;
        if sub.status.is_final() {
            return Err(ServiceError::State(format!(
                "This subscription is {}; it can no longer change.",
                sub.status.as_str()
            )));
        }
        let now = self.time_of(scope, sub.test_clock.as_deref()).await?;
        let before = sub.clone();
        if let Some(a) = c.unit_amount {
            if !(1..=kassa_core::money::MAX_AMOUNT).contains(&a) {
                return Err(ServiceError::invalid(
                    "amount_cents",
                    "Ensure this value is greater than or equal to 1.",
                ));
            }
            match sub.items.as_mut_slice() {
                [only] => only.unit_amount = a,
                _ => {
                    return Err(ServiceError::invalid(
                        "amount_cents",
                        "Only a subscription of one item has one price to change.",
                    ))
                }
            }
        }
        if let Some(at) = c.next_billing {
            sub.set_next_billing(at, now)
                .map_err(|m| ServiceError::invalid("next_billing", m))?;
        }
        if let Some(at) = c.cancel_at {
            sub.cancel_at = at;
            sub.refresh_next_action();
        }
        if sub != before {
            sub.updated = now;
            self.commit_change(
                tx,
                &before,
                &mut sub,
                &[EventType::CustomerSubscriptionUpdated],
            )
            .await?;
            self.run_subscription(scope, id, now).await?;
        }
        self.subscription(scope, id).await
    }

    /// Cancels at once: nothing more is billed; an open invoice is voided.
    pub async fn cancel_subscription(&self, scope: &Scope, id: &str) -> Result<Subscription> {
        let mut tx = self.store.begin().await?;
        let mut sub = self.for_change(&mut tx, scope, id).await?;
        let now = self.time_of(scope, sub.test_clock.as_deref()).await?;
        let before = sub.clone();
        let events = sub.cancel(false, now).map_err(ServiceError::State)?;
        crate::audit::record(
            &mut tx,
            scope,
            "subscription.cancel",
            Some(id),
            &serde_json::json!({"status": {"from": before.status.as_str(), "to": sub.status.as_str()}}),
        )
        .await?;
        self.commit_change(tx, &before, &mut sub, &events).await?;
        Ok(sub)
    }

    pub async fn pause_subscription(&self, scope: &Scope, id: &str) -> Result<Subscription> {
        let mut tx = self.store.begin().await?;
        let mut sub = self.for_change(&mut tx, scope, id).await?;
        let now = self.time_of(scope, sub.test_clock.as_deref()).await?;
        let before = sub.clone();
        sub.pause(now).map_err(ServiceError::State)?;
        crate::audit::record(
            &mut tx,
            scope,
            "subscription.pause",
            Some(id),
            &serde_json::json!({"status": {"from": before.status.as_str(), "to": sub.status.as_str()}}),
        )
        .await?;
        self.commit_change(
            tx,
            &before,
            &mut sub,
            &[EventType::CustomerSubscriptionUpdated],
        )
        .await?;
        Ok(sub)
    }

    /// Resumes a paused subscription; a new period that starts now is billed at once.
    pub async fn resume_subscription(&self, scope: &Scope, id: &str) -> Result<Subscription> {
        let mut tx = self.store.begin().await?;
        let mut sub = self.for_change(&mut tx, scope, id).await?;
        let now = self.time_of(scope, sub.test_clock.as_deref()).await?;
        let open = match &sub.latest_invoice {
            Some(i) => tx
                .invoice(scope, i)
                .await?
                .is_some_and(|inv| inv.status == kassa_core::invoice::InvoiceStatus::Open),
            None => false,
        };
        let before = sub.clone();
        sub.resume(now, open).map_err(ServiceError::State)?;
        crate::audit::record(
            &mut tx,
            scope,
            "subscription.resume",
            Some(id),
            &serde_json::json!({"status": {"from": before.status.as_str(), "to": sub.status.as_str()}}),
        )
        .await?;
        self.commit_change(
            tx,
            &before,
            &mut sub,
            &[EventType::CustomerSubscriptionUpdated],
        )
        .await?;
        self.run_subscription(scope, id, now).await?;
        self.subscription(scope, id).await
    }

    pub async fn list_subscriptions(
        &self,
        scope: &Scope,
        customer: Option<&str>,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Option<Vec<Subscription>>> {
        Ok(self
            .store
            .list_subscriptions(scope, customer, limit, starting_after)
            .await?)
    }

    pub async fn invoice(&self, scope: &Scope, id: &str) -> Result<Invoice> {
        self.store
            .invoice(scope, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("invoice", id))
    }

    pub async fn list_invoices(
        &self,
        scope: &Scope,
        filter: Option<(&str, &str)>,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Option<Vec<Invoice>>> {
        Ok(self
            .store
            .list_invoices(scope, filter, limit, starting_after)
            .await?)
    }

    /// Writes a `customer.subscription.*` event; returns its id.
    pub(crate) async fn subscription_event(
        &self,
        tx: &mut Tx,
        sub: &Subscription,
        ty: EventType,
    ) -> Result<String> {
        let ev = self
            .payments()
            .new_event(&sub.scope(), ty, sub.to_json(), now_ms());
        tx.insert_event(&ev, &sub.id).await?;
        Ok(ev.id)
    }

    /// Writes an `invoice.*` event; returns its id.
    pub(crate) async fn invoice_event(
        &self,
        tx: &mut Tx,
        inv: &Invoice,
        ty: EventType,
    ) -> Result<String> {
        let ev = self
            .payments()
            .new_event(&inv.scope(), ty, inv.to_json(), now_ms());
        tx.insert_event(&ev, &inv.id).await?;
        Ok(ev.id)
    }

    /// Writes a subscription's change in `tx`: the row (releasing any lease), the invoice
    /// outcome and their events, the ended subscription's open invoice closed, and every
    /// face's projection of it.
    pub(crate) async fn write_subscription_change(
        &self,
        tx: &mut Tx,
        before: &Subscription,
        sub: &mut Subscription,
        events: &[EventType],
        invoice: Option<(&Invoice, EventType)>,
        now: i64,
    ) -> Result<()> {
        tx.update_subscription(sub, None).await?;
        let mut written = Vec::new();
        if let Some((inv, ty)) = invoice {
            tx.update_invoice(inv).await?;
            written.push((ty, self.invoice_event(tx, inv, ty).await?));
        }
        for ev in events {
            written.push((*ev, self.subscription_event(tx, sub, *ev).await?));
        }
        if sub.status.is_final() || sub.status == SubscriptionStatus::Unpaid {
            self.close_latest_invoice(tx, sub).await?;
        }
        let change = crate::projection::SubscriptionChange {
            before,
            after: sub,
            invoice,
            events: &written,
            now,
        };
        for p in self.projections.iter() {
            p.subscription_changed(self, tx, &change).await?;
        }
        Ok(())
    }

    /// An ended subscription's open invoice will never be paid: `uncollectible` when the
    /// subscription was marked unpaid, else `void`.
    pub(crate) async fn close_latest_invoice(&self, tx: &mut Tx, sub: &Subscription) -> Result<()> {
        let Some(id) = &sub.latest_invoice else {
            return Ok(());
        };
        if let Some(mut inv) = tx.invoice(&sub.scope(), id).await? {
            let before = inv.status;
            inv.close(sub.status == SubscriptionStatus::Unpaid, sub.updated);
            if inv.status != before {
                tx.update_invoice(&inv).await?;
            }
        }
        Ok(())
    }
}
