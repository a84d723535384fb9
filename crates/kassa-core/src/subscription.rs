//! Subscriptions: one engine for every face. A subscription bills its customer once per period
//! (an invoice, paid by an off-session charge of a saved card), may start with a trial, retries a
//! failed payment on its own schedule and then takes its final action, and ends at a period's end
//! or at once when cancelled. Shaped like Stripe's subscription object.
//!
//! Everything here is pure: the scheduler asks [`Subscription::due`] what the subscription must
//! do at a given time, does it (writing the invoice and charging the card), and tells the
//! subscription how the payment went with [`Subscription::invoice_paid`] and
//! [`Subscription::invoice_failed`]. Times are Unix milliseconds: wall-clock time, or a test
//! clock's frozen time for a customer attached to one.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::calendar::{add_interval, DAY_MS};
use crate::events::EventType;
use crate::intent::Metadata;
use crate::money::Currency;

mod items;
pub use items::{amount_of, check_items, FinalAction, Interval, Item, Recurring, RetryPolicy};

/// How long before a trial ends `customer.subscription.trial_will_end` is sent (as Stripe: 3 days).
pub const TRIAL_WILL_END_NOTICE_MS: i64 = 3 * DAY_MS;
/// How long a subscription whose first payment failed waits to be paid before it expires.
pub const INCOMPLETE_EXPIRY_MS: i64 = 23 * 3_600_000;
/// Longest trial (Stripe's limit: two years).
pub const MAX_TRIAL_DAYS: i64 = 730;
/// Most items on one subscription.
pub const MAX_ITEMS: usize = 20;
/// Most retries a policy may schedule, and the longest wait before one (days).
pub const MAX_RETRIES: usize = 8;
pub const MAX_RETRY_DELAY_DAYS: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// The first payment failed; the subscription expires unless it is paid.
    Incomplete,
    /// The first payment was never made.
    IncompleteExpired,
    Trialing,
    Active,
    /// A renewal failed; retries are scheduled (or exhausted, with `leave_past_due`).
    PastDue,
    /// Retries are exhausted (final action `mark_unpaid`): nothing is billed any more.
    Unpaid,
    /// Paused by the merchant: nothing is billed until it resumes.
    Paused,
    Canceled,
}

impl SubscriptionStatus {
    pub const ALL: [SubscriptionStatus; 8] = [
        SubscriptionStatus::Incomplete,
        SubscriptionStatus::IncompleteExpired,
        SubscriptionStatus::Trialing,
        SubscriptionStatus::Active,
        SubscriptionStatus::PastDue,
        SubscriptionStatus::Unpaid,
        SubscriptionStatus::Paused,
        SubscriptionStatus::Canceled,
    ];
    pub fn as_str(&self) -> &'static str {
        match self {
            SubscriptionStatus::Incomplete => "incomplete",
            SubscriptionStatus::IncompleteExpired => "incomplete_expired",
            SubscriptionStatus::Trialing => "trialing",
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::PastDue => "past_due",
            SubscriptionStatus::Unpaid => "unpaid",
            SubscriptionStatus::Paused => "paused",
            SubscriptionStatus::Canceled => "canceled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
    /// Ended for good: nothing more happens to it.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired
        )
    }
}

/// A billing interval: `count` days, weeks, months or years.
/// Why a subscription starts a new period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingReason {
    /// The first period of a subscription without a trial.
    Create,
    /// A renewal, or the first paid period after a trial.
    Cycle,
}

impl BillingReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            BillingReason::Create => "subscription_create",
            BillingReason::Cycle => "subscription_cycle",
        }
    }
}

/// What a subscription must do at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Tell the merchant the trial ends in three days.
    TrialWillEnd,
    /// Start the next period: invoice it and charge the card.
    Bill(BillingReason),
    /// Retry the latest invoice's payment.
    Retry,
    /// The period ended with `cancel_at_period_end`: the subscription ends.
    End,
    /// The first payment never came: the subscription expires.
    Expire,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: String,
    pub merchant_id: String,
    /// `true` for live-mode data (see [`crate::scope`]).
    pub livemode: bool,
    pub customer: String,
    pub test_clock: Option<String>,
    pub status: SubscriptionStatus,
    pub default_payment_method: Option<String>,
    pub items: Vec<Item>,
    pub currency: Currency,
    /// Periods are counted from this time, so monthly billing keeps its day of the month.
    pub billing_cycle_anchor: i64,
    /// Periods begun since the anchor.
    pub cycle: i64,
    pub current_period_start: i64,
    pub current_period_end: i64,
    pub trial_start: Option<i64>,
    pub trial_end: Option<i64>,
    pub trial_will_end_sent: bool,
    pub cancel_at_period_end: bool,
    /// When the subscription ends by itself (a fixed number of payments, or a date the merchant
    /// set): nothing is billed from then on.
    pub cancel_at: Option<i64>,
    pub canceled_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub latest_invoice: Option<String>,
    /// When to retry the latest invoice's payment.
    pub retry_at: Option<i64>,
    pub retry_policy: RetryPolicy,
    pub metadata: Metadata,
    /// When [`Subscription::due`] next has something to do (what the scheduler looks for).
    pub next_action_at: Option<i64>,
    pub created: i64,
    pub updated: i64,
    pub version: i64,
}

impl Subscription {
    fn interval(&self) -> Recurring {
        self.items[0].recurring
    }

    /// The end of period `cycle` (0 is the first) counted from the anchor.
    fn period_end(&self, cycle: i64) -> i64 {
        let r = self.interval();
        add_interval(
            self.billing_cycle_anchor,
            r.interval.unit(),
            r.interval_count * (cycle + 1),
        )
    }

    /// A new subscription at `now`: trialing until `trial_days` have passed, else about to bill
    /// its first period (the caller then charges it).
    pub fn start(&mut self, now: i64, trial_days: Option<i64>) {
        self.created = now;
        self.updated = now;
        match trial_days {
            Some(days) if days > 0 => {
                let end = now + days * DAY_MS;
                self.status = SubscriptionStatus::Trialing;
                self.trial_start = Some(now);
                self.trial_end = Some(end);
                self.current_period_start = now;
                self.current_period_end = end;
                self.billing_cycle_anchor = end;
                self.cycle = -1;
            }
            _ => {
                self.status = SubscriptionStatus::Incomplete;
                self.billing_cycle_anchor = now;
                self.cycle = -1;
                self.current_period_start = now;
                self.current_period_end = now;
            }
        }
        self.refresh_next_action();
    }

    /// What is due at `now`, if anything.
    pub fn due(&self, now: i64) -> Option<Due> {
        let at = self.next_action_at?;
        if at > now {
            return None;
        }
        if self.cancel_at.is_some_and(|c| now >= c) && self.runs() {
            return Some(Due::End);
        }
        if self.retry_at.is_some() && self.runs() {
            // A retry (past due), or the check of a charge whose outcome is not known yet.
            return Some(Due::Retry);
        }
        Some(match self.status {
            SubscriptionStatus::Trialing => {
                let end = self.trial_end.unwrap_or(self.current_period_end);
                if now >= end {
                    if self.cancel_at_period_end {
                        Due::End
                    } else {
                        Due::Bill(BillingReason::Cycle)
                    }
                } else {
                    Due::TrialWillEnd
                }
            }
            SubscriptionStatus::Incomplete if self.cycle < 0 => Due::Bill(BillingReason::Create),
            SubscriptionStatus::Incomplete => Due::Expire,
            SubscriptionStatus::PastDue if self.retry_at.is_some() => Due::Retry,
            SubscriptionStatus::Active | SubscriptionStatus::PastDue => {
                if self.cancel_at_period_end {
                    Due::End
                } else {
                    Due::Bill(BillingReason::Cycle)
                }
            }
            _ => return None,
        })
    }

    /// Whether the subscription is running (it bills, retries or ends by itself).
    fn runs(&self) -> bool {
        matches!(
            self.status,
            SubscriptionStatus::Trialing
                | SubscriptionStatus::Active
                | SubscriptionStatus::PastDue
                | SubscriptionStatus::Incomplete
        )
    }

    /// When a subscription that is due to end ([`Due::End`]) ends: at its `cancel_at` if that
    /// came first, else at its period's end.
    pub fn end_time(&self) -> i64 {
        match self.cancel_at {
            Some(c) if c < self.current_period_end => c,
            _ => self.current_period_end,
        }
    }

    /// Recomputes [`Subscription::next_action_at`] from the state.
    pub fn refresh_next_action(&mut self) {
        let next = self.next_step_at();
        self.next_action_at = match (next, self.cancel_at) {
            (Some(n), Some(c)) if self.runs() => Some(n.min(c)),
            (n, _) => n,
        };
    }

    fn next_step_at(&self) -> Option<i64> {
        match self.status {
            SubscriptionStatus::Trialing => {
                let end = self.trial_end.unwrap_or(self.current_period_end);
                let notice = end - TRIAL_WILL_END_NOTICE_MS;
                Some(if self.trial_will_end_sent || self.cancel_at_period_end {
                    end
                } else {
                    notice.max(self.trial_start.unwrap_or(notice)).min(end)
                })
            }
            // Not yet billed: at once; billed and failed: when it expires.
            SubscriptionStatus::Incomplete if self.cycle < 0 => Some(self.created),
            SubscriptionStatus::Incomplete => Some(self.created + INCOMPLETE_EXPIRY_MS),
            SubscriptionStatus::PastDue => Some(self.retry_at.unwrap_or(self.current_period_end)),
            SubscriptionStatus::Active => Some(self.current_period_end),
            _ => None,
        }
        .map(|at| match self.retry_at {
            Some(r) if self.runs() => at.min(r),
            _ => at,
        })
    }

    /// The latest invoice's charge has no known outcome yet (the processor's answer was lost):
    /// nothing changes but a check at `at`, which asks again under the same charge.
    pub fn charge_pending(&mut self, at: i64, now: i64) {
        if !self.runs() {
            return;
        }
        self.retry_at = Some(at);
        self.updated = now;
        self.refresh_next_action();
    }

    /// The trial-will-end notice was sent.
    pub fn trial_notice_sent(&mut self, now: i64) {
        self.trial_will_end_sent = true;
        self.updated = now;
        self.refresh_next_action();
    }

    /// Moves to the next period (the caller invoices it); returns its (start, end).
    pub fn begin_period(&mut self) -> (i64, i64) {
        self.cycle += 1;
        let start = if self.cycle == 0 {
            self.billing_cycle_anchor
        } else {
            self.period_end(self.cycle - 1)
        };
        self.current_period_start = start;
        self.current_period_end = self.period_end(self.cycle);
        self.retry_at = None;
        (self.current_period_start, self.current_period_end)
    }

    /// The latest invoice was paid: the subscription is (again) active, unless it was paused or
    /// ended meanwhile.
    pub fn invoice_paid(&mut self, now: i64) -> Vec<EventType> {
        let was = self.status;
        if was.is_final() || was == SubscriptionStatus::Paused {
            return Vec::new();
        }
        self.status = SubscriptionStatus::Active;
        self.retry_at = None;
        self.updated = now;
        self.refresh_next_action();
        if was == SubscriptionStatus::Active {
            Vec::new()
        } else {
            vec![EventType::CustomerSubscriptionUpdated]
        }
    }

    /// A payment of the latest invoice failed, after `attempts` attempts in all. Schedules the
    /// next retry, or takes the final action when the policy has no retry left. A first
    /// payment that fails leaves the subscription `incomplete` (no retries: the customer must
    /// pay it within [`INCOMPLETE_EXPIRY_MS`]).
    pub fn invoice_failed(&mut self, attempts: usize, now: i64) -> Vec<EventType> {
        let was = self.status;
        if was.is_final() || was == SubscriptionStatus::Paused {
            return Vec::new();
        }
        self.updated = now;
        if self.status == SubscriptionStatus::Incomplete {
            self.retry_at = None;
            self.refresh_next_action();
            return Vec::new();
        }
        match self.retry_policy.delay_ms(attempts.saturating_sub(1)) {
            Some(delay) => {
                self.status = SubscriptionStatus::PastDue;
                self.retry_at = Some(now + delay);
            }
            None => {
                self.retry_at = None;
                match self.retry_policy.final_action {
                    FinalAction::Cancel => {
                        self.end(now, now);
                        return vec![EventType::CustomerSubscriptionDeleted];
                    }
                    FinalAction::MarkUnpaid => self.status = SubscriptionStatus::Unpaid,
                    FinalAction::LeavePastDue => self.status = SubscriptionStatus::PastDue,
                    FinalAction::Pause => self.status = SubscriptionStatus::Paused,
                }
            }
        }
        self.refresh_next_action();
        if self.status == was {
            Vec::new()
        } else {
            vec![EventType::CustomerSubscriptionUpdated]
        }
    }

    /// Ends the subscription at `at` (now, or its period's end), cancelled at `now`.
    pub fn end(&mut self, at: i64, now: i64) {
        self.status = SubscriptionStatus::Canceled;
        self.canceled_at.get_or_insert(now);
        self.ended_at = Some(at);
        self.retry_at = None;
        self.updated = now;
        self.refresh_next_action();
    }

    /// The first payment never came.
    pub fn expire(&mut self, now: i64) {
        self.status = SubscriptionStatus::IncompleteExpired;
        self.ended_at = Some(now);
        self.updated = now;
        self.refresh_next_action();
    }

    /// Paused: nothing is billed and nothing retried until it resumes.
    pub fn pause(&mut self, now: i64) -> Result<(), String> {
        if !matches!(
            self.status,
            SubscriptionStatus::Active | SubscriptionStatus::PastDue | SubscriptionStatus::Trialing
        ) {
            return Err(format!(
                "A {} subscription cannot be paused.",
                self.status.as_str()
            ));
        }
        self.status = SubscriptionStatus::Paused;
        self.retry_at = None;
        self.updated = now;
        self.refresh_next_action();
        Ok(())
    }

    /// Resumes a paused subscription: within its current period it goes on as it was (billing
    /// at the period's end); after it, a new period starts now and is billed at once. With an
    /// `open_invoice` (a payment that failed before the pause) inside the period, that invoice
    /// is retried now; if that retry fails, the final action applies again.
    pub fn resume(&mut self, now: i64, open_invoice: bool) -> Result<(), String> {
        if self.status != SubscriptionStatus::Paused {
            return Err(format!(
                "Only a paused subscription can be resumed; this one is {}.",
                self.status.as_str()
            ));
        }
        self.updated = now;
        if self.trial_end.is_some_and(|t| now < t) {
            self.status = SubscriptionStatus::Trialing;
        } else if now < self.current_period_end {
            if open_invoice {
                self.status = SubscriptionStatus::PastDue;
                self.retry_at = Some(now);
            } else {
                self.status = SubscriptionStatus::Active;
            }
        } else {
            self.status = SubscriptionStatus::Active;
            self.reanchor(now);
        }
        self.refresh_next_action();
        Ok(())
    }

    /// The next `Bill` starts period 0 of a fresh anchor at `at`.
    fn reanchor(&mut self, at: i64) {
        self.billing_cycle_anchor = at;
        self.cycle = -1;
        self.current_period_end = at;
        self.retry_at = None;
    }

    /// Moves the next renewal to `at` (a merchant's change of the billing date): periods are
    /// counted from there on. A retry pending is dropped: the new date bills afresh.
    pub fn set_next_billing(&mut self, at: i64, now: i64) -> Result<(), String> {
        if !matches!(
            self.status,
            SubscriptionStatus::Active | SubscriptionStatus::PastDue | SubscriptionStatus::Paused
        ) {
            return Err(format!(
                "The billing date of a {} subscription cannot change.",
                self.status.as_str()
            ));
        }
        if at <= now {
            return Err("The next billing date must be in the future.".into());
        }
        self.reanchor(at);
        if self.status == SubscriptionStatus::PastDue {
            self.status = SubscriptionStatus::Active;
        }
        self.updated = now;
        self.refresh_next_action();
        Ok(())
    }

    /// A subscription whose first period was paid when it was made (a face whose first
    /// payment comes before the subscription): active now, next billed at `next_billing`.
    pub fn start_paid(&mut self, now: i64, next_billing: i64) {
        self.created = now;
        self.updated = now;
        self.status = SubscriptionStatus::Active;
        self.current_period_start = now;
        self.reanchor(next_billing.max(now));
        self.refresh_next_action();
    }

    /// Cancels now, or at the current period's end.
    pub fn cancel(&mut self, at_period_end: bool, now: i64) -> Result<Vec<EventType>, String> {
        if self.status.is_final() {
            return Err(format!(
                "This subscription is already {}.",
                self.status.as_str()
            ));
        }
        if at_period_end {
            self.cancel_at_period_end = true;
            self.canceled_at = Some(now);
            self.updated = now;
            self.refresh_next_action();
            Ok(vec![EventType::CustomerSubscriptionUpdated])
        } else {
            self.end(now, now);
            Ok(vec![EventType::CustomerSubscriptionDeleted])
        }
    }

    /// Takes back a cancellation at the period's end.
    pub fn keep(&mut self, now: i64) {
        self.cancel_at_period_end = false;
        self.canceled_at = None;
        self.updated = now;
        self.refresh_next_action();
    }

    /// The native API representation (Stripe-shaped).
    pub fn to_json(&self) -> Value {
        let s = |t: i64| t / 1000;
        let items: Vec<Value> = self
            .items
            .iter()
            .map(|it| {
                json!({
                    "id": it.id,
                    "object": "subscription_item",
                    "quantity": it.quantity,
                    "price": {
                        "object": "price",
                        "currency": it.currency,
                        "unit_amount": it.unit_amount,
                        "recurring": {"interval": it.recurring.interval,
                                      "interval_count": it.recurring.interval_count},
                        "product_data": {"name": it.product_name},
                    },
                })
            })
            .collect();
        json!({
            "id": self.id,
            "object": "subscription",
            "customer": self.customer,
            "status": self.status,
            "items": {"object": "list", "data": items, "has_more": false,
                      "url": format!("/v1/subscriptions/{}", self.id)},
            "currency": self.currency,
            "default_payment_method": self.default_payment_method,
            "billing_cycle_anchor": s(self.billing_cycle_anchor),
            "current_period_start": s(self.current_period_start),
            "current_period_end": s(self.current_period_end),
            "trial_start": self.trial_start.map(s),
            "trial_end": self.trial_end.map(s),
            "cancel_at_period_end": self.cancel_at_period_end,
            "cancel_at": self.cancel_at.map(s),
            "canceled_at": self.canceled_at.map(s),
            "ended_at": self.ended_at.map(s),
            "latest_invoice": self.latest_invoice,
            "next_payment_attempt": self.retry_at.map(s),
            "retry_policy": serde_json::to_value(&self.retry_policy).unwrap_or_default(),
            "test_clock": self.test_clock,
            "metadata": self.metadata,
            "created": s(self.created),
            "livemode": self.livemode,
        })
    }
}

impl Subscription {
    /// The merchant and mode this object belongs to.
    pub fn scope(&self) -> crate::scope::Scope {
        crate::scope::Scope {
            merchant_id: self.merchant_id.clone(),
            livemode: self.livemode,
        }
    }
}

#[cfg(test)]
mod tests;
