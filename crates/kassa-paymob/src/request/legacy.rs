//! The legacy Accept flow's bodies: the order (`parse_order`) and the payment key
//! (`parse_payment_key`).

use serde_json::{Map, Value};

use super::fields::{billing, currency, dict, flag, int_in, items, not_object, opt_text, take};
use super::{Item, MAX_EXPIRATION};
use crate::drf::Errors;

/// Default legacy payment-key lifetime in seconds.
pub const DEFAULT_KEY_EXPIRATION: i64 = 3600;

/// A validated `POST /api/ecommerce/orders` body.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderInput {
    pub amount_cents: i64,
    pub currency: String,
    pub merchant_order_id: Option<String>,
    /// Item amounts come from `amount_cents`.
    pub items: Vec<Item>,
    pub delivery_needed: bool,
    pub shipping_data: Option<Value>,
}

/// Validates a legacy order body (spec §5 step 2); errors as a DRF body.
pub fn parse_order(body: &Value) -> Result<OrderInput, Value> {
    let Value::Object(obj) = body else {
        return Err(not_object(body));
    };
    let mut errs = Errors::default();
    let amount_cents = take(obj, "amount_cents", &mut errs, None, |v, k, e| {
        int_in(v, k, e, true, 1, i64::MAX)
    });
    let currency = take(
        obj,
        "currency",
        &mut errs,
        Some("EGP".to_string()),
        |v, k, e| {
            if v.is_null() {
                Some("EGP".to_string())
            } else {
                currency(v, k, e)
            }
        },
    );
    let merchant_order_id = take(
        obj,
        "merchant_order_id",
        &mut errs,
        Some(None),
        |v, k, e| opt_text(v, k, e, 255),
    );
    let items = take(obj, "items", &mut errs, Some(Vec::new()), |v, k, e| {
        items(v, k, e, true)
    });
    let delivery_needed = take(obj, "delivery_needed", &mut errs, Some(false), flag);
    let shipping_key = ["shipping_data", "shipping_details"]
        .into_iter()
        .find(|k| obj.get(*k).is_some_and(|v| !v.is_null()))
        .unwrap_or("shipping_data");
    let shipping_data = take(obj, shipping_key, &mut errs, Some(None), dict);
    match (
        amount_cents,
        currency,
        merchant_order_id,
        items,
        delivery_needed,
        shipping_data,
    ) {
        (
            Some(amount_cents),
            Some(currency),
            Some(merchant_order_id),
            Some(items),
            Some(delivery_needed),
            Some(shipping_data),
        ) if errs.is_empty() => Ok(OrderInput {
            amount_cents,
            currency,
            merchant_order_id,
            items,
            delivery_needed,
            shipping_data,
        }),
        _ => Err(errs.to_json()),
    }
}

/// A validated `POST /api/acceptance/payment_keys` body.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentKeyInput {
    pub amount_cents: i64,
    pub expiration: i64,
    pub order_id: i64,
    /// All 13 [`BILLING_FIELDS`](super::BILLING_FIELDS), non-blank strings.
    pub billing_data: Map<String, Value>,
    pub currency: String,
    pub integration_id: i64,
    pub lock_order_when_paid: bool,
    /// Saved-card token.
    pub token: Option<String>,
}

/// Validates a legacy payment-key body (spec §5 step 3); errors as a DRF body.
pub fn parse_payment_key(body: &Value) -> Result<PaymentKeyInput, Value> {
    let Value::Object(obj) = body else {
        return Err(not_object(body));
    };
    let mut errs = Errors::default();
    let positive = |v: &Value, k: &str, e: &mut Errors| int_in(v, k, e, true, 1, i64::MAX);
    let amount_cents = take(obj, "amount_cents", &mut errs, None, positive);
    let expiration = take(
        obj,
        "expiration",
        &mut errs,
        Some(DEFAULT_KEY_EXPIRATION),
        |v, k, e| {
            if v.is_null() {
                Some(DEFAULT_KEY_EXPIRATION)
            } else {
                int_in(v, k, e, true, 1, MAX_EXPIRATION)
            }
        },
    );
    let order_id = take(obj, "order_id", &mut errs, None, positive);
    let billing_data = take(obj, "billing_data", &mut errs, None, |v, k, e| {
        billing(v, k, e, true)
    });
    let currency = take(obj, "currency", &mut errs, None, currency);
    let integration_id = take(obj, "integration_id", &mut errs, None, positive);
    let lock_order_when_paid = take(obj, "lock_order_when_paid", &mut errs, Some(false), flag);
    let token = take(obj, "token", &mut errs, Some(None), |v, k, e| {
        opt_text(v, k, e, 255)
    });
    match (
        amount_cents,
        expiration,
        order_id,
        billing_data,
        currency,
        integration_id,
        lock_order_when_paid,
        token,
    ) {
        (
            Some(amount_cents),
            Some(expiration),
            Some(order_id),
            Some(billing_data),
            Some(currency),
            Some(integration_id),
            Some(lock_order_when_paid),
            Some(token),
        ) if errs.is_empty() => Ok(PaymentKeyInput {
            amount_cents,
            expiration,
            order_id,
            billing_data,
            currency,
            integration_id,
            lock_order_when_paid,
            token,
        }),
        _ => Err(errs.to_json()),
    }
}
