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

use crate::calendar::{add_interval, IntervalUnit, DAY_MS};
use crate::events::EventType;
use crate::intent::Metadata;
use crate::money::Currency;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurring {
    pub interval: Interval,
    pub interval_count: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Day,
    Week,
    Month,
    Year,
}

impl Interval {
    fn unit(self) -> IntervalUnit {
        match self {
            Interval::Day => IntervalUnit::Day,
            Interval::Week => IntervalUnit::Week,
            Interval::Month => IntervalUnit::Month,
            Interval::Year => IntervalUnit::Year,
        }
    }
    /// Longest `interval_count` (as Stripe: at most three years).
    pub fn max_count(self) -> i64 {
        match self {
            Interval::Day => 1095,
            Interval::Week => 156,
            Interval::Month => 36,
            Interval::Year => 3,
        }
    }
}

/// One line of a subscription: a price (inline, with its product's name) times a quantity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// `si_…`
    pub id: String,
    pub product_name: String,
    pub currency: Currency,
    pub unit_amount: i64,
    pub recurring: Recurring,
    pub quantity: i64,
}

/// What happens when the last retry of a renewal fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FinalAction {
    /// The subscription is canceled.
    Cancel,
    /// The subscription becomes `unpaid` and bills nothing more.
    MarkUnpaid,
    /// The subscription stays `past_due` and renews at its next period.
    LeavePastDue,
}

/// When to retry a failed renewal (days after each failure) and what to do after the last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub retry_days: Vec<i64>,
    pub final_action: FinalAction,
}

impl Default for RetryPolicy {
    /// Three retries, 1, 3 and 5 days after each failure, then cancel.
    fn default() -> Self {
        RetryPolicy {
            retry_days: vec![1, 3, 5],
            final_action: FinalAction::Cancel,
        }
    }
}

impl RetryPolicy {
    pub fn check(&self) -> Result<(), String> {
        if self.retry_days.len() > MAX_RETRIES {
            return Err(format!(
                "retry_days may hold at most {MAX_RETRIES} retries."
            ));
        }
        if self
            .retry_days
            .iter()
            .any(|d| !(1..=MAX_RETRY_DELAY_DAYS).contains(d))
        {
            return Err(format!(
                "Each of retry_days must be 1 to {MAX_RETRY_DELAY_DAYS} days."
            ));
        }
        Ok(())
    }
}

/// Checks a subscription's items: 1 to [`MAX_ITEMS`], positive amounts and quantities, one
/// currency and one billing interval for all (one invoice per period). Returns the currency
/// and interval.
pub fn check_items(items: &[Item]) -> Result<(Currency, Recurring), (&'static str, String)> {
    let first = items.first().ok_or((
        "items",
        "A subscription needs at least one item.".to_string(),
    ))?;
    if items.len() > MAX_ITEMS {
        return Err((
            "items",
            format!("A subscription has at most {MAX_ITEMS} items."),
        ));
    }
    for it in items {
        if it.unit_amount < 0 || it.unit_amount > crate::money::MAX_AMOUNT {
            return Err((
                "unit_amount",
                "unit_amount must be 0 or more, in the currency's smallest unit.".into(),
            ));
        }
        if !(1..=10_000).contains(&it.quantity) {
            return Err(("quantity", "quantity must be 1 to 10000.".into()));
        }
        let r = it.recurring;
        if !(1..=r.interval.max_count()).contains(&r.interval_count) {
            return Err((
                "interval_count",
                format!(
                    "interval_count must be 1 to {} for this interval.",
                    r.interval.max_count()
                ),
            ));
        }
        if it.currency != first.currency {
            return Err(("currency", "Every item must have the same currency.".into()));
        }
        if it.recurring != first.recurring {
            return Err((
                "recurring",
                "Every item must bill on the same interval.".into(),
            ));
        }
        if it.product_name.trim().is_empty() || it.product_name.chars().count() > 250 {
            return Err((
                "name",
                "product_data.name must be 1 to 250 characters.".into(),
            ));
        }
    }
    let total = amount_of(items);
    if total.is_none_or(|t| t > crate::money::MAX_AMOUNT) {
        return Err((
            "items",
            "The items add up to more than one payment may be.".into(),
        ));
    }
    Ok((first.currency, first.recurring))
}

/// What the items bill each period (`None` on overflow).
pub fn amount_of(items: &[Item]) -> Option<i64> {
    items.iter().try_fold(0i64, |acc, it| {
        acc.checked_add(it.unit_amount.checked_mul(it.quantity)?)
    })
}

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

    /// Recomputes [`Subscription::next_action_at`] from the state.
    pub fn refresh_next_action(&mut self) {
        self.next_action_at = match self.status {
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
        };
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
        match self.retry_policy.retry_days.get(attempts.saturating_sub(1)) {
            Some(days) => {
                self.status = SubscriptionStatus::PastDue;
                self.retry_at = Some(now + days * DAY_MS);
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
    /// at the period's end); after it, a new period starts now and is billed at once.
    pub fn resume(&mut self, now: i64) -> Result<(), String> {
        if self.status != SubscriptionStatus::Paused {
            return Err(format!(
                "Only a paused subscription can be resumed; this one is {}.",
                self.status.as_str()
            ));
        }
        self.updated = now;
        if self.trial_end.is_some_and(|t| now < t) {
            self.status = SubscriptionStatus::Trialing;
        } else if now < self.current_period_end && self.cycle >= 0 {
            self.status = SubscriptionStatus::Active;
        } else {
            // A fresh anchor: the next `Bill` starts period 0 at `now`.
            self.status = SubscriptionStatus::Active;
            self.billing_cycle_anchor = now;
            self.cycle = -1;
            self.current_period_end = now;
        }
        self.refresh_next_action();
        Ok(())
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
            "canceled_at": self.canceled_at.map(s),
            "ended_at": self.ended_at.map(s),
            "latest_invoice": self.latest_invoice,
            "next_payment_attempt": self.retry_at.map(s),
            "retry_policy": {"retry_days": self.retry_policy.retry_days,
                             "final_action": self.retry_policy.final_action},
            "test_clock": self.test_clock,
            "metadata": self.metadata,
            "created": s(self.created),
            "livemode": false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::days_from_civil;

    fn at(y: i64, m: i64, d: i64) -> i64 {
        days_from_civil(y, m, d) * DAY_MS + 9 * 3_600_000
    }

    fn sub(interval: Interval, count: i64, policy: RetryPolicy) -> Subscription {
        let usd = Currency::parse("usd").unwrap();
        Subscription {
            id: "sub_1".into(),
            merchant_id: "acct_1".into(),
            customer: "cus_1".into(),
            test_clock: None,
            status: SubscriptionStatus::Incomplete,
            default_payment_method: Some("pm_1".into()),
            items: vec![Item {
                id: "si_1".into(),
                product_name: "Pro".into(),
                currency: usd,
                unit_amount: 1500,
                recurring: Recurring {
                    interval,
                    interval_count: count,
                },
                quantity: 2,
            }],
            currency: usd,
            billing_cycle_anchor: 0,
            cycle: -1,
            current_period_start: 0,
            current_period_end: 0,
            trial_start: None,
            trial_end: None,
            trial_will_end_sent: false,
            cancel_at_period_end: false,
            canceled_at: None,
            ended_at: None,
            latest_invoice: None,
            retry_at: None,
            retry_policy: policy,
            metadata: Metadata::new(),
            next_action_at: None,
            created: 0,
            updated: 0,
            version: 0,
        }
    }

    /// Runs every due step up to `until` as the scheduler would, paying each invoice when
    /// `pays(attempt)` says so; returns what happened, in order.
    fn run(s: &mut Subscription, until: i64, pays: impl Fn(usize) -> bool) -> Vec<(i64, String)> {
        let mut log = Vec::new();
        let mut attempts = 0;
        while let Some(t) = s.next_action_at.filter(|t| *t <= until) {
            let Some(due) = s.due(t) else { break };
            match due {
                Due::TrialWillEnd => {
                    s.trial_notice_sent(t);
                    log.push((t, "trial_will_end".into()));
                }
                Due::Bill(reason) => {
                    let (a, b) = s.begin_period();
                    attempts = 1;
                    log.push((t, format!("bill {} {a}..{b}", reason.as_str())));
                    if pays(attempts) {
                        s.invoice_paid(t);
                    } else {
                        s.invoice_failed(attempts, t);
                    }
                    log.push((t, s.status.as_str().into()));
                }
                Due::Retry => {
                    attempts += 1;
                    if pays(attempts) {
                        s.invoice_paid(t);
                    } else {
                        s.invoice_failed(attempts, t);
                    }
                    log.push((t, format!("retry {attempts} {}", s.status.as_str())));
                }
                Due::End => {
                    s.end(s.current_period_end, t);
                    log.push((t, "end".into()));
                }
                Due::Expire => {
                    s.expire(t);
                    log.push((t, "expired".into()));
                }
            }
        }
        log
    }

    #[test]
    fn monthly_periods_keep_their_day_of_the_month() {
        let mut s = sub(Interval::Month, 1, RetryPolicy::default());
        s.start(at(2027, 1, 31), None);
        assert_eq!(
            s.due(at(2027, 1, 31)),
            Some(Due::Bill(BillingReason::Create))
        );
        run(&mut s, at(2027, 5, 1), |_| true);
        // Jan 31, Feb 28, Mar 31, Apr 30: anchored, never drifting to the 28th.
        assert_eq!(s.cycle, 3);
        assert_eq!(
            (s.current_period_start, s.current_period_end),
            (at(2027, 4, 30), at(2027, 5, 31))
        );
        assert_eq!(s.status, SubscriptionStatus::Active);
    }

    #[test]
    fn a_trial_warns_three_days_ahead_then_bills() {
        let mut s = sub(Interval::Week, 2, RetryPolicy::default());
        let t0 = at(2027, 3, 1);
        s.start(t0, Some(7));
        assert_eq!(s.status, SubscriptionStatus::Trialing);
        assert_eq!(s.trial_end, Some(t0 + 7 * DAY_MS));
        let log = run(&mut s, t0 + 7 * DAY_MS, |_| true);
        assert_eq!(log[0], (t0 + 4 * DAY_MS, "trial_will_end".to_string()));
        assert_eq!(log[1].0, t0 + 7 * DAY_MS);
        assert!(log[1].1.starts_with("bill subscription_cycle"), "{log:?}");
        assert_eq!(s.status, SubscriptionStatus::Active);
        assert_eq!(s.current_period_end, t0 + 21 * DAY_MS);
        // A one-day trial: the notice is due at once.
        let mut short = sub(Interval::Day, 1, RetryPolicy::default());
        short.start(t0, Some(1));
        assert_eq!(short.due(t0), Some(Due::TrialWillEnd));
    }

    #[test]
    fn failed_renewals_retry_on_schedule_then_take_the_final_action() {
        for (action, end_status, events) in [
            (
                FinalAction::Cancel,
                SubscriptionStatus::Canceled,
                vec![EventType::CustomerSubscriptionDeleted],
            ),
            (
                FinalAction::MarkUnpaid,
                SubscriptionStatus::Unpaid,
                vec![EventType::CustomerSubscriptionUpdated],
            ),
            (
                FinalAction::LeavePastDue,
                SubscriptionStatus::PastDue,
                vec![],
            ),
        ] {
            let policy = RetryPolicy {
                retry_days: vec![1, 3],
                final_action: action,
            };
            let mut s = sub(Interval::Month, 1, policy);
            let t0 = at(2027, 1, 10);
            s.start(t0, None);
            run(&mut s, t0, |_| true);
            // The renewal on Feb 10 and both retries fail.
            let log = run(&mut s, at(2027, 2, 14) + 1, |_| false);
            let times: Vec<i64> = log.iter().map(|(t, _)| *t).collect();
            assert_eq!(
                times,
                [
                    at(2027, 2, 10),
                    at(2027, 2, 10),
                    at(2027, 2, 11),
                    at(2027, 2, 14)
                ],
                "{action:?} {log:?}"
            );
            assert_eq!(log[1].1, "past_due");
            assert_eq!(s.status, end_status, "{action:?}");
            assert_eq!(s.retry_at, None);
            // The final action's own events, when the last retry fails.
            let mut again = s.clone();
            if action == FinalAction::LeavePastDue {
                // It renews at its next period; a success makes it active again.
                assert_eq!(s.next_action_at, Some(at(2027, 3, 10)));
                run(&mut s, at(2027, 3, 10), |_| true);
                assert_eq!(s.status, SubscriptionStatus::Active);
            } else {
                assert_eq!(s.next_action_at, None, "{action:?}");
                again.status = SubscriptionStatus::PastDue;
                assert_eq!(again.invoice_failed(3, at(2027, 2, 14)), events);
            }
        }
    }

    #[test]
    fn a_retry_that_succeeds_brings_it_back_and_periods_continue() {
        let t0 = at(2027, 1, 10);
        let mut s = sub(Interval::Month, 1, RetryPolicy::default());
        s.start(t0, None);
        run(&mut s, t0, |_| true);
        let log = run(&mut s, at(2027, 3, 10), |attempt| attempt == 2);
        assert_eq!(log[1].1, "past_due");
        assert_eq!(log[2], (at(2027, 2, 11), "retry 2 active".to_string()));
        assert_eq!(
            s.current_period_end,
            at(2027, 4, 10),
            "the March renewal ran too"
        );
    }

    #[test]
    fn a_first_payment_that_fails_leaves_it_incomplete_until_it_expires() {
        let mut s = sub(Interval::Month, 1, RetryPolicy::default());
        let t0 = at(2027, 1, 10);
        s.start(t0, None);
        let log = run(&mut s, t0 + INCOMPLETE_EXPIRY_MS, |_| false);
        assert_eq!(
            log.last().unwrap(),
            &(t0 + INCOMPLETE_EXPIRY_MS, "expired".to_string())
        );
        assert_eq!(s.status, SubscriptionStatus::IncompleteExpired);
        assert_eq!(s.next_action_at, None);
    }

    #[test]
    fn cancel_at_period_end_ends_at_the_period_end_and_can_be_taken_back() {
        let mut s = sub(Interval::Month, 1, RetryPolicy::default());
        let t0 = at(2027, 1, 10);
        s.start(t0, None);
        run(&mut s, t0, |_| true);
        s.cancel(true, at(2027, 1, 20)).unwrap();
        assert_eq!(s.status, SubscriptionStatus::Active);
        let mut kept = s.clone();
        kept.keep(at(2027, 1, 21));
        assert_eq!(
            kept.due(at(2027, 2, 10)),
            Some(Due::Bill(BillingReason::Cycle))
        );
        assert_eq!(s.due(at(2027, 2, 10)), Some(Due::End));
        run(&mut s, at(2027, 3, 1), |_| true);
        assert_eq!(s.status, SubscriptionStatus::Canceled);
        assert_eq!(s.ended_at, Some(at(2027, 2, 10)));
        assert_eq!(s.canceled_at, Some(at(2027, 1, 20)));
        assert!(s.cancel(false, at(2027, 3, 1)).is_err(), "already over");
        // Cancelling now ends it now.
        let mut now = sub(Interval::Month, 1, RetryPolicy::default());
        now.start(t0, Some(10));
        assert_eq!(
            now.cancel(false, t0 + DAY_MS),
            Ok(vec![EventType::CustomerSubscriptionDeleted])
        );
        assert_eq!(now.next_action_at, None);
    }

    #[test]
    fn a_paused_subscription_bills_nothing_and_resumes_where_it_should() {
        let mut s = sub(Interval::Month, 1, RetryPolicy::default());
        let t0 = at(2027, 1, 10);
        s.start(t0, None);
        run(&mut s, t0, |_| true);
        s.pause(at(2027, 1, 15)).unwrap();
        assert_eq!(
            (s.status, s.next_action_at),
            (SubscriptionStatus::Paused, None)
        );
        assert!(s.pause(at(2027, 1, 16)).is_err());
        // Back within the period: it goes on as before.
        let mut early = s.clone();
        early.resume(at(2027, 1, 20)).unwrap();
        assert_eq!(early.next_action_at, Some(at(2027, 2, 10)));
        // Back after it: a new period starts now.
        s.resume(at(2027, 3, 5)).unwrap();
        assert_eq!(s.due(at(2027, 3, 5)), Some(Due::Bill(BillingReason::Cycle)));
        run(&mut s, at(2027, 3, 5), |_| true);
        assert_eq!(
            (s.current_period_start, s.current_period_end),
            (at(2027, 3, 5), at(2027, 4, 5))
        );
        assert!(s.resume(at(2027, 3, 6)).is_err());
    }

    #[test]
    fn items_share_a_currency_and_an_interval_and_add_up() {
        let s = sub(Interval::Month, 1, RetryPolicy::default());
        let one = s.items[0].clone();
        assert_eq!(amount_of(std::slice::from_ref(&one)), Some(3000));
        assert!(check_items(std::slice::from_ref(&one)).is_ok());
        assert_eq!(check_items(&[]).unwrap_err().0, "items");
        let mut eur = one.clone();
        eur.currency = Currency::parse("eur").unwrap();
        assert_eq!(check_items(&[one.clone(), eur]).unwrap_err().0, "currency");
        let mut weekly = one.clone();
        weekly.recurring.interval = Interval::Week;
        assert_eq!(
            check_items(&[one.clone(), weekly]).unwrap_err().0,
            "recurring"
        );
        let mut long = one.clone();
        long.recurring.interval_count = 37;
        assert_eq!(check_items(&[long]).unwrap_err().0, "interval_count");
        let mut none = one.clone();
        none.quantity = 0;
        assert_eq!(check_items(&[none]).unwrap_err().0, "quantity");
        let mut huge = one;
        huge.unit_amount = crate::money::MAX_AMOUNT;
        assert_eq!(check_items(&[huge.clone(), huge]).unwrap_err().0, "items");
        assert!(RetryPolicy::default().check().is_ok());
        for bad in [vec![0], vec![61], vec![1; 9]] {
            let p = RetryPolicy {
                retry_days: bad,
                final_action: FinalAction::Cancel,
            };
            assert!(p.check().is_err());
        }
    }

    #[test]
    fn a_payment_landing_after_a_cancel_or_pause_changes_nothing() {
        let mut s = sub(Interval::Month, 1, RetryPolicy::default());
        s.start(at(2027, 1, 10), None);
        s.begin_period();
        s.cancel(false, at(2027, 1, 10)).unwrap();
        assert!(s.invoice_paid(at(2027, 1, 10)).is_empty());
        assert_eq!(s.status, SubscriptionStatus::Canceled);
        let mut p = sub(Interval::Month, 1, RetryPolicy::default());
        p.start(at(2027, 1, 10), Some(5));
        p.pause(at(2027, 1, 11)).unwrap();
        assert!(p.invoice_failed(1, at(2027, 1, 11)).is_empty());
        assert_eq!(
            (p.status, p.next_action_at),
            (SubscriptionStatus::Paused, None)
        );
    }

    #[test]
    fn statuses_round_trip() {
        for st in SubscriptionStatus::ALL {
            assert_eq!(SubscriptionStatus::parse(st.as_str()), Some(st));
            assert_eq!(serde_json::to_value(st).unwrap(), st.as_str());
        }
    }
}
