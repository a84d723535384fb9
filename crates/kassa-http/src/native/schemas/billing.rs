//! Schemas of subscriptions, invoices and test clocks, pinned to the objects the core builds.
// The structs describe answers for the OpenAPI document; their fields are read only by the
// tests that pin them to the wire.
#![allow(dead_code)]

use kassa_core::intent::Metadata;
use kassa_core::invoice::InvoiceStatus;
use kassa_core::subscription::{FinalAction, Interval, SubscriptionStatus};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{CurrencyCode, ListObject};

/// A subscription: what it bills, when, and where it stands.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionObject {
    /// `sub_…`
    pub id: String,
    /// Always `subscription`.
    pub object: String,
    /// The customer billed (`cus_…`).
    pub customer: String,
    pub status: SubscriptionStatus,
    pub items: SubscriptionItemList,
    #[schema(value_type = CurrencyCode)]
    pub currency: String,
    /// The saved card (`pm_…`) every invoice is charged to.
    pub default_payment_method: Option<String>,
    /// Unix seconds periods are counted from (the trial's end, after a trial).
    pub billing_cycle_anchor: i64,
    /// Unix seconds.
    pub current_period_start: i64,
    /// Unix seconds: when it renews (or ends, with `cancel_at_period_end`).
    pub current_period_end: i64,
    pub trial_start: Option<i64>,
    pub trial_end: Option<i64>,
    pub cancel_at_period_end: bool,
    /// Unix seconds: when it ends by itself (a Paymob plan's number of deductions or
    /// `ends_at`); nothing is billed from then on.
    pub cancel_at: Option<i64>,
    /// When it was cancelled (now or for the period's end).
    pub canceled_at: Option<i64>,
    /// When it ended.
    pub ended_at: Option<i64>,
    /// The newest invoice (`in_…`).
    pub latest_invoice: Option<String>,
    /// When a failed invoice's payment is retried next (Unix seconds).
    pub next_payment_attempt: Option<i64>,
    pub retry_policy: RetryPolicyObject,
    /// The test clock whose time it lives at.
    pub test_clock: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Metadata,
    pub created: i64,
    /// True for live-mode data (made with a live key), false for test data.
    pub livemode: bool,
}

/// The items of a subscription.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionItemList {
    pub object: ListObject,
    pub data: Vec<SubscriptionItemObject>,
    pub has_more: bool,
    pub url: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionItemObject {
    /// `si_…`
    pub id: String,
    /// Always `subscription_item`.
    pub object: String,
    pub quantity: i64,
    pub price: PriceObject,
}

/// An inline price: per unit and period.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceObject {
    /// Always `price`.
    pub object: String,
    #[schema(value_type = CurrencyCode)]
    pub currency: String,
    pub unit_amount: i64,
    pub recurring: RecurringObject,
    pub product_data: ProductDataObject,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecurringObject {
    pub interval: Interval,
    pub interval_count: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductDataObject {
    pub name: String,
}

/// When a failed invoice is retried and what happens after the last retry.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicyObject {
    /// Days after each failure before the next try.
    pub retry_days: Vec<i64>,
    pub final_action: FinalAction,
    /// Seconds after each failure before the next try, for a subscription a Paymentwall link
    /// started (its project's `renewal_retry_seconds`); `retry_days` is then empty.
    pub retry_seconds: Option<Vec<i64>>,
}

/// A page of subscriptions, newest first.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionList {
    pub object: ListObject,
    pub url: String,
    pub has_more: bool,
    pub data: Vec<SubscriptionObject>,
}

/// What a subscription billed for one period.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceObject {
    /// `in_…`
    pub id: String,
    /// Always `invoice`.
    pub object: String,
    pub customer: String,
    pub subscription: String,
    pub status: InvoiceStatus,
    #[schema(value_type = CurrencyCode)]
    pub currency: String,
    pub amount_due: i64,
    pub amount_paid: i64,
    pub amount_remaining: i64,
    pub lines: InvoiceLineList,
    /// Unix seconds.
    pub period_start: i64,
    pub period_end: i64,
    /// `subscription_create` or `subscription_cycle`.
    pub billing_reason: String,
    /// Payment attempts so far (each a payment intent).
    pub attempt_count: i64,
    /// The payment intent of the latest attempt.
    pub payment_intent: Option<String>,
    pub created: i64,
    pub status_transitions: StatusTransitions,
    /// True for live-mode data (made with a live key), false for test data.
    pub livemode: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceLineList {
    pub object: ListObject,
    pub data: Vec<InvoiceLine>,
    pub has_more: bool,
    pub url: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceLine {
    /// Always `line_item`.
    pub object: String,
    /// The product, with the quantity when more than one.
    pub description: String,
    pub quantity: i64,
    pub unit_amount: i64,
    pub amount: i64,
    #[schema(value_type = CurrencyCode)]
    pub currency: String,
    pub period: LinePeriod,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinePeriod {
    pub start: i64,
    pub end: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusTransitions {
    /// When it was paid (Unix seconds).
    pub paid_at: Option<i64>,
}

/// A page of invoices, newest first.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceList {
    pub object: ListObject,
    pub url: String,
    pub has_more: bool,
    pub data: Vec<InvoiceObject>,
}

/// A test clock.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestClockObject {
    /// `clock_…`
    pub id: String,
    /// Always `test_helpers.test_clock`.
    pub object: String,
    pub name: Option<String>,
    /// The clock's time (Unix seconds).
    pub frozen_time: i64,
    /// Always `ready` once an advance has answered.
    pub status: String,
    pub created: i64,
    pub livemode: bool,
}

/// A page of test clocks, newest first.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestClockList {
    pub object: ListObject,
    pub url: String,
    pub has_more: bool,
    pub data: Vec<TestClockObject>,
}

/// What deleting a test clock answers.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletedTestClock {
    pub id: String,
    /// Always `test_helpers.test_clock`.
    pub object: String,
    /// Always true.
    pub deleted: bool,
}

#[cfg(test)]
mod tests {
    use super::super::tests::pinned;
    use super::*;
    use crate::native::list_body;
    use kassa_core::invoice::Invoice;
    use kassa_core::money::Currency;
    use kassa_core::subscription::{Item, Recurring, RetryPolicy, Subscription};
    use kassa_store::TestClock;

    /// The documented schemas are the objects the handlers answer (unknown fields refused).
    #[test]
    fn schemas_match_the_objects() {
        let usd = Currency::parse("usd").unwrap();
        let mut sub = Subscription {
            id: "sub_1".into(),
            merchant_id: "acct_1".into(),
            livemode: false,
            customer: "cus_1".into(),
            test_clock: Some("clock_1".into()),
            status: SubscriptionStatus::Incomplete,
            default_payment_method: Some("pm_1".into()),
            items: vec![Item {
                id: "si_1".into(),
                product_name: "Pro".into(),
                currency: usd,
                unit_amount: 1500,
                recurring: Recurring {
                    interval: Interval::Month,
                    interval_count: 1,
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
            cancel_at: None,
            canceled_at: None,
            ended_at: None,
            latest_invoice: None,
            retry_at: None,
            retry_policy: RetryPolicy::default(),
            metadata: Metadata::new(),
            next_action_at: None,
            created: 0,
            updated: 0,
            version: 0,
        };
        sub.start(1_700_000_000_000, Some(7));
        let o: SubscriptionObject = pinned(&sub.to_json());
        assert_eq!(o.status, SubscriptionStatus::Trialing);
        sub.begin_period();
        let mut inv = Invoice::for_period("in_1".into(), &sub, "subscription_cycle", 1);
        sub.latest_invoice = Some(inv.id.clone());
        sub.invoice_failed(1, 2);
        let o: SubscriptionObject = pinned(&sub.to_json());
        assert_eq!(o.items.data[0].price.unit_amount, 1500);
        let l: SubscriptionList = pinned(&list_body("/v1/subscriptions", vec![sub.to_json()], 10));
        assert_eq!(l.data.len(), 1);
        let i: InvoiceObject = pinned(&inv.to_json());
        assert_eq!(i.status, InvoiceStatus::Open);
        inv.paid(3);
        let i: InvoiceObject = pinned(&inv.to_json());
        assert_eq!(i.status_transitions.paid_at, Some(0));
        let l: InvoiceList = pinned(&list_body("/v1/invoices", vec![inv.to_json()], 10));
        assert_eq!(l.data[0].lines.data[0].amount, 3000);
        let clock = TestClock {
            id: "clock_1".into(),
            merchant_id: "acct_1".into(),
            livemode: false,
            name: None,
            frozen_time: 1_700_000_000_000,
            status: "ready".into(),
            created: 1,
        };
        let c: TestClockObject = pinned(&kassa_service::clock_json(&clock));
        assert_eq!(c.frozen_time, 1_700_000_000);
        let l: TestClockList = pinned(&list_body(
            "/v1/test_helpers/test_clocks",
            vec![kassa_service::clock_json(&clock)],
            10,
        ));
        assert_eq!(l.data.len(), 1);
        let d: DeletedTestClock = pinned(&kassa_service::deleted_clock_json("clock_1"));
        assert!(d.deleted);
    }
}
