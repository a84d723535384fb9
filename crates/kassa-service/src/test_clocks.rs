//! Test clocks (`/v1/test_helpers/test_clocks`), as Stripe has them: a merchant creates a clock
//! frozen at a time, attaches new customers to it, and advances it; every renewal, retry, trial
//! notice, trial end and subscription end the clock passes runs in time order, as the
//! scheduler would have run it.

use crate::Billing;
use kassa_core::ids::{new_id, prefix};
use kassa_core::scope::Scope;
use kassa_store::{now_ms, TestClock};
use serde_json::{json, Value};

use crate::{Result, ServiceError};

/// Furthest a clock may be set from the wall clock, either way (ten years).
const MAX_OFFSET_MS: i64 = 10 * 366 * kassa_core::calendar::DAY_MS;
/// Most steps one advance runs, so a mistaken advance cannot run for ever.
const MAX_ADVANCE_STEPS: usize = 10_000;

/// What deleting a test clock answers.
pub fn deleted_clock_json(id: &str) -> Value {
    json!({"id": id, "object": "test_helpers.test_clock", "deleted": true})
}

pub fn clock_json(c: &TestClock) -> Value {
    json!({
        "id": c.id,
        "object": "test_helpers.test_clock",
        "name": c.name,
        "frozen_time": c.frozen_time / 1000,
        "status": c.status,
        "created": c.created / 1000,
        "livemode": false,
    })
}

fn check_time(frozen_time_s: i64) -> Result<i64> {
    frozen_time_s
        .checked_mul(1000)
        .filter(|ms| ms.abs_diff(now_ms()) <= MAX_OFFSET_MS.unsigned_abs())
        .ok_or_else(|| {
            ServiceError::invalid(
                "frozen_time",
                "frozen_time must be a Unix time in seconds within ten years of now.",
            )
        })
}

impl Billing<'_> {
    /// A new clock frozen at `frozen_time_s` (Unix seconds).
    pub async fn create_test_clock(
        &self,
        scope: &Scope,
        frozen_time_s: i64,
        name: Option<String>,
    ) -> Result<TestClock> {
        if scope.livemode {
            return Err(ServiceError::Invalid {
                param: None,
                message: "Test clocks exist only in test mode: use a test key (sk_test_…).".into(),
            });
        }
        let frozen_time = check_time(frozen_time_s)?;
        let name = name
            .map(|n| kassa_core::customer::text_field(&n, 300, "name"))
            .transpose()
            .map_err(|m| ServiceError::invalid("name", m))?
            .flatten();
        let clock = TestClock {
            id: new_id(prefix::TEST_CLOCK),
            merchant_id: scope.merchant_id.clone(),
            livemode: scope.livemode,
            name,
            frozen_time,
            status: "ready".into(),
            created: now_ms(),
        };
        let mut tx = self.store.begin().await?;
        tx.insert_test_clock(&clock).await?;
        tx.commit().await?;
        Ok(clock)
    }

    pub async fn test_clock(&self, scope: &Scope, id: &str) -> Result<TestClock> {
        self.store
            .test_clock(scope, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("test_clock", id))
    }

    pub async fn list_test_clocks(
        &self,
        scope: &Scope,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Option<Vec<TestClock>>> {
        Ok(self
            .store
            .list_test_clocks(scope, limit, starting_after)
            .await?)
    }

    /// Moves the clock forward to `to_s` (Unix seconds), running everything due on its
    /// customers' subscriptions on the way, each at its own time and in order.
    pub async fn advance_test_clock(
        &self,
        scope: &Scope,
        id: &str,
        to_s: i64,
    ) -> Result<TestClock> {
        let clock = self.test_clock(scope, id).await?;
        let to = check_time(to_s)?;
        if to <= clock.frozen_time {
            return Err(ServiceError::invalid(
                "frozen_time",
                "frozen_time must be later than the clock's current time.",
            ));
        }
        let mut steps = 0;
        loop {
            // The earliest thing due on the clock: a subscription's step or the end of a held
            // authorization's capture window (a subscription step first at the same instant).
            let sub = self.store.next_due_on_clock(id, to).await?;
            let auth = self
                .store
                .next_authorization_expiry_on_clock(id, to)
                .await?;
            if sub.is_none() && auth.is_none() {
                break;
            }
            if steps >= MAX_ADVANCE_STEPS {
                return Err(ServiceError::State(
                    "The advance ran too many steps; advance in smaller steps.".into(),
                ));
            }
            steps += 1;
            let sub_first = match (&sub, &auth) {
                (Some((_, _, s)), Some((_, _, a))) => s <= a,
                (sub, _) => sub.is_some(),
            };
            if let (true, Some((m, sub, at))) = (sub_first, sub) {
                if !self.step_subscription(&m, &sub, at).await? {
                    // Held by another process right now: try again after it lets go.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            } else if let Some((m, intent, _)) = auth {
                let reason = Some(kassa_core::intent::EXPIRED_AUTHORIZATION_REASON.to_string());
                self.payments()
                    .cancel_checked(&m, &intent, reason, None)
                    .await?;
            }
        }
        let mut tx = self.store.begin().await?;
        tx.set_test_clock(scope, id, "ready", "ready", to).await?;
        tx.commit().await?;
        self.test_clock(scope, id).await
    }

    /// The test clock subscription `sub_id` lives on. One on the wall clock is given a clock of
    /// its own, frozen at the present (a face's test clock for one subscription).
    pub(crate) async fn clock_of_subscription(
        &self,
        scope: &Scope,
        sub_id: &str,
        name: &str,
    ) -> Result<String> {
        let sub = self.subscription(scope, sub_id).await?;
        if let Some(c) = sub.test_clock {
            return Ok(c);
        }
        let clock = self
            .create_test_clock(scope, now_ms() / 1000, Some(name.to_string()))
            .await?;
        let mut tx = self.store.begin().await?;
        let mut cur = tx
            .subscription(scope, sub_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("subscription", sub_id))?;
        if cur.test_clock.is_some() {
            return Err(ServiceError::Conflict);
        }
        cur.test_clock = Some(clock.id.clone());
        tx.update_subscription(&mut cur, None).await?;
        tx.commit().await?;
        Ok(clock.id)
    }

    /// Deletes a clock whose subscriptions have all ended.
    pub async fn delete_test_clock(&self, scope: &Scope, id: &str) -> Result<Value> {
        self.test_clock(scope, id).await?;
        if self.store.next_due_on_clock(id, i64::MAX).await?.is_some() {
            return Err(ServiceError::State(
                "This test clock still has subscriptions running; cancel them first.".into(),
            ));
        }
        let mut tx = self.store.begin().await?;
        tx.delete_test_clock(scope, id).await?;
        tx.commit().await?;
        Ok(deleted_clock_json(id))
    }
}
