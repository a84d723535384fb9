//! What a subscription bills: its items (an inline price times a quantity), their billing
//! interval and the policy for failed payments.

use serde::{Deserialize, Serialize};

use crate::calendar::{IntervalUnit, DAY_MS};
use crate::money::Currency;

use super::{MAX_ITEMS, MAX_RETRIES, MAX_RETRY_DELAY_DAYS};

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
    pub(super) fn unit(self) -> IntervalUnit {
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
    /// The subscription is paused (Paymob's `suspended`) until the merchant resumes it; its
    /// open invoice is then charged at once.
    Pause,
}

/// When to retry a failed renewal (days after each failure) and what to do after the last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub retry_days: Vec<i64>,
    pub final_action: FinalAction,
    /// A face's schedule in seconds instead of days (Paymentwall's `renewal_retry_seconds`);
    /// when set, it is the schedule and `retry_days` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_seconds: Option<Vec<i64>>,
}

impl Default for RetryPolicy {
    /// Three retries, 1, 3 and 5 days after each failure, then cancel.
    fn default() -> Self {
        RetryPolicy {
            retry_days: vec![1, 3, 5],
            final_action: FinalAction::Cancel,
            retry_seconds: None,
        }
    }
}

impl RetryPolicy {
    /// How long after failure `n` (0 is the first) the next try comes; `None` after the last.
    pub fn delay_ms(&self, n: usize) -> Option<i64> {
        match &self.retry_seconds {
            Some(secs) => secs.get(n).map(|s| s * 1000),
            None => self.retry_days.get(n).map(|d| d * DAY_MS),
        }
    }

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
