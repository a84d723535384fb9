//! Invoices: what a subscription bills for one period, paid by an off-session payment intent
//! (one per attempt). Shaped like Stripe's invoice object.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::money::Currency;
use crate::subscription::{Item, Subscription};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Waiting for its payment (retries may be scheduled).
    Open,
    Paid,
    /// Will never be paid: its subscription ended or expired first.
    Void,
    /// Retries are exhausted and the subscription was marked unpaid.
    Uncollectible,
}

impl InvoiceStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            InvoiceStatus::Open => "open",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Void => "void",
            InvoiceStatus::Uncollectible => "uncollectible",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            InvoiceStatus::Open,
            InvoiceStatus::Paid,
            InvoiceStatus::Void,
            InvoiceStatus::Uncollectible,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// One line: an item of the subscription for the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub description: String,
    pub quantity: i64,
    pub unit_amount: i64,
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub id: String,
    pub merchant_id: String,
    /// `true` for live-mode data (see [`crate::scope`]).
    pub livemode: bool,
    pub customer: String,
    pub subscription: String,
    pub status: InvoiceStatus,
    pub currency: Currency,
    pub amount_due: i64,
    pub amount_paid: i64,
    pub lines: Vec<Line>,
    pub period_start: i64,
    pub period_end: i64,
    /// `subscription_create` or `subscription_cycle`.
    pub billing_reason: String,
    pub attempt_count: i64,
    /// The payment intent of the latest attempt.
    pub payment_intent: Option<String>,
    pub created: i64,
    pub paid_at: Option<i64>,
    pub updated: i64,
}

impl Invoice {
    /// The invoice of the subscription's current period (after
    /// [`Subscription::begin_period`]).
    pub fn for_period(id: String, sub: &Subscription, reason: &str, now: i64) -> Invoice {
        let lines: Vec<Line> = sub.items.iter().map(line).collect();
        let amount = lines.iter().map(|l| l.amount).sum();
        Invoice {
            id,
            merchant_id: sub.merchant_id.clone(),
            livemode: sub.livemode,
            customer: sub.customer.clone(),
            subscription: sub.id.clone(),
            status: InvoiceStatus::Open,
            currency: sub.currency,
            amount_due: amount,
            amount_paid: 0,
            lines,
            period_start: sub.current_period_start,
            period_end: sub.current_period_end,
            billing_reason: reason.to_string(),
            attempt_count: 0,
            payment_intent: None,
            created: now,
            paid_at: None,
            updated: now,
        }
    }

    /// What the invoice's payment intents say about it.
    pub fn description(&self) -> String {
        let names: Vec<&str> = self.lines.iter().map(|l| l.description.as_str()).collect();
        format!("Invoice {} ({})", self.id, names.join(", "))
    }

    pub fn paid(&mut self, now: i64) {
        self.status = InvoiceStatus::Paid;
        self.amount_paid = self.amount_due;
        self.paid_at = Some(now);
        self.updated = now;
    }

    /// Closes an invoice that will never be paid: `uncollectible` when its subscription is
    /// marked unpaid, else `void`.
    pub fn close(&mut self, uncollectible: bool, now: i64) {
        if self.status == InvoiceStatus::Open {
            self.status = if uncollectible {
                InvoiceStatus::Uncollectible
            } else {
                InvoiceStatus::Void
            };
            self.updated = now;
        }
    }

    /// The native API representation (Stripe-shaped).
    pub fn to_json(&self) -> Value {
        let lines: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                json!({"object": "line_item", "description": l.description, "quantity": l.quantity,
                       "unit_amount": l.unit_amount, "amount": l.amount, "currency": self.currency,
                       "period": {"start": self.period_start / 1000, "end": self.period_end / 1000}})
            })
            .collect();
        json!({
            "id": self.id,
            "object": "invoice",
            "customer": self.customer,
            "subscription": self.subscription,
            "status": self.status,
            "currency": self.currency,
            "amount_due": self.amount_due,
            "amount_paid": self.amount_paid,
            "amount_remaining": self.amount_due - self.amount_paid,
            "lines": {"object": "list", "data": lines, "has_more": false,
                      "url": format!("/v1/invoices/{}/lines", self.id)},
            "period_start": self.period_start / 1000,
            "period_end": self.period_end / 1000,
            "billing_reason": self.billing_reason,
            "attempt_count": self.attempt_count,
            "payment_intent": self.payment_intent,
            "created": self.created / 1000,
            "status_transitions": {"paid_at": self.paid_at.map(|t| t / 1000)},
            "livemode": self.livemode,
        })
    }
}

fn line(it: &Item) -> Line {
    let description = if it.quantity == 1 {
        it.product_name.clone()
    } else {
        format!("{} × {}", it.quantity, it.product_name)
    };
    Line {
        description,
        quantity: it.quantity,
        unit_amount: it.unit_amount,
        amount: it.unit_amount * it.quantity,
    }
}

impl Invoice {
    /// The merchant and mode this object belongs to.
    pub fn scope(&self) -> crate::scope::Scope {
        crate::scope::Scope {
            merchant_id: self.merchant_id.clone(),
            livemode: self.livemode,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::Metadata;
    use crate::subscription::{Interval, Recurring, RetryPolicy, SubscriptionStatus};

    #[test]
    fn an_invoice_bills_each_item_for_the_period() {
        let usd = Currency::parse("usd").unwrap();
        let item = |name: &str, amount, quantity| Item {
            id: "si".into(),
            product_name: name.into(),
            currency: usd,
            unit_amount: amount,
            recurring: Recurring {
                interval: Interval::Month,
                interval_count: 1,
            },
            quantity,
        };
        let sub = Subscription {
            id: "sub_1".into(),
            merchant_id: "acct_1".into(),
            livemode: false,
            customer: "cus_1".into(),
            test_clock: None,
            status: SubscriptionStatus::Active,
            default_payment_method: None,
            items: vec![item("Seat", 1000, 3), item("Support", 500, 1)],
            currency: usd,
            billing_cycle_anchor: 0,
            cycle: 0,
            current_period_start: 1_000_000,
            current_period_end: 2_000_000,
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
        let mut inv = Invoice::for_period("in_1".into(), &sub, "subscription_cycle", 5);
        assert_eq!(inv.amount_due, 3500);
        assert_eq!(inv.description(), "Invoice in_1 (3 × Seat, Support)");
        let j = inv.to_json();
        assert_eq!(
            (j["status"].clone(), j["period_end"].clone()),
            (json!("open"), json!(2000))
        );
        assert_eq!(j["lines"]["data"][0]["amount"], 3000);
        inv.paid(9_000);
        assert_eq!(
            (inv.amount_paid, inv.to_json()["amount_remaining"].clone()),
            (3500, json!(0))
        );
        inv.close(false, 10_000);
        assert_eq!(inv.status, InvoiceStatus::Paid, "a paid invoice stays paid");
        for st in ["open", "paid", "void", "uncollectible"] {
            assert_eq!(InvoiceStatus::parse(st).unwrap().as_str(), st);
        }
    }
}
