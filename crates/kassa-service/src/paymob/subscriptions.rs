//! Paymob subscriptions on the one subscription engine: the merchant's API (read, suspend,
//! resume, cancel, change, callback URL, test clock) and the Paymob subscription object rendered
//! from the core's state; the engine's side is in `renewals.rs`. A subscription starts with an
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

use crate::Paymob;
use kassa_core::calendar::DAY_MS;
use kassa_core::events::EventType;
use kassa_core::scope::Scope;
use kassa_core::subscription::{Subscription, SubscriptionStatus};
use kassa_store::{now_ms, PmProfile, PmSubscription, Tx};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::accounts::country_of;
use super::plans::bad;
use super::{doc, to_text, PmError, PmResult};
use crate::billing::BillingChange;
use crate::{check_return_url, ServiceError};

/// A failed renewal is retried once a day for the plan's `retrial_days` (this many if unset).
pub(super) const DEFAULT_RETRIAL_DAYS: i64 = 3;

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

pub(super) fn date_of(ms: i64, profile: &PmProfile) -> String {
    kassa_paymob::time::timestamp(ms, country_of(profile))[..10].to_string()
}

/// Unix ms of a `YYYY-MM-DD` at the start of that day, UTC.
pub(super) fn parse_date(s: &str) -> Option<i64> {
    let (y, rest) = s.split_once('-')?;
    let (m, d) = rest.split_once('-')?;
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(kassa_core::calendar::days_from_civil(y, m, d) * DAY_MS)
}

/// Paymob's three states of a core subscription.
pub(super) fn face_state(s: &Subscription) -> &'static str {
    match s.status {
        SubscriptionStatus::Incomplete
        | SubscriptionStatus::Trialing
        | SubscriptionStatus::Active
        | SubscriptionStatus::PastDue => "active",
        SubscriptionStatus::Paused | SubscriptionStatus::Unpaid => "suspended",
        SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired => "canceled",
    }
}

impl Paymob<'_> {
    pub(super) fn sub_json(
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
    async fn own_sub(
        &self,
        profile: &PmProfile,
        id: i64,
    ) -> PmResult<(PmSubscription, SubDoc, Option<Subscription>)> {
        match self.store.pm_subscription(id).await? {
            Some(s) if s.profile_id == profile.id => {
                let d = doc(&s.doc, "subscription")?;
                let core = match &s.subscription_id {
                    Some(c) => self.store.subscription(&profile.scope(), c).await?,
                    None => None,
                };
                Ok((s, d, core))
            }
            _ => Err(PmError::detail(404, "Not found.")),
        }
    }

    pub async fn get_subscription(&self, profile: &PmProfile, id: i64) -> PmResult<Value> {
        let (s, d, core) = self.own_sub(profile, id).await?;
        Ok(Self::sub_json(profile, &s, &d, core.as_ref()))
    }

    pub async fn list_subscriptions(&self, profile: &PmProfile) -> PmResult<Value> {
        let mut out = Vec::new();
        for s in self.store.pm_subscriptions_of(profile.id).await? {
            let d: SubDoc = doc(&s.doc, "subscription")?;
            let core = match &s.subscription_id {
                Some(c) => self.store.subscription(&profile.scope(), c).await?,
                None => None,
            };
            out.push(Self::sub_json(profile, &s, &d, core.as_ref()));
        }
        Ok(json!({"count": out.len(), "next": null, "previous": null, "results": out}))
    }

    /// The subscription's payments (first and renewals), newest first.
    pub async fn subscription_transactions(&self, profile: &PmProfile, id: i64) -> PmResult<Value> {
        let (_, d, _) = self.own_sub(profile, id).await?;
        let mut out = Vec::new();
        let ids = std::iter::once(d.initial_transaction).chain(d.renewal_transactions);
        for tid in ids.collect::<Vec<_>>().iter().rev() {
            if let Some(t) = self.store.pm_transaction(*tid).await? {
                out.push(super::txn_json(&t)?);
            }
        }
        Ok(json!({"count": out.len(), "next": null, "previous": null, "results": out}))
    }

    /// `POST /api/acceptance/subscriptions/{id}/suspend|resume|cancel`, `PUT …/{id}`
    /// (`amount_cents`, `ends_at`, `next_billing`) and `register_webhook` (`url`): the core's
    /// commands, whose projection queues the callback.
    pub async fn change_subscription(
        &self,
        profile: &PmProfile,
        id: i64,
        action: &str,
        body: &Value,
    ) -> PmResult<Value> {
        let (s, d, core) = self.own_sub(profile, id).await?;
        let Some(core) = core else {
            return Err(PmError::message(400, "This subscription is canceled."));
        };
        let m = &profile.scope();
        match (action, face_state(&core)) {
            (_, "canceled") => return Err(PmError::message(400, "This subscription is canceled.")),
            ("suspend", "active") => {
                self.billing().pause_subscription(m, &core.id).await?;
            }
            ("resume", "suspended") => {
                self.billing().resume_subscription(m, &core.id).await?;
            }
            ("cancel", _) => {
                self.billing().cancel_subscription(m, &core.id).await?;
            }
            ("update", _) => {
                let change = Self::billing_change(body)?;
                self.billing()
                    .change_billing(m, &core.id, change)
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
                self.register_webhook(profile, s, d, &core, url).await?;
            }
            ("suspend" | "resume", state) => {
                return Err(PmError::message(
                    400,
                    format!("This subscription is {state}."),
                ))
            }
            _ => return Err(PmError::detail(404, "Not found.")),
        }
        self.get_subscription(profile, id).await
    }

    fn billing_change(body: &Value) -> PmResult<BillingChange> {
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
    async fn register_webhook(
        &self,
        profile: &PmProfile,
        mut s: PmSubscription,
        mut d: SubDoc,
        core: &Subscription,
        url: String,
    ) -> PmResult<()> {
        let clock = self
            .billing()
            .time_of(&profile.scope(), core.test_clock.as_deref())
            .await?;
        d.webhook_url = Some(url);
        d.updated_at = kassa_paymob::time::timestamp(clock, country_of(profile));
        let mut tx = self.store.begin().await?;
        self.write_sub(&mut tx, &mut s, &d).await?;
        let ev = self
            .billing()
            .subscription_event(&mut tx, core, EventType::CustomerSubscriptionUpdated)
            .await?;
        self.sub_callback(&mut tx, profile, &s, &d, core, "updated", &ev)
            .await?;
        tx.commit().await?;
        self.notifier.wake();
        Ok(())
    }

    pub(super) async fn write_sub(
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
    pub(super) async fn sub_callback(
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
        let secret = self.hmac_secret(profile)?;
        let body = json!({
            "paymob_request_id": kassa_paymob::keys::request_id(),
            "subscription_data": Self::sub_json(profile, s, d, Some(core)),
            "trigger_type": trigger,
            "hmac": kassa_paymob::hmac::subscription_hmac(&secret, trigger, s.id),
        });
        tx.insert_post_delivery(
            &profile.scope(),
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

    /// Moves a subscription's test clock forward (sandbox only: live profiles refuse), running
    /// every renewal, retry and end it passes. The first advance gives the subscription a
    /// test clock of its own, frozen at the present.
    pub async fn advance_clock(&self, scope: &Scope, id: i64, seconds: i64) -> PmResult<Value> {
        if !(1..=5 * 366 * 86_400).contains(&seconds) {
            return Err(bad("seconds", "Give 1 second to 5 years."));
        }
        let s = self
            .store
            .pm_subscription(id)
            .await?
            .ok_or_else(|| PmError::detail(404, "Not found."))?;
        let profile = self
            .profile_in(scope, s.profile_id)
            .await
            .map_err(|_| PmError::detail(404, "Not found."))?;
        if profile.live {
            return Err(PmError::message(
                400,
                "Test clocks are for test profiles only.",
            ));
        }
        let (_, _, core) = self.own_sub(&profile, id).await?;
        let Some(core) = core else {
            return Err(PmError::message(400, "This subscription is canceled."));
        };
        let clock_id = self
            .billing()
            .clock_of_subscription(scope, &core.id, &format!("Paymob subscription {id}"))
            .await?;
        let clock = self.billing().test_clock(scope, &clock_id).await?;
        let clock = self
            .billing()
            .advance_test_clock(scope, &clock_id, clock.frozen_time / 1000 + seconds)
            .await?;
        let mut out = self.get_subscription(&profile, id).await?;
        out["clock"] = json!(kassa_paymob::time::timestamp(
            clock.frozen_time,
            country_of(&profile)
        ));
        Ok(out)
    }
}
