//! Paymob subscriptions on the one subscription engine. A subscription starts with an
//! intention's first (3-D Secure) payment naming a plan; from then on it is a core subscription
//! (`kassa_core::subscription`) whose schedule, retries, suspension and end the engine runs. This
//! face keeps what only Paymob has (plan, client info, callback URL, initial and renewal
//! transactions), renders Paymob's subscription object from the core's state, writes the Paymob
//! order and transaction of each renewal, and queues the subscription callbacks (HMAC in the
//! body) from the core's changes.
//!
//! The plan's policy becomes the core's parameters: renewals every `frequency` days, a failed
//! renewal retried once a day for `retrial_days` (3 if unset) and then suspended (paused), and
//! an end at `ends_at` (the start plus `number_of_deductions` periods: that many payments in
//! all, the first included).

use kassa_core::calendar::DAY_MS;
use kassa_core::events::EventType;
use kassa_core::ids::{new_id, prefix};
use kassa_core::intent::{Metadata, PaymentIntent};
use kassa_core::invoice::Invoice;
use kassa_core::money::Currency;
use kassa_core::subscription::{
    FinalAction, Interval, Item, Recurring, RetryPolicy, Subscription, SubscriptionStatus,
};
use kassa_store::{now_ms, PmOrder, PmProfile, PmSubscription, PmTransaction, Tx};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::accounts::country_of;
use super::intentions::{KeyClaims, OrderDoc};
use super::pay::TxnExtra;
use super::plans::{bad, PlanDoc};
use super::{doc, to_text, PmError, PmResult};
use crate::billing::BillingChange;
use crate::projection::SubscriptionChange;
use crate::{check_return_url, ServiceError, Services};

/// A failed renewal is retried once a day for the plan's `retrial_days` (this many if unset).
const DEFAULT_RETRIAL_DAYS: i64 = 3;

/// What only the Paymob face keeps about a subscription; the rest is the core's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SubDoc {
    pub client_info: Value,
    pub frequency: i64,
    pub name: String,
    pub reminder_days: Option<i64>,
    pub retrial_days: Option<i64>,
    pub currency: String,
    pub starts_at: String,
    pub resumed_at: Option<String>,
    pub suspended_at: Option<String>,
    pub webhook_url: Option<String>,
    pub integration: i64,
    pub initial_transaction: i64,
    pub card_token_id: i64,
    pub created_at: String,
    pub updated_at: String,
    /// Billing email etc. for renewal orders.
    pub billing_data: serde_json::Map<String, Value>,
    /// Every renewal's transaction, oldest first.
    #[serde(default)]
    pub renewal_transactions: Vec<i64>,
    /// Only in a subscription the old engine made (before migration 0014; no core subscription).
    #[serde(default)]
    pub amount_cents: i64,
    #[serde(default)]
    pub next_billing: Option<String>,
    #[serde(default)]
    pub ends_at: Option<String>,
}

fn date_of(ms: i64, profile: &PmProfile) -> String {
    kassa_paymob::time::timestamp(ms, country_of(profile))[..10].to_string()
}

/// Unix ms of a `YYYY-MM-DD` at the start of that day, UTC.
fn parse_date(s: &str) -> Option<i64> {
    let (y, rest) = s.split_once('-')?;
    let (m, d) = rest.split_once('-')?;
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(kassa_core::calendar::days_from_civil(y, m, d) * DAY_MS)
}

/// Paymob's three states of a core subscription.
fn face_state(s: &Subscription) -> &'static str {
    match s.status {
        SubscriptionStatus::Incomplete
        | SubscriptionStatus::Trialing
        | SubscriptionStatus::Active
        | SubscriptionStatus::PastDue => "active",
        SubscriptionStatus::Paused | SubscriptionStatus::Unpaid => "suspended",
        SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired => "canceled",
    }
}

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

impl Services {
    fn sub_json(
        profile: &PmProfile,
        s: &PmSubscription,
        d: &SubDoc,
        core: Option<&Subscription>,
    ) -> Value {
        let (state, amount, next_billing, ends_at) = match core {
            Some(c) => (
                face_state(c),
                c.items.first().map_or(0, |i| i.unit_amount * i.quantity),
                Some(c.retry_at.unwrap_or(c.current_period_end)),
                c.cancel_at.or(c.ended_at).map(|t| date_of(t, profile)),
            ),
            None => ("canceled", d.amount_cents, None, d.ends_at.clone()),
        };
        let reminder_date = match (next_billing, d.reminder_days) {
            (Some(n), Some(r)) => Some(date_of(n - r * DAY_MS, profile)),
            _ => None,
        };
        let next_billing = next_billing
            .map(|n| date_of(n, profile))
            .or_else(|| d.next_billing.clone());
        json!({"id": s.id, "client_info": d.client_info, "frequency": d.frequency,
               "created_at": d.created_at, "updated_at": d.updated_at, "name": d.name,
               "reminder_days": d.reminder_days, "retrial_days": d.retrial_days, "plan_id": s.plan_id,
               "state": state, "amount_cents": amount, "starts_at": d.starts_at,
               "next_billing": next_billing, "reminder_date": reminder_date, "ends_at": ends_at,
               "resumed_at": d.resumed_at, "suspended_at": d.suspended_at, "webhook_url": d.webhook_url,
               "integration": d.integration, "initial_transaction": d.initial_transaction})
    }

    /// A subscription of this profile with its core subscription (none for an old one).
    async fn pm_own_sub(
        &self,
        profile: &PmProfile,
        id: i64,
    ) -> PmResult<(PmSubscription, SubDoc, Option<Subscription>)> {
        match self.store.pm_subscription(id).await? {
            Some(s) if s.profile_id == profile.id => {
                let d = doc(&s.doc, "subscription")?;
                let core = match &s.subscription_id {
                    Some(c) => self.store.subscription(&profile.merchant_id, c).await?,
                    None => None,
                };
                Ok((s, d, core))
            }
            _ => Err(PmError::detail(404, "Not found.")),
        }
    }

    pub async fn pm_get_subscription(&self, profile: &PmProfile, id: i64) -> PmResult<Value> {
        let (s, d, core) = self.pm_own_sub(profile, id).await?;
        Ok(Self::sub_json(profile, &s, &d, core.as_ref()))
    }

    pub async fn pm_list_subscriptions(&self, profile: &PmProfile) -> PmResult<Value> {
        let mut out = Vec::new();
        for s in self.store.pm_subscriptions_of(profile.id).await? {
            let d: SubDoc = doc(&s.doc, "subscription")?;
            let core = match &s.subscription_id {
                Some(c) => self.store.subscription(&profile.merchant_id, c).await?,
                None => None,
            };
            out.push(Self::sub_json(profile, &s, &d, core.as_ref()));
        }
        Ok(json!({"count": out.len(), "next": null, "previous": null, "results": out}))
    }

    /// The subscription's payments (first and renewals), newest first.
    pub async fn pm_subscription_transactions(
        &self,
        profile: &PmProfile,
        id: i64,
    ) -> PmResult<Value> {
        let (_, d, _) = self.pm_own_sub(profile, id).await?;
        let mut out = Vec::new();
        let ids = std::iter::once(d.initial_transaction).chain(d.renewal_transactions);
        for tid in ids.collect::<Vec<_>>().iter().rev() {
            if let Some(t) = self.store.pm_transaction(*tid).await? {
                out.push(doc::<Value>(&t.obj, "transaction")?);
            }
        }
        Ok(json!({"count": out.len(), "next": null, "previous": null, "results": out}))
    }

    /// `POST /api/acceptance/subscriptions/{id}/suspend|resume|cancel`, `PUT …/{id}`
    /// (`amount_cents`, `ends_at`, `next_billing`) and `register_webhook` (`url`): the core's
    /// commands, whose projection queues the callback.
    pub async fn pm_change_subscription(
        &self,
        profile: &PmProfile,
        id: i64,
        action: &str,
        body: &Value,
    ) -> PmResult<Value> {
        let (s, d, core) = self.pm_own_sub(profile, id).await?;
        let Some(core) = core else {
            return Err(PmError::message(400, "This subscription is canceled."));
        };
        let m = &profile.merchant_id;
        match (action, face_state(&core)) {
            (_, "canceled") => return Err(PmError::message(400, "This subscription is canceled.")),
            ("suspend", "active") => {
                self.pause_subscription(m, &core.id).await?;
            }
            ("resume", "suspended") => {
                self.resume_subscription(m, &core.id).await?;
            }
            ("cancel", _) => {
                self.cancel_subscription(m, &core.id).await?;
            }
            ("update", _) => {
                let change = Self::pm_billing_change(body)?;
                self.change_billing(m, &core.id, change)
                    .await
                    .map_err(|e| match e {
                        ServiceError::Invalid {
                            param: Some(param),
                            message,
                        } => bad(&param, message),
                        e => e.into(),
                    })?;
            }
            ("register_webhook", _) => {
                let url = body
                    .get("url")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("url", "This field is required."))?;
                let url = check_return_url(url).map_err(|_| bad("url", "Enter a valid URL."))?;
                self.pm_check_egress("url", Some(&url)).await?;
                self.pm_register_webhook(profile, s, d, &core, url).await?;
            }
            ("suspend" | "resume", state) => {
                return Err(PmError::message(
                    400,
                    format!("This subscription is {state}."),
                ))
            }
            _ => return Err(PmError::detail(404, "Not found.")),
        }
        self.pm_get_subscription(profile, id).await
    }

    fn pm_billing_change(body: &Value) -> PmResult<BillingChange> {
        let mut c = BillingChange::default();
        if let Some(v) = body.get("amount_cents").filter(|v| !v.is_null()) {
            c.unit_amount = Some(
                kassa_paymob::lenient::int(v)
                    .filter(|a| *a >= 1)
                    .ok_or_else(|| bad("amount_cents", "A valid integer is required."))?,
            );
        }
        let date = |k: &str| -> PmResult<Option<i64>> {
            match body.get(k).and_then(Value::as_str) {
                None => Ok(None),
                Some(v) => parse_date(v)
                    .map(Some)
                    .ok_or_else(|| bad(k, "Date has wrong format. Use YYYY-MM-DD.")),
            }
        };
        c.next_billing = date("next_billing")?;
        c.cancel_at = date("ends_at")?.map(Some);
        Ok(c)
    }

    /// A new callback URL: the face's own field, announced with an `updated` callback to it.
    async fn pm_register_webhook(
        &self,
        profile: &PmProfile,
        mut s: PmSubscription,
        mut d: SubDoc,
        core: &Subscription,
        url: String,
    ) -> PmResult<()> {
        let clock = self
            .time_of(&profile.merchant_id, core.test_clock.as_deref())
            .await?;
        d.webhook_url = Some(url);
        d.updated_at = kassa_paymob::time::timestamp(clock, country_of(profile));
        let mut tx = self.store.begin().await?;
        self.pm_write_sub(&mut tx, &mut s, &d).await?;
        let ev = self
            .subscription_event(&mut tx, core, EventType::CustomerSubscriptionUpdated)
            .await?;
        self.pm_sub_callback(&mut tx, profile, &s, &d, core, "updated", &ev)
            .await?;
        tx.commit().await?;
        self.notifier.wake();
        Ok(())
    }

    async fn pm_write_sub(
        &self,
        tx: &mut Tx,
        s: &mut PmSubscription,
        d: &SubDoc,
    ) -> crate::Result<()> {
        s.doc = to_text(d);
        s.updated_at = now_ms();
        if !tx.update_pm_subscription(s).await? {
            return Err(ServiceError::Conflict);
        }
        Ok(())
    }

    /// Queues the subscription callback (`trigger_type`, HMAC in the body) for the core event
    /// `event_id`, to the subscription's callback URL if it has one.
    #[allow(clippy::too_many_arguments)]
    async fn pm_sub_callback(
        &self,
        tx: &mut Tx,
        profile: &PmProfile,
        s: &PmSubscription,
        d: &SubDoc,
        core: &Subscription,
        trigger: &str,
        event_id: &str,
    ) -> crate::Result<()> {
        let Some(url) = d.webhook_url.as_deref() else {
            return Ok(());
        };
        let secret = self.pm_hmac_secret(profile)?;
        let body = json!({
            "paymob_request_id": kassa_paymob::keys::request_id(),
            "subscription_data": Self::sub_json(profile, s, d, Some(core)),
            "trigger_type": trigger,
            "hmac": kassa_paymob::hmac::subscription_hmac(&secret, trigger, s.id),
        });
        tx.insert_post_delivery(
            &profile.merchant_id,
            super::pay::CHANNEL,
            &format!("pmp_{}", profile.id),
            event_id,
            url,
            &body.to_string(),
            now_ms(),
        )
        .await?;
        Ok(())
    }

    /// After an intention's first payment succeeded: the subscription its plan asks for, on
    /// the card the payment saved (a renewal's success is the engine's to record).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn pm_start_subscription(
        &self,
        tx: &mut Tx,
        profile: &PmProfile,
        t: &PmTransaction,
        pi: &PaymentIntent,
        extra: &mut TxnExtra,
        obj: &Value,
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
        let currency_code = obj["currency"].as_str().unwrap_or("EGP").to_string();
        let currency = Currency::parse(&currency_code)
            .map_err(|e| ServiceError::invalid("currency", e.to_string()))?;
        let amount = if pd.use_transaction_amount {
            obj["amount_cents"].as_i64().unwrap_or(pd.amount_cents)
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
            .subscription_event(tx, &sub, EventType::CustomerSubscriptionCreated)
            .await?;
        self.invoice_event(tx, &inv, EventType::InvoiceCreated)
            .await?;
        self.invoice_event(tx, &inv, EventType::InvoicePaid).await?;

        let billing = obj["payment_key_claims"]["billing_data"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let text = |k: &str| {
            billing
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
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
        self.pm_sub_callback(tx, profile, &row, &d, &sub, "created", &created)
            .await
    }

    /// The engine is about to charge a renewal of a Paymob subscription: its Paymob order and
    /// transaction (`api_source` `SUBSCRIPTION`, the saved card's `TOKEN`), named in the
    /// payment's metadata so the payment's outcome renders and calls back as Paymob's.
    pub(crate) async fn pm_invoice_charge(
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
        let Some(integration) = self.pm_integration(d.integration).await? else {
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
        let obj = self.pm_initial_obj(
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
            obj: to_text(&obj),
            extra: to_text(&extra),
            created_at: now,
            updated_at: now,
        })
        .await?;
        d.renewal_transactions.push(txn_id);
        self.pm_write_sub(tx, &mut row, &d).await
    }

    /// A core change of a Paymob subscription: the face's dates and its callback.
    pub(crate) async fn pm_subscription_changed(
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
        self.pm_write_sub(tx, &mut row, &d).await?;
        self.pm_sub_callback(tx, &profile, &row, &d, c.after, trigger, event_id)
            .await
    }

    /// Moves a subscription's test clock forward (sandbox only: live profiles refuse), running
    /// every renewal, retry and end it passes. The first advance gives the subscription a
    /// test clock of its own, frozen at the present.
    pub async fn pm_advance_clock(
        &self,
        merchant_id: &str,
        id: i64,
        seconds: i64,
    ) -> PmResult<Value> {
        if !(1..=5 * 366 * 86_400).contains(&seconds) {
            return Err(bad("seconds", "Give 1 second to 5 years."));
        }
        let s = self
            .store
            .pm_subscription(id)
            .await?
            .ok_or_else(|| PmError::detail(404, "Not found."))?;
        let profile = self
            .pm_profile_of(merchant_id, s.profile_id)
            .await
            .map_err(|_| PmError::detail(404, "Not found."))?;
        if profile.live {
            return Err(PmError::message(
                400,
                "Test clocks are for test profiles only.",
            ));
        }
        let (_, _, core) = self.pm_own_sub(&profile, id).await?;
        let Some(core) = core else {
            return Err(PmError::message(400, "This subscription is canceled."));
        };
        let clock_id = self
            .clock_of_subscription(merchant_id, &core.id, &format!("Paymob subscription {id}"))
            .await?;
        let clock = self.test_clock(merchant_id, &clock_id).await?;
        let clock = self
            .advance_test_clock(merchant_id, &clock_id, clock.frozen_time / 1000 + seconds)
            .await?;
        let mut out = self.pm_get_subscription(&profile, id).await?;
        out["clock"] = json!(kassa_paymob::time::timestamp(
            clock.frozen_time,
            country_of(&profile)
        ));
        Ok(out)
    }
}
