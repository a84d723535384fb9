//! The Intention API's bodies: create (`parse_intention`), update (`parse_intention_update`)
//! and the `intention_detail` object of its answers.

use serde_json::{json, Map, Value};

use super::fields::{
    billing, currency, dict, flag, int_in, items, not_object, opt_int, opt_text, take, url_field,
    valid_date, Obj,
};
use super::{Item, BILLING_FIELDS, MAX_EXPIRATION};
use crate::drf::{self, Errors, BLANK, INVALID_INT, INVALID_STR, NULL, REQUIRED};
use crate::lenient;

/// Maximum number of saved-card tokens per intention.
pub const MAX_CARD_TOKENS: usize = 3;

/// A `payment_methods` entry: an integration id or a name/alias.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum MethodRef {
    Id(i64),
    Name(String),
}

/// A validated intention (create body, or the result of an update).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IntentionInput {
    pub amount: i64,
    pub currency: String,
    pub payment_methods: Vec<MethodRef>,
    pub items: Vec<Item>,
    /// All 13 [`BILLING_FIELDS`], as strings ("" when not given).
    pub billing_data: Map<String, Value>,
    pub customer: Option<Value>,
    /// An object, `{}` by default.
    pub extras: Value,
    pub special_reference: Option<String>,
    pub expiration: i64,
    pub notification_url: Option<String>,
    pub redirection_url: Option<String>,
    pub card_tokens: Vec<String>,
    pub subscription_plan_id: Option<i64>,
    pub subscription_start_date: Option<String>,
    pub subscriptionv2_id: Option<i64>,
    pub delivery_needed: bool,
}

/// Why an intention body was rejected.
#[derive(Debug, Clone, PartialEq)]
pub enum IntentionError {
    /// 400 with this DRF body.
    Fields(Value),
    /// 406 `unmatched_item_prices`: Σ items.amount ≠ amount.
    UnmatchedItemPrices,
}

fn methods(v: &Value, key: &str, errs: &mut Errors) -> Option<Vec<MethodRef>> {
    let list = match v {
        Value::Null => {
            errs.add(key, NULL);
            return None;
        }
        Value::Array(a) => a,
        other => {
            errs.add(key, drf::not_a_list(other));
            return None;
        }
    };
    if list.is_empty() {
        errs.add(key, drf::EMPTY_LIST);
        return None;
    }
    let mut me = Errors::default();
    let mut out = Vec::with_capacity(list.len());
    for (i, x) in list.iter().enumerate() {
        let idx = i.to_string();
        match x {
            Value::Number(_) => match lenient::json_int(x) {
                Some(n) => out.push(MethodRef::Id(n)),
                None => me.add(&idx, INVALID_INT),
            },
            Value::String(s) => {
                let s = s.trim();
                if s.is_empty() {
                    me.add(&idx, BLANK);
                } else if s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()) {
                    out.push(MethodRef::Id(s.parse().unwrap_or_default()));
                } else {
                    out.push(MethodRef::Name(s.to_string()));
                }
            }
            Value::Null => me.add(&idx, NULL),
            _ => me.add(&idx, INVALID_STR),
        }
    }
    if me.is_empty() {
        Some(out)
    } else {
        errs.nested(key, me);
        None
    }
}

fn card_tokens(v: &Value, key: &str, errs: &mut Errors) -> Option<Vec<String>> {
    let list = match v {
        Value::Null => return Some(Vec::new()),
        Value::Array(a) => a,
        other => {
            errs.add(key, drf::not_a_list(other));
            return None;
        }
    };
    if list.len() > MAX_CARD_TOKENS {
        errs.add(key, drf::max_items(MAX_CARD_TOKENS));
        return None;
    }
    let mut te = Errors::default();
    let mut out = Vec::with_capacity(list.len());
    for (i, x) in list.iter().enumerate() {
        match x {
            Value::String(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
            Value::String(_) => te.add(&i.to_string(), BLANK),
            Value::Null => te.add(&i.to_string(), NULL),
            _ => te.add(&i.to_string(), INVALID_STR),
        }
    }
    if te.is_empty() {
        Some(out)
    } else {
        errs.nested(key, te);
        None
    }
}

fn start_date(v: &Value, key: &str, errs: &mut Errors) -> Option<Option<String>> {
    match v {
        Value::Null => Some(None),
        Value::String(s) if s.is_empty() => Some(None),
        Value::String(s) if valid_date(s) => Some(Some(s.clone())),
        _ => {
            errs.add(key, drf::INVALID_DATE);
            None
        }
    }
}

fn empty_billing() -> Obj {
    BILLING_FIELDS
        .iter()
        .map(|f| (f.to_string(), Value::String(String::new())))
        .collect()
}

/// Reads the create fields; `cur` (update) supplies every absent field.
fn build(obj: &Obj, cur: Option<&IntentionInput>, errs: &mut Errors) -> Option<IntentionInput> {
    let amount = take(obj, "amount", errs, cur.map(|c| c.amount), |v, k, e| {
        int_in(v, k, e, true, 1, i64::MAX)
    });
    let currency = take(
        obj,
        "currency",
        errs,
        cur.map(|c| c.currency.clone()),
        currency,
    );
    let payment_methods = take(
        obj,
        "payment_methods",
        errs,
        cur.map(|c| c.payment_methods.clone()),
        methods,
    );
    let items = take(
        obj,
        "items",
        errs,
        Some(cur.map(|c| c.items.clone()).unwrap_or_default()),
        |v, k, e| items(v, k, e, false),
    );
    let billing_data = take(
        obj,
        "billing_data",
        errs,
        cur.map(|c| c.billing_data.clone()),
        |v, k, e| billing(v, k, e, false),
    );
    let customer = take(
        obj,
        "customer",
        errs,
        Some(cur.and_then(|c| c.customer.clone())),
        dict,
    );
    let extras = take(
        obj,
        "extras",
        errs,
        Some(cur.map_or_else(|| json!({}), |c| c.extras.clone())),
        |v, k, e| dict(v, k, e).map(|d| d.unwrap_or_else(|| json!({}))),
    );
    let special_reference = take(
        obj,
        "special_reference",
        errs,
        Some(cur.and_then(|c| c.special_reference.clone())),
        |v, k, e| opt_text(v, k, e, 255),
    );
    let expiration = take(
        obj,
        "expiration",
        errs,
        Some(cur.map_or(MAX_EXPIRATION, |c| c.expiration)),
        |v, k, e| {
            if v.is_null() {
                Some(MAX_EXPIRATION)
            } else {
                int_in(v, k, e, true, 1, MAX_EXPIRATION)
            }
        },
    );
    let notification_url = take(
        obj,
        "notification_url",
        errs,
        Some(cur.and_then(|c| c.notification_url.clone())),
        url_field,
    );
    let redirection_url = take(
        obj,
        "redirection_url",
        errs,
        Some(cur.and_then(|c| c.redirection_url.clone())),
        url_field,
    );
    let card_tokens = take(
        obj,
        "card_tokens",
        errs,
        Some(cur.map(|c| c.card_tokens.clone()).unwrap_or_default()),
        card_tokens,
    );
    let subscription_plan_id = take(
        obj,
        "subscription_plan_id",
        errs,
        Some(cur.and_then(|c| c.subscription_plan_id)),
        |v, k, e| opt_int(v, k, e, false),
    );
    let subscription_start_date = take(
        obj,
        "subscription_start_date",
        errs,
        Some(cur.and_then(|c| c.subscription_start_date.clone())),
        start_date,
    );
    let subscriptionv2_id = take(
        obj,
        "subscriptionv2_id",
        errs,
        Some(cur.and_then(|c| c.subscriptionv2_id)),
        |v, k, e| opt_int(v, k, e, false),
    );
    let delivery_needed = take(
        obj,
        "delivery_needed",
        errs,
        Some(cur.is_some_and(|c| c.delivery_needed)),
        flag,
    );
    let (
        Some(amount),
        Some(currency),
        Some(payment_methods),
        Some(items),
        Some(billing_data),
        Some(customer),
        Some(extras),
        Some(special_reference),
        Some(expiration),
        Some(notification_url),
        Some(redirection_url),
        Some(card_tokens),
        Some(subscription_plan_id),
        Some(subscription_start_date),
        Some(subscriptionv2_id),
        Some(delivery_needed),
    ) = (
        amount,
        currency,
        payment_methods,
        items,
        billing_data,
        customer,
        extras,
        special_reference,
        expiration,
        notification_url,
        redirection_url,
        card_tokens,
        subscription_plan_id,
        subscription_start_date,
        subscriptionv2_id,
        delivery_needed,
    )
    else {
        return None;
    };
    Some(IntentionInput {
        amount,
        currency,
        payment_methods,
        items,
        billing_data,
        customer,
        extras,
        special_reference,
        expiration,
        notification_url,
        redirection_url,
        card_tokens,
        subscription_plan_id,
        subscription_start_date,
        subscriptionv2_id,
        delivery_needed,
    })
}

fn check_items_total(i: &IntentionInput) -> Result<(), IntentionError> {
    if i.items.is_empty() {
        return Ok(());
    }
    let total: i128 = i.items.iter().map(|it| i128::from(it.amount)).sum();
    if total == i128::from(i.amount) {
        Ok(())
    } else {
        Err(IntentionError::UnmatchedItemPrices)
    }
}

fn finish(built: Option<IntentionInput>, errs: Errors) -> Result<IntentionInput, IntentionError> {
    match built {
        Some(i) if errs.is_empty() => {
            check_items_total(&i)?;
            Ok(i)
        }
        _ => Err(IntentionError::Fields(errs.to_json())),
    }
}

/// Validates a `POST /v1/intention/` body (spec §1.1).
pub fn parse_intention(body: &Value) -> Result<IntentionInput, IntentionError> {
    let Value::Object(obj) = body else {
        return Err(IntentionError::Fields(not_object(body)));
    };
    let mut errs = Errors::default();
    let built = build(obj, None, &mut errs);
    finish(built, errs)
}

/// Validates a `PUT /v1/intention/{client_secret}` body (spec §1.2):
/// returns `accept_order_id` and `current` with the given fields replaced.
pub fn parse_intention_update(
    body: &Value,
    current: &IntentionInput,
) -> Result<(i64, IntentionInput), IntentionError> {
    let Value::Object(obj) = body else {
        return Err(IntentionError::Fields(not_object(body)));
    };
    let mut errs = Errors::default();
    let order_id = take(obj, "accept_order_id", &mut errs, None, |v, k, e| {
        int_in(v, k, e, true, 1, i64::MAX)
    });
    let built = build(obj, Some(current), &mut errs);
    let updated = finish(built, errs)?;
    match order_id {
        Some(id) => Ok((id, updated)),
        None => Err(IntentionError::Fields(
            json!({"accept_order_id": [REQUIRED]}),
        )),
    }
}

/// The `intention_detail` object of the intention response.
pub fn intention_detail(i: &IntentionInput) -> Value {
    let items: Vec<Value> = i
        .items
        .iter()
        .map(|it| {
            json!({
                "name": it.name,
                "amount": it.amount,
                "description": it.description,
                "quantity": it.quantity,
                "image": it.image,
            })
        })
        .collect();
    let mut billing = empty_billing();
    for f in BILLING_FIELDS {
        if let Some(v) = i.billing_data.get(f) {
            billing.insert(f.to_string(), v.clone());
        }
    }
    json!({
        "amount": i.amount,
        "items": items,
        "currency": i.currency,
        "billing_data": billing,
    })
}
