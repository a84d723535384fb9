//! Subscription plans: what a Paymob subscription bills (amount, frequency in days, retries,
//! number of deductions) on a MOTO integration, and which intentions may start one.

use crate::Paymob;
use kassa_store::{now_ms, PmPlan, PmProfile};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::accounts::country_of;
use super::{doc, to_text, IntegrationKind, PmError, PmResult};
use crate::check_return_url;

/// Billing frequencies a plan may have, in days.
pub const SUBSCRIPTION_FREQUENCIES: [i64; 8] = [7, 15, 30, 60, 90, 180, 360, 365];

pub(super) fn bad(field: &str, msg: impl Into<String>) -> PmError {
    PmError::fields(json!({ field: [msg.into()] }))
}

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

impl Paymob<'_> {
    pub(super) fn plan_json(p: &PmPlan, d: &PlanDoc) -> Value {
        json!({"id": p.id, "frequency": d.frequency, "created_at": d.created_at, "updated_at": d.updated_at,
               "name": d.name, "reminder_days": d.reminder_days, "retrial_days": d.retrial_days,
               "plan_type": d.plan_type, "number_of_deductions": d.number_of_deductions,
               "amount_cents": d.amount_cents, "use_transaction_amount": d.use_transaction_amount,
               "is_active": d.is_active, "webhook_url": d.webhook_url, "integration": d.integration,
               "fee": null})
    }

    async fn plan_checked(
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
        match self.integration(integration).await? {
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
    pub async fn create_plan(&self, profile: &PmProfile, body: &Value) -> PmResult<Value> {
        let d = self.plan_checked(profile, body, None).await?;
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

    pub(super) async fn own_plan(
        &self,
        profile: &PmProfile,
        id: i64,
    ) -> PmResult<(PmPlan, PlanDoc)> {
        match self.store.pm_plan(id).await? {
            Some(p) if p.profile_id == profile.id => {
                let d = doc(&p.doc, "plan")?;
                Ok((p, d))
            }
            _ => Err(PmError::detail(404, "Not found.")),
        }
    }

    pub async fn list_plans(&self, profile: &PmProfile) -> PmResult<Value> {
        let mut out = Vec::new();
        for p in self.store.pm_plans_of(profile.id).await? {
            let d: PlanDoc = doc(&p.doc, "plan")?;
            out.push(Self::plan_json(&p, &d));
        }
        Ok(json!({"count": out.len(), "next": null, "previous": null, "results": out}))
    }

    pub async fn get_plan(&self, profile: &PmProfile, id: i64) -> PmResult<Value> {
        let (p, d) = self.own_plan(profile, id).await?;
        Ok(Self::plan_json(&p, &d))
    }

    /// `PUT …/{id}` (any plan field) and `POST …/{id}/suspend|resume` (`is_active`).
    pub async fn update_plan(&self, profile: &PmProfile, id: i64, body: &Value) -> PmResult<Value> {
        let (mut p, cur) = self.own_plan(profile, id).await?;
        let d = self.plan_checked(profile, body, Some(&cur)).await?;
        p.doc = to_text(&d);
        p.updated_at = now_ms();
        let mut tx = self.store.begin().await?;
        tx.update_pm_plan(&p).await?;
        tx.commit().await?;
        Ok(Self::plan_json(&p, &d))
    }

    /// An intention may name a plan of this profile that is active.
    pub(crate) async fn check_plan_for_intention(
        &self,
        profile: &PmProfile,
        plan_id: i64,
    ) -> PmResult<()> {
        let (_, d) = self
            .own_plan(profile, plan_id)
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
}
