//! Request-body parsing for the Intention API and the legacy Accept flow
//! (spec §1.1, §1.2, §5). All field errors are collected into DRF bodies.
//!
//! Intention integers must be JSON numbers; legacy integers and booleans
//! also accept strings (spec §8.3). Character fields accept numbers,
//! are trimmed, and unknown fields are ignored.
//!
//! The field readers all bodies share are in `fields`; each body's parser is in the module of
//! its API (`intention`, `legacy`, `pay`), re-exported here.

mod fields;
mod intention;
mod legacy;
mod pay;

pub use intention::{
    intention_detail, parse_intention, parse_intention_update, IntentionError, IntentionInput,
    MethodRef, MAX_CARD_TOKENS,
};
pub use legacy::{
    parse_order, parse_payment_key, OrderInput, PaymentKeyInput, DEFAULT_KEY_EXPIRATION,
};
pub use pay::{parse_pay, PayInput, PaySource};

#[cfg(test)]
use crate::drf;
#[cfg(test)]
use fields::{valid_date, valid_email, valid_http_url};
#[cfg(test)]
use serde_json::{Map, Value};

/// The 13 billing fields, in Paymob's order.
pub const BILLING_FIELDS: [&str; 13] = [
    "apartment",
    "email",
    "floor",
    "first_name",
    "street",
    "building",
    "phone_number",
    "shipping_method",
    "postal_code",
    "city",
    "country",
    "last_name",
    "state",
];

/// Default and maximum intention lifetime in seconds (36 days).
pub const MAX_EXPIRATION: i64 = 3_110_400;

/// An order line.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Item {
    pub name: String,
    pub amount: i64,
    pub description: String,
    pub quantity: i64,
    pub image: Option<String>,
}

#[cfg(test)]
mod tests;
