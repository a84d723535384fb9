//! Payments: the list with its filters and search by any id a merchant holds, the CSV export,
//! and a payment's page (timeline, refunds, events, every delivery attempt on every channel)
//! with the money actions, which run the same service commands as the API.

mod actions;
mod detail;
mod list;

use kassa_core::intent::PaymentIntent;
use kassa_core::money::{Currency, Money};

use crate::view;

pub use actions::{cancel, capture, refund, resend};
pub use detail::detail;
pub use list::{export_csv, list};

pub const STATUSES: [&str; 6] = [
    "requires_payment_method",
    "requires_action",
    "processing",
    "requires_capture",
    "succeeded",
    "canceled",
];

/// Amounts in filters are in major units of the chosen currency (cents when none is chosen
/// would surprise): without a currency they are read as two-decimal amounts.
fn minor_units(s: &str, currency: Option<&Currency>) -> Result<Option<i64>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let c = currency
        .copied()
        .unwrap_or_else(|| Currency::parse("usd").expect("usd is a currency"));
    Money::from_decimal_str(s, c)
        .map(|m| Some(m.amount))
        .map_err(|_| format!("“{s}” is not an amount."))
}

pub struct Row {
    pub id: String,
    pub amount: String,
    pub status: &'static str,
    pub method: String,
    pub description: String,
    pub created: String,
}

fn row(pi: &PaymentIntent) -> Row {
    Row {
        id: pi.id.clone(),
        amount: view::money(pi.amount, &pi.currency),
        status: pi.status.as_str(),
        method: pi
            .payment_method
            .as_ref()
            .map(|m| format!("{} •••• {}", m.brand, m.last4))
            .unwrap_or_default(),
        description: pi
            .description
            .clone()
            .unwrap_or_default()
            .chars()
            .take(60)
            .collect(),
        created: view::time(pi.created),
    }
}
