//! Subscriptions: plans on a MOTO integration, a subscription started by an intention's first
//! (3-D Secure) payment with `subscription_plan_id`, renewals charged by the scheduler on the
//! saved card, state changes, and subscription callbacks with the HMAC in the body.
//!
//! Times are on the subscription's own clock: real time plus `clock_offset_ms`, which only a
//! test clock moves.

use kassa_core::events::EventType;
use kassa_core::intent::{CaptureMethod, Metadata};
use kassa_core::money::Currency;
use kassa_store::{now_ms, PmOrder, PmPlan, PmProfile, PmSubscription, PmTransaction, Tx};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::accounts::country_of;
use super::intentions::{KeyClaims, OrderDoc};
use super::pay::TxnExtra;
use super::{doc, to_text, IntegrationKind, PmError, PmResult};
use crate::{check_return_url, CreateIntentParams, ServiceError, Services};
use kassa_core::calendar::DAY_MS;

/// Billing frequencies a plan may have, in days.
pub const SUBSCRIPTION_FREQUENCIES: [i64; 8] = [7, 15, 30, 60, 90, 180, 360, 365];
/// A failed renewal is retried once a day for the plan's `retrial_days` (this many if unset).
const DEFAULT_RETRIAL_DAYS: i64 = 3;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PlanDoc {
    pub frequency: i64,
    pub name: String,
    pub reminder_days: Option<i64>,
    pub retrial_days: Option<i64>,
    pub plan_type: String,
    pub number_of_deductions: Option<i64>,
    pub amount_cents: i64,
    pub use_transaction_amount: bool,
    pub is_active: bool,
    pub integration: i64,
    pub webhook_url: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SubDoc {
    pub client_info: Value,
    pub frequency: i64,
    pub name: String,
    pub reminder_days: Option<i64>,
    pub retrial_days: Option<i64>,
    pub amount_cents: i64,
    pub currency: String,
    pub starts_at: String,
    pub next_billing: String,
    pub reminder_date: Option<String>,
    pub ends_at: Option<String>,
    pub resumed_at: Option<String>,
    pub suspended_at: Option<String>,
    pub webhook_url: Option<String>,
    pub integration: i64,
    pub initial_transaction: i64,
    pub card_token_id: i64,
    pub deductions: i64,
    pub number_of_deductions: Option<i64>,
    pub failed_attempts: i64,
    pub created_at: String,
    pub updated_at: String,
    /// Billing email etc. for renewal orders.
    pub billing_data: serde_json::Map<String, Value>,
}

fn bad(field: &str, msg: impl Into<String>) -> PmError {
    PmError::fields(json!({ field: [msg.into()] }))
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

impl Services {
    fn plan_json(p: &PmPlan, d: &PlanDoc) -> Value {
        json!({"id": p.id, "frequency": d.frequency, "created_at": d.created_at, "updated_at": d.updated_at,
               "name": d.name, "reminder_days": d.reminder_days, "retrial_days": d.retrial_days,
               "plan_type": d.plan_type, "number_of_deductions": d.number_of_deductions,
               "amount_cents": d.amount_cents, "use_transaction_amount": d.use_transaction_amount,
               "is_active": d.is_active, "webhook_url": d.webhook_url, "integration": d.integration,
               "fee": null})
    }

    fn sub_json(s: &PmSubscription, d: &SubDoc) -> Value {
        json!({"id": s.id, "client_info": d.client_info, "frequency": d.frequency,
               "created_at": d.created_at, "updated_at": d.updated_at, "name": d.name,
               "reminder_days": d.reminder_days, "retrial_days": d.retrial_days, "plan_id": s.plan_id,
               "state": s.state, "amount_cents": d.amount_cents, "starts_at": d.starts_at,
               "next_billing": d.next_billing, "reminder_date": d.reminder_date, "ends_at": d.ends_at,
               "resumed_at": d.resumed_at, "suspended_at": d.suspended_at, "webhook_url": d.webhook_url,
               "integration": d.integration, "initial_transaction": d.initial_transaction})
    }

    async fn pm_plan_checked(
        &self,
        profile: &PmProfile,
        body: &Value,
        current: Option<&PlanDoc>,
    ) -> PmResult<PlanDoc> {
        let int = |k: &str| -> PmResult<Option<i64>> {
            match body.get(k).filter(|v| !v.is_null()) {
                None => Ok(None),
                Some(v) => kassa_paymob::lenient::int(v)
                    .map(Some)
                    .ok_or_else(|| bad(k, "A valid integer is required.")),
            }
        };
        let boolean = |k: &str| -> PmResult<Option<bool>> {
            match body.get(k).filter(|v| !v.is_null()) {
                None => Ok(None),
                Some(v) => kassa_paymob::lenient::boolean(v)
                    .map(Some)
                    .ok_or_else(|| bad(k, "Must be a valid boolean.")),
            }
        };
        let now = kassa_paymob::time::timestamp(now_ms(), country_of(profile));
        let frequency = match (int("frequency")?, current) {
            (Some(f), _) => f,
            (None, Some(c)) => c.frequency,
            (None, None) => return Err(bad("frequency", "This field is required.")),
        };
        if !SUBSCRIPTION_FREQUENCIES.contains(&frequency) {
            return Err(bad(
                "frequency",
                format!("\"{frequency}\" is not a valid choice."),
            ));
        }
        let name = match (body.get("name").and_then(Value::as_str), current) {
            (Some(n), _) => n.trim().to_string(),
            (None, Some(c)) => c.name.clone(),
            (None, None) => return Err(bad("name", "This field is required.")),
        };
        if name.is_empty() {
            return Err(bad("name", "This field may not be blank."));
        }
        if name.chars().count() > 200 {
            return Err(bad(
                "name",
                "Ensure this field has no more than 200 characters.",
            ));
        }
        let amount_cents = match (int("amount_cents")?, current) {
            (Some(a), _) => a,
            (None, Some(c)) => c.amount_cents,
            (None, None) => return Err(bad("amount_cents", "This field is required.")),
        };
        if amount_cents < 1 {
            return Err(bad(
                "amount_cents",
                "Ensure this value is greater than or equal to 1.",
            ));
        }
        let integration = match (int("integration")?, current) {
            (Some(i), _) => i,
            (None, Some(c)) => c.integration,
            (None, None) => return Err(bad("integration", "This field is required.")),
        };
        match self.pm_integration(integration).await? {
            Some(i) if i.profile_id == profile.id && i.doc.kind == IntegrationKind::Moto => {}
            Some(i) if i.profile_id == profile.id => {
                return Err(bad(
                    "integration",
                    "A subscription plan needs a MOTO integration.",
                ))
            }
            _ => return Err(bad("integration", "Invalid integration id.")),
        }
        let webhook_url = match body.get("webhook_url") {
            Some(Value::String(u)) if !u.is_empty() => {
                let u =
                    check_return_url(u).map_err(|_| bad("webhook_url", "Enter a valid URL."))?;
                self.pm_check_egress("webhook_url", Some(&u)).await?;
                Some(u)
            }
            Some(Value::String(_)) | Some(Value::Null) => None,
            Some(_) => return Err(bad("webhook_url", "Enter a valid URL.")),
            None => current.and_then(|c| c.webhook_url.clone()),
        };
        let days = |k: &str, cur: Option<i64>| -> PmResult<Option<i64>> {
            match int(k)? {
                Some(d) if !(0..=365).contains(&d) => Err(bad(k, "Give 0 to 365 days.")),
                Some(d) => Ok(Some(d)),
                None => Ok(cur),
            }
        };
        let number_of_deductions = match int("number_of_deductions")? {
            Some(n) if n < 1 => {
                return Err(bad(
                    "number_of_deductions",
                    "Ensure this value is greater than or equal to 1.",
                ))
            }
            Some(n) => Some(n),
            None => current.and_then(|c| c.number_of_deductions),
        };
        Ok(PlanDoc {
            frequency,
            name,
            reminder_days: days("reminder_days", current.and_then(|c| c.reminder_days))?,
            retrial_days: days("retrial_days", current.and_then(|c| c.retrial_days))?,
            plan_type: body
                .get("plan_type")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| current.map(|c| c.plan_type.clone()))
                .unwrap_or_else(|| "rent".into()),
            number_of_deductions,
            amount_cents,
            use_transaction_amount: boolean("use_transaction_amount")?
                .or(current.map(|c| c.use_transaction_amount))
                .unwrap_or(false),
            is_active: boolean("is_active")?
                .or(current.map(|c| c.is_active))
                .unwrap_or(true),
            integration,
            webhook_url,
            created_at: current
                .map(|c| c.created_at.clone())
                .unwrap_or_else(|| now.clone()),
            updated_at: now,
        })
    }

    /// `POST /api/acceptance/subscription-plans`.
    pub async fn pm_create_plan(&self, profile: &PmProfile, body: &Value) -> PmResult<Value> {
        let d = self.pm_plan_checked(profile, body, None).await?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let p = PmPlan {
            id: tx.pm_next_id("plan").await?,
            profile_id: profile.id,
            doc: to_text(&d),
            created_at: now,
            updated_at: now,
        };
        tx.insert_pm_plan(&p).await?;
        tx.commit().await?;
        Ok(Self::plan_json(&p, &d))
    }

    async fn pm_own_plan(&self, profile: &PmProfile, id: i64) -> PmResult<(PmPlan, PlanDoc)> {
        match self.store.pm_plan(id).await? {
            Some(p) if p.profile_id == profile.id => {
                let d = doc(&p.doc, "plan")?;
                Ok((p, d))
            }
            _ => Err(PmError::detail(404, "Not found.")),
        }
    }

    pub async fn pm_list_plans(&self, profile: &PmProfile) -> PmResult<Value> {
        let mut out = Vec::new();
        for p in self.store.pm_plans_of(profile.id).await? {
            let d: PlanDoc = doc(&p.doc, "plan")?;
            out.push(Self::plan_json(&p, &d));
        }
        Ok(json!({"count": out.len(), "next": null, "previous": null, "results": out}))
    }

    pub async fn pm_get_plan(&self, profile: &PmProfile, id: i64) -> PmResult<Value> {
        let (p, d) = self.pm_own_plan(profile, id).await?;
        Ok(Self::plan_json(&p, &d))
    }

    /// `PUT …/{id}` (any plan field) and `POST …/{id}/suspend|resume` (`is_active`).
    pub async fn pm_update_plan(
        &self,
        profile: &PmProfile,
        id: i64,
        body: &Value,
    ) -> PmResult<Value> {
        let (mut p, cur) = self.pm_own_plan(profile, id).await?;
        let d = self.pm_plan_checked(profile, body, Some(&cur)).await?;
        p.doc = to_text(&d);
        p.updated_at = now_ms();
        let mut tx = self.store.begin().await?;
        tx.update_pm_plan(&p).await?;
        tx.commit().await?;
        Ok(Self::plan_json(&p, &d))
    }

    /// An intention may name a plan of this profile that is active.
    pub(crate) async fn pm_check_plan_for_intention(
        &self,
        profile: &PmProfile,
        plan_id: i64,
    ) -> PmResult<()> {
        let (_, d) = self
            .pm_own_plan(profile, plan_id)
            .await
            .map_err(|_| bad("subscription_plan_id", "Invalid subscription plan."))?;
        if !d.is_active {
            return Err(bad(
                "subscription_plan_id",
                "This subscription plan is suspended.",
            ));
        }
        Ok(())
    }

    async fn pm_own_sub(&self, profile: &PmProfile, id: i64) -> PmResult<(PmSubscription, SubDoc)> {
        match self.store.pm_subscription(id).await? {
            Some(s) if s.profile_id == profile.id => {
                let d = doc(&s.doc, "subscription")?;
                Ok((s, d))
            }
            _ => Err(PmError::detail(404, "Not found.")),
        }
    }

    pub async fn pm_get_subscription(&self, profile: &PmProfile, id: i64) -> PmResult<Value> {
        let (s, d) = self.pm_own_sub(profile, id).await?;
        Ok(Self::sub_json(&s, &d))
    }

    pub async fn pm_list_subscriptions(&self, profile: &PmProfile) -> PmResult<Value> {
        let mut out = Vec::new();
        for s in self.store.pm_subscriptions_of(profile.id).await? {
            let d: SubDoc = doc(&s.doc, "subscription")?;
            out.push(Self::sub_json(&s, &d));
        }
        Ok(json!({"count": out.len(), "next": null, "previous": null, "results": out}))
    }

    /// The subscription's payments (first and renewals), newest first.
    pub async fn pm_subscription_transactions(
        &self,
        profile: &PmProfile,
        id: i64,
    ) -> PmResult<Value> {
        let (s, d) = self.pm_own_sub(profile, id).await?;
        let mut out = Vec::new();
        let mut ids: Vec<i64> = vec![d.initial_transaction];
        ids.extend(
            serde_json::from_str::<Value>(&s.doc)
                .ok()
                .and_then(|v| v["renewal_transactions"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(Value::as_i64),
        );
        for tid in ids.iter().rev() {
            if let Some(t) = self.store.pm_transaction(*tid).await? {
                out.push(doc::<Value>(&t.obj, "transaction")?);
            }
        }
        Ok(json!({"count": out.len(), "next": null, "previous": null, "results": out}))
    }

    /// `POST /api/acceptance/subscriptions/{id}/suspend|resume|cancel`, `PUT …/{id}`
    /// (`amount_cents`, `ends_at`, `next_billing`) and `register_webhook` (`url`).
    pub async fn pm_change_subscription(
        &self,
        profile: &PmProfile,
        id: i64,
        action: &str,
        body: &Value,
    ) -> PmResult<Value> {
        let (mut s, mut d) = self.pm_own_sub(profile, id).await?;
        let now = now_ms() + s.clock_offset_ms;
        let stamp = kassa_paymob::time::timestamp(now, country_of(profile));
        let (trigger, event) = match (action, s.state.as_str()) {
            (_, "canceled") => return Err(PmError::message(400, "This subscription is canceled.")),
            ("suspend", "active") => {
                s.state = "suspended".into();
                d.suspended_at = Some(stamp.clone());
                ("suspended", EventType::SubscriptionCanceled)
            }
            ("resume", "suspended") => {
                s.state = "active".into();
                d.resumed_at = Some(stamp.clone());
                d.failed_attempts = 0;
                let next = s.next_billing_at.unwrap_or(now).max(now);
                s.next_billing_at = Some(next);
                d.next_billing = date_of(next, profile);
                ("resumed", EventType::SubscriptionRenewed)
            }
            ("cancel", _) => {
                s.state = "canceled".into();
                s.next_billing_at = None;
                d.ends_at = Some(date_of(now, profile));
                ("canceled", EventType::SubscriptionCanceled)
            }
            ("update", _) => {
                if let Some(v) = body.get("amount_cents").filter(|v| !v.is_null()) {
                    d.amount_cents = kassa_paymob::lenient::int(v)
                        .filter(|a| *a >= 1)
                        .ok_or_else(|| bad("amount_cents", "A valid integer is required."))?;
                }
                if let Some(v) = body.get("next_billing").and_then(Value::as_str) {
                    let at = parse_date(v).ok_or_else(|| {
                        bad("next_billing", "Date has wrong format. Use YYYY-MM-DD.")
                    })?;
                    s.next_billing_at = Some(at);
                    d.next_billing = v.to_string();
                }
                if let Some(v) = body.get("ends_at").and_then(Value::as_str) {
                    parse_date(v)
                        .ok_or_else(|| bad("ends_at", "Date has wrong format. Use YYYY-MM-DD."))?;
                    d.ends_at = Some(v.to_string());
                }
                ("updated", EventType::SubscriptionRenewed)
            }
            ("register_webhook", _) => {
                let url = body
                    .get("url")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("url", "This field is required."))?;
                let url = check_return_url(url).map_err(|_| bad("url", "Enter a valid URL."))?;
                self.pm_check_egress("url", Some(&url)).await?;
                d.webhook_url = Some(url);
                ("updated", EventType::SubscriptionRenewed)
            }
            ("suspend" | "resume", state) => {
                return Err(PmError::message(
                    400,
                    format!("This subscription is {state}."),
                ))
            }
            _ => return Err(PmError::detail(404, "Not found.")),
        };
        d.updated_at = stamp;
        s.doc = to_text(&d);
        s.updated_at = now_ms();
        let mut tx = self.store.begin().await?;
        if !tx.update_pm_subscription(&mut s).await? {
            return Err(PmError::message(
                409,
                "The subscription changed meanwhile; retry.",
            ));
        }
        let body = Self::sub_json(&s, &d);
        self.pm_sub_event(&mut tx, profile, &s, &d, event, trigger, now_ms())
            .await?;
        tx.commit().await?;
        self.notifier.wake();
        Ok(body)
    }

    /// A native event for the subscription and its Paymob callback (HMAC in the body).
    #[allow(clippy::too_many_arguments)]
    async fn pm_sub_event(
        &self,
        tx: &mut Tx,
        profile: &PmProfile,
        s: &PmSubscription,
        d: &SubDoc,
        ty: EventType,
        trigger: &str,
        now: i64,
    ) -> crate::Result<()> {
        let data = Self::sub_json(s, d);
        let mut object = data.clone();
        object["object"] = json!("paymob_subscription");
        object["trigger_type"] = json!(trigger);
        let ev = self.new_event(&profile.merchant_id, ty, object, now);
        tx.insert_event(&ev, &format!("pms_{}", s.id)).await?;
        let Some(url) = d.webhook_url.as_deref() else {
            return Ok(());
        };
        let secret = self.pm_hmac_secret(profile)?;
        let body = json!({
            "paymob_request_id": kassa_paymob::keys::request_id(),
            "subscription_data": data,
            "trigger_type": trigger,
            "hmac": kassa_paymob::hmac::subscription_hmac(&secret, trigger, s.id),
        });
        tx.insert_post_delivery(
            &profile.merchant_id,
            super::pay::CHANNEL,
            &format!("pmp_{}", profile.id),
            &ev.id,
            url,
            &body.to_string(),
            now,
        )
        .await?;
        Ok(())
    }

    /// After a successful payment: start the intention's subscription, or move a renewed one on.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn pm_after_payment_success(
        &self,
        tx: &mut Tx,
        profile: &PmProfile,
        t: &PmTransaction,
        extra: &mut TxnExtra,
        obj: &Value,
        _event_id: &str,
        now: i64,
    ) -> crate::Result<()> {
        if let Some(sid) = extra.subscription_id {
            let Some(mut s) = tx.pm_subscription(sid).await? else {
                return Ok(());
            };
            let mut d: SubDoc = doc(&s.doc, "subscription")?;
            let clock = now + s.clock_offset_ms;
            d.deductions += 1;
            d.failed_attempts = 0;
            let next = s.next_billing_at.unwrap_or(clock) + d.frequency * DAY_MS;
            let done = d.number_of_deductions.is_some_and(|n| d.deductions >= n);
            if done {
                s.state = "canceled".into();
                s.next_billing_at = None;
                d.ends_at = Some(date_of(clock, profile));
            } else {
                s.next_billing_at = Some(next);
                d.next_billing = date_of(next, profile);
            }
            s.leased_until = None;
            d.updated_at = kassa_paymob::time::timestamp(clock, country_of(profile));
            let mut raw: Value = serde_json::to_value(&d).expect("doc");
            let mut renewals = serde_json::from_str::<Value>(&s.doc)
                .ok()
                .and_then(|v| v["renewal_transactions"].as_array().cloned())
                .unwrap_or_default();
            renewals.push(json!(t.id));
            raw["renewal_transactions"] = json!(renewals);
            s.doc = raw.to_string();
            s.updated_at = now;
            if !tx.update_pm_subscription(&mut s).await? {
                return Err(ServiceError::Conflict);
            }
            let (ty, trigger) = if done {
                (EventType::SubscriptionExpired, "canceled")
            } else {
                (EventType::SubscriptionRenewed, "successful_transaction")
            };
            return self
                .pm_sub_event(tx, profile, &s, &d, ty, trigger, now)
                .await;
        }
        let (Some(plan_id), Some(card_token_id)) =
            (extra.subscription_plan_id, extra.card_token_id)
        else {
            return Ok(());
        };
        let Some(plan) = self.store.pm_plan(plan_id).await? else {
            return Ok(());
        };
        let pd: PlanDoc = doc(&plan.doc, "plan")?;
        let start = extra
            .subscription_start_date
            .as_deref()
            .and_then(parse_date)
            .filter(|s| *s > now);
        let starts_at = start.unwrap_or(now);
        let next = match start {
            Some(s) => s,
            None => now + pd.frequency * DAY_MS,
        };
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
            amount_cents: if pd.use_transaction_amount {
                obj["amount_cents"].as_i64().unwrap_or(pd.amount_cents)
            } else {
                pd.amount_cents
            },
            currency: obj["currency"].as_str().unwrap_or("EGP").to_string(),
            starts_at: date_of(starts_at, profile),
            next_billing: date_of(next, profile),
            reminder_date: pd
                .reminder_days
                .map(|r| date_of(next - r * DAY_MS, profile)),
            ends_at: pd
                .number_of_deductions
                .map(|n| date_of(starts_at + n * pd.frequency * DAY_MS, profile)),
            resumed_at: None,
            suspended_at: None,
            webhook_url: pd.webhook_url.clone(),
            integration: pd.integration,
            initial_transaction: t.id,
            card_token_id,
            deductions: 0,
            number_of_deductions: pd.number_of_deductions,
            failed_attempts: 0,
            created_at: stamp.clone(),
            updated_at: stamp,
            billing_data: billing.clone(),
        };
        let id = tx.pm_next_id("subscription").await?;
        let s = PmSubscription {
            id,
            profile_id: profile.id,
            plan_id,
            state: "active".into(),
            next_billing_at: Some(next),
            leased_until: None,
            clock_offset_ms: 0,
            version: 0,
            doc: to_text(&d),
            created_at: now,
            updated_at: now,
        };
        tx.insert_pm_subscription(&s).await?;
        extra.subscription_id = Some(id);
        self.pm_sub_event(
            tx,
            profile,
            &s,
            &d,
            EventType::SubscriptionCreated,
            "created",
            now,
        )
        .await
    }

    /// After a failed renewal: retry tomorrow, or suspend once the retrial days are used up.
    pub(crate) async fn pm_after_payment_failure(
        &self,
        tx: &mut Tx,
        profile: &PmProfile,
        t: &PmTransaction,
        extra: &TxnExtra,
        _event_id: &str,
        now: i64,
    ) -> crate::Result<()> {
        let Some(sid) = extra.subscription_id else {
            return Ok(());
        };
        if t.parent_id.is_some() {
            return Ok(());
        }
        let Some(mut s) = tx.pm_subscription(sid).await? else {
            return Ok(());
        };
        let mut d: SubDoc = doc(&s.doc, "subscription")?;
        if d.initial_transaction == t.id {
            return Ok(());
        }
        let clock = now + s.clock_offset_ms;
        d.failed_attempts += 1;
        let allowed = d.retrial_days.unwrap_or(DEFAULT_RETRIAL_DAYS);
        let (ty, trigger) = if d.failed_attempts > allowed {
            s.state = "suspended".into();
            d.suspended_at = Some(kassa_paymob::time::timestamp(clock, country_of(profile)));
            (EventType::SubscriptionPaymentFailed, "suspended")
        } else {
            let retry = clock + DAY_MS;
            s.next_billing_at = Some(retry);
            d.next_billing = date_of(retry, profile);
            (EventType::SubscriptionPaymentFailed, "failed_transaction")
        };
        s.leased_until = None;
        d.updated_at = kassa_paymob::time::timestamp(clock, country_of(profile));
        let mut raw: Value = serde_json::to_value(&d).expect("doc");
        if let Some(r) = serde_json::from_str::<Value>(&s.doc)
            .ok()
            .map(|v| v["renewal_transactions"].clone())
        {
            raw["renewal_transactions"] = r;
        }
        s.doc = raw.to_string();
        s.updated_at = now;
        if !tx.update_pm_subscription(&mut s).await? {
            return Err(ServiceError::Conflict);
        }
        self.pm_sub_event(tx, profile, &s, &d, ty, trigger, now)
            .await
    }

    /// Moves a subscription's test clock forward (sandbox only: live profiles refuse).
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
        let mut tx = self.store.begin().await?;
        let Some(mut s) = tx.pm_subscription(id).await? else {
            return Err(PmError::detail(404, "Not found."));
        };
        s.clock_offset_ms += seconds * 1000;
        s.updated_at = now_ms();
        if !tx.update_pm_subscription(&mut s).await? {
            return Err(PmError::message(
                409,
                "The subscription changed meanwhile; retry.",
            ));
        }
        tx.commit().await?;
        let d: SubDoc = doc(&s.doc, "subscription")?;
        let mut out = Self::sub_json(&s, &d);
        out["clock"] = json!(kassa_paymob::time::timestamp(
            now_ms() + s.clock_offset_ms,
            country_of(&profile)
        ));
        Ok(out)
    }

    /// The scheduler's pass: charge due renewals (stale authorisations are the core's:
    /// [`Services::expire_authorizations`]).
    pub async fn pm_run_due(&self) -> crate::Result<usize> {
        let mut n = 0;
        for s in self.store.pm_due_subscriptions(now_ms(), 20).await? {
            match self.pm_renew(s).await {
                Ok(true) => n += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "paymob renewal failed"),
            }
        }
        Ok(n)
    }

    /// Charges one renewal on the saved card. `false` when another process got it first.
    async fn pm_renew(&self, s: PmSubscription) -> crate::Result<bool> {
        let now = now_ms();
        let Some(profile) = self.store.pm_profile(s.profile_id).await? else {
            return Ok(false);
        };
        let d: SubDoc = doc(&s.doc, "subscription")?;
        let Some(card) = self.store.pm_card_token(d.card_token_id).await? else {
            return Ok(false);
        };
        let Some(integration) = self.pm_integration(d.integration).await? else {
            return Ok(false);
        };
        let currency = Currency::parse(&d.currency)
            .map_err(|e| ServiceError::invalid("currency", e.to_string()))?;

        let mut tx = self.store.begin().await?;
        let Some(mut cur) = tx.pm_subscription(s.id).await? else {
            return Ok(false);
        };
        if cur.version != s.version || cur.state != "active" {
            return Ok(false);
        }
        // Only the renewal's own outcome sets the next billing again: no second charge meanwhile.
        cur.leased_until = Some(now + 10 * 60 * 1000);
        cur.next_billing_at = None;
        if !tx.update_pm_subscription(&mut cur).await? {
            return Ok(false);
        }
        let order_id = tx.pm_next_id("order").await?;
        let txn_id = tx.pm_next_id("transaction").await?;
        let od = OrderDoc {
            amount_cents: d.amount_cents,
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
        let mut metadata = Metadata::new();
        metadata.insert("paymob_order".into(), order_id.to_string());
        metadata.insert("paymob_transaction".into(), txn_id.to_string());
        metadata.insert("paymob_subscription".into(), s.id.to_string());
        let pi = self.build_intent(
            &profile.merchant_id,
            CreateIntentParams {
                amount: d.amount_cents,
                currency: Some(currency),
                description: Some(format!("{} (renewal)", d.name)),
                metadata,
                capture_method: Some(CaptureMethod::Automatic),
                capture_window_ms: Some(super::pay::AUTO_VOID_MS),
                ..Default::default()
            },
            now,
        )?;
        let claims = KeyClaims {
            user_id: profile.id,
            amount_cents: d.amount_cents,
            currency: d.currency.clone(),
            integration_id: integration.id,
            order_id,
            billing_data: d.billing_data.clone(),
            lock_order_when_paid: true,
            extra: json!({}),
            single_payment_attempt: true,
            next_payment_intention: None,
            exp: now / 1000,
            card_token_id: Some(card.id),
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
            subscription_id: Some(s.id),
            card_token_id: Some(card.id),
            ..Default::default()
        };
        tx.insert_intent(&pi).await?;
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
        self.emit(&mut tx, &pi, &[EventType::PaymentIntentCreated], now)
            .await?;
        tx.commit().await?;

        match self
            .confirm_with_stored_method(
                &profile.merchant_id,
                &pi.id,
                &card.processor_ref,
                Some(super::pay::stored_card_method(&card)?),
                None,
            )
            .await
        {
            Ok(_) | Err(ServiceError::Declined { .. }) => Ok(true),
            Err(e) => Err(e),
        }
    }
}
