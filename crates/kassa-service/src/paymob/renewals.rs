//! Paymob subscriptions as the engine runs them: the subscription an intention's first payment
//! starts (a core subscription with the plan's policy as parameters), the Paymob order and
//! transaction of each renewal the engine charges, and the subscription callbacks the core's
//! changes mean.

use crate::Paymob;
use kassa_core::calendar::DAY_MS;
use kassa_core::events::EventType;
use kassa_core::ids::{new_id, prefix};
use kassa_core::intent::{Metadata, PaymentIntent};
use kassa_core::invoice::Invoice;
use kassa_core::money::Currency;
use kassa_core::subscription::{
    FinalAction, Interval, Item, Recurring, RetryPolicy, Subscription, SubscriptionStatus,
};
use kassa_paymob::transaction::Transaction;
use kassa_store::{PmOrder, PmProfile, PmSubscription, PmTransaction, Tx};
use serde_json::{json, Value};

use super::accounts::country_of;
use super::intentions::{KeyClaims, OrderDoc};
use super::pay::TxnExtra;
use super::plans::PlanDoc;
use super::subscriptions::{date_of, face_state, parse_date, SubDoc, DEFAULT_RETRIAL_DAYS};
use super::{doc, to_text};
use crate::projection::SubscriptionChange;
use crate::ServiceError;

/// The callback a core change means for Paymob's merchant, if any.
fn trigger_of(c: &SubscriptionChange<'_>) -> Option<&'static str> {
    let (was, now) = (face_state(c.before), face_state(c.after));
    match c.invoice {
        Some((_, EventType::InvoicePaid)) => return Some("successful_transaction"),
        Some((_, EventType::InvoicePaymentFailed)) => {
            return Some(match now {
                "suspended" => "suspended",
                "canceled" => "canceled",
                _ => "failed_transaction",
            })
        }
        _ => {}
    }
    match (was, now) {
        (w, "canceled") if w != "canceled" => Some("canceled"),
        ("active", "suspended") => Some("suspended"),
        ("suspended", "active") => Some("resumed"),
        _ if c.before.items != c.after.items
            || c.before.cancel_at != c.after.cancel_at
            || c.before.billing_cycle_anchor != c.after.billing_cycle_anchor =>
        {
            Some("updated")
        }
        _ => None,
    }
}

impl Paymob<'_> {
    /// After an intention's first payment succeeded: the subscription its plan asks for, on
    /// the card the payment saved (a renewal's success is the engine's to record).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn start_subscription(
        &self,
        tx: &mut Tx,
        profile: &PmProfile,
        t: &PmTransaction,
        pi: &PaymentIntent,
        extra: &mut TxnExtra,
        obj: &Transaction,
        now: i64,
    ) -> crate::Result<()> {
        if extra.subscription_id.is_some() {
            return Ok(());
        }
        let (Some(plan_id), Some(card_token_id)) =
            (extra.subscription_plan_id, extra.card_token_id)
        else {
            return Ok(());
        };
        let Some(plan) = self.store.pm_plan(plan_id).await? else {
            return Ok(());
        };
        let Some(card) = tx.pm_card_token(card_token_id).await? else {
            return Ok(());
        };
        let (Some(customer), Some(method)) = (card.customer_id, card.payment_method_id) else {
            return Ok(());
        };
        let pd: PlanDoc = doc(&plan.doc, "plan")?;
        let currency_code = obj.currency.clone();
        let currency = Currency::parse(&currency_code)
            .map_err(|e| ServiceError::invalid("currency", e.to_string()))?;
        let amount = if pd.use_transaction_amount {
            obj.amount_cents
        } else {
            pd.amount_cents
        };
        let start = extra
            .subscription_start_date
            .as_deref()
            .and_then(parse_date)
            .filter(|s| *s > now);
        let starts_at = start.unwrap_or(now);
        let next = start.unwrap_or(now + pd.frequency * DAY_MS);
        let retries = pd.retrial_days.unwrap_or(DEFAULT_RETRIAL_DAYS).max(0) as usize;
        let mut sub = Subscription {
            id: new_id(prefix::SUBSCRIPTION),
            merchant_id: profile.merchant_id.clone(),
            livemode: profile.live,
            customer,
            test_clock: None,
            status: SubscriptionStatus::Incomplete,
            default_payment_method: Some(method),
            items: vec![Item {
                id: new_id(prefix::SUBSCRIPTION_ITEM),
                product_name: pd.name.clone(),
                currency,
                unit_amount: amount,
                recurring: Recurring {
                    interval: Interval::Day,
                    interval_count: pd.frequency,
                },
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
            cancel_at: pd
                .number_of_deductions
                .map(|n| starts_at + n * pd.frequency * DAY_MS),
            canceled_at: None,
            ended_at: None,
            latest_invoice: None,
            retry_at: None,
            retry_policy: RetryPolicy {
                retry_days: vec![1; retries],
                final_action: FinalAction::Pause,
                retry_seconds: None,
            },
            metadata: Metadata::new(),
            next_action_at: None,
            created: now,
            updated: now,
            version: 0,
        };
        sub.start_paid(now, next);
        // The first period's invoice, paid by this payment.
        let mut inv =
            Invoice::for_period(new_id(prefix::INVOICE), &sub, "subscription_create", now);
        inv.attempt_count = 1;
        inv.payment_intent = Some(pi.id.clone());
        inv.paid(now);
        sub.latest_invoice = Some(inv.id.clone());
        tx.insert_subscription(&sub).await?;
        tx.insert_invoice(&inv).await?;
        let created = self
            .billing()
            .subscription_event(tx, &sub, EventType::CustomerSubscriptionCreated)
            .await?;
        self.billing()
            .invoice_event(tx, &inv, EventType::InvoiceCreated)
            .await?;
        self.billing()
            .invoice_event(tx, &inv, EventType::InvoicePaid)
            .await?;

        let billing = obj.payment_key_claims["billing_data"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let text = |k: &str| obj.billing(k).to_string();
        let stamp = kassa_paymob::time::timestamp(now, country_of(profile));
        let d = SubDoc {
            client_info: json!({"email": text("email"), "full_name": format!("{} {}", text("first_name"), text("last_name")).trim(),
                                "phone_number": text("phone_number")}),
            frequency: pd.frequency,
            name: pd.name.clone(),
            reminder_days: pd.reminder_days,
            retrial_days: pd.retrial_days,
            currency: currency_code,
            starts_at: date_of(starts_at, profile),
            resumed_at: None,
            suspended_at: None,
            webhook_url: pd.webhook_url.clone(),
            integration: pd.integration,
            initial_transaction: t.id,
            card_token_id,
            created_at: stamp.clone(),
            updated_at: stamp,
            billing_data: billing.clone(),
            renewal_transactions: Vec::new(),
            amount_cents: 0,
            next_billing: None,
            ends_at: None,
        };
        let row = PmSubscription {
            id: tx.pm_next_id("subscription").await?,
            profile_id: profile.id,
            plan_id,
            subscription_id: Some(sub.id.clone()),
            version: 0,
            doc: to_text(&d),
            created_at: now,
            updated_at: now,
        };
        tx.insert_pm_subscription(&row).await?;
        extra.subscription_id = Some(row.id);
        self.sub_callback(tx, profile, &row, &d, &sub, "created", &created)
            .await
    }

    /// The engine is about to charge a renewal of a Paymob subscription: its Paymob order and
    /// transaction (`api_source` `SUBSCRIPTION`, the saved card's `TOKEN`), named in the
    /// payment's metadata so the payment's outcome renders and calls back as Paymob's.
    pub(crate) async fn invoice_charge(
        &self,
        tx: &mut Tx,
        sub: &Subscription,
        pi: &mut PaymentIntent,
        now: i64,
    ) -> crate::Result<()> {
        let Some(mut row) = tx.pm_subscription_of_core(&sub.id).await? else {
            return Ok(());
        };
        let Some(profile) = self.store.pm_profile(row.profile_id).await? else {
            return Ok(());
        };
        let mut d: SubDoc = doc(&row.doc, "subscription")?;
        let Some(integration) = self.integration(d.integration).await? else {
            return Ok(());
        };
        let order_id = tx.pm_next_id("order").await?;
        let txn_id = tx.pm_next_id("transaction").await?;
        let od = OrderDoc {
            amount_cents: pi.amount,
            currency: d.currency.clone(),
            delivery_needed: false,
            items: vec![],
            shipping_data: Some(Value::Object(d.billing_data.clone())),
            created_at: kassa_paymob::time::timestamp(now, country_of(&profile)),
            paid_amount_cents: 0,
            api_source: "SUBSCRIPTION".into(),
            lock_when_paid: true,
        };
        let order = PmOrder {
            id: order_id,
            profile_id: profile.id,
            merchant_order_id: None,
            intention_id: None,
            doc: to_text(&od),
            created_at: now,
            updated_at: now,
        };
        tx.insert_pm_order(&order).await?;
        pi.order_key = Some(super::pay::order_key(order_id));
        pi.metadata
            .insert("paymob_order".into(), order_id.to_string());
        pi.metadata
            .insert("paymob_transaction".into(), txn_id.to_string());
        pi.metadata
            .insert("paymob_subscription".into(), row.id.to_string());
        let claims = KeyClaims {
            user_id: profile.id,
            amount_cents: pi.amount,
            currency: d.currency.clone(),
            integration_id: integration.id,
            order_id,
            billing_data: d.billing_data.clone(),
            lock_order_when_paid: true,
            extra: json!({}),
            single_payment_attempt: true,
            next_payment_intention: None,
            exp: now / 1000,
            card_token_id: Some(d.card_token_id),
        };
        let obj = self.initial_obj(
            &profile,
            &integration,
            &order,
            &od,
            &claims,
            txn_id,
            "SUBSCRIPTION",
            now,
        );
        let extra = TxnExtra {
            integration_id: integration.id,
            subtype: "TOKEN".into(),
            subscription_id: Some(row.id),
            card_token_id: Some(d.card_token_id),
            ..Default::default()
        };
        tx.insert_pm_transaction(&PmTransaction {
            id: txn_id,
            profile_id: profile.id,
            order_id,
            intent_id: Some(pi.id.clone()),
            parent_id: None,
            kind: "payment".into(),
            obj: obj.to_text(),
            extra: to_text(&extra),
            created_at: now,
            updated_at: now,
        })
        .await?;
        d.renewal_transactions.push(txn_id);
        self.write_sub(tx, &mut row, &d).await
    }

    /// A core change of a Paymob subscription: the face's dates and its callback.
    pub(crate) async fn subscription_changed(
        &self,
        tx: &mut Tx,
        c: &SubscriptionChange<'_>,
    ) -> crate::Result<()> {
        let Some(mut row) = tx.pm_subscription_of_core(&c.after.id).await? else {
            return Ok(());
        };
        let Some(trigger) = trigger_of(c) else {
            return Ok(());
        };
        // The invoice's outcome when there is one, else the subscription's latest event.
        let Some((_, event_id)) = c
            .events
            .first()
            .filter(|_| c.invoice.is_some())
            .or(c.events.last())
        else {
            return Ok(());
        };
        let Some(profile) = self.store.pm_profile(row.profile_id).await? else {
            return Ok(());
        };
        let mut d: SubDoc = doc(&row.doc, "subscription")?;
        let stamp = kassa_paymob::time::timestamp(c.now, country_of(&profile));
        match trigger {
            "suspended" => d.suspended_at = Some(stamp.clone()),
            "resumed" => d.resumed_at = Some(stamp.clone()),
            _ => {}
        }
        d.updated_at = stamp;
        self.write_sub(tx, &mut row, &d).await?;
        self.sub_callback(tx, &profile, &row, &d, c.after, trigger, event_id)
            .await
    }
}
