//! Request-body parsing for the Intention API and the legacy Accept flow
//! (spec §1.1, §1.2, §5). All field errors are collected into DRF bodies.
//!
//! Intention integers must be JSON numbers; legacy integers and booleans
//! also accept strings (spec §8.3). Character fields accept numbers,
//! are trimmed, and unknown fields are ignored.

use std::fmt;

use serde_json::{json, Map, Value};

use crate::drf::{
    self, Errors, BLANK, INVALID_BOOL, INVALID_INT, INVALID_STR, NON_FIELD, NULL, REQUIRED,
};
use crate::hmac::value_text;
use crate::lenient;
use crate::money::CURRENCIES;

type Obj = Map<String, Value>;

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

/// Billing fields the Intention API requires.
const BILLING_REQUIRED: [&str; 4] = ["first_name", "last_name", "email", "phone_number"];

/// Default and maximum intention lifetime in seconds (36 days).
pub const MAX_EXPIRATION: i64 = 3_110_400;
/// Default legacy payment-key lifetime in seconds.
pub const DEFAULT_KEY_EXPIRATION: i64 = 3600;
/// Maximum number of saved-card tokens per intention.
pub const MAX_CARD_TOKENS: usize = 3;

const INVALID_CARD: &str = "Enter a valid card number.";
const INVALID_CVN: &str = "Enter a valid CVN.";
const INVALID_YEAR: &str = "Enter a valid expiry year.";

/// An order line.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Item {
    pub name: String,
    pub amount: i64,
    pub description: String,
    pub quantity: i64,
    pub image: Option<String>,
}

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

// ---------------------------------------------------------------------------
// Field helpers. Each pushes its errors and returns None exactly on error.

fn not_object(body: &Value) -> Value {
    json!({ NON_FIELD: [drf::not_a_dict(body)] })
}

/// Reads `key`: parses a present value, else uses `fallback`
/// (None → "This field is required.").
fn take<T>(
    obj: &Obj,
    key: &str,
    errs: &mut Errors,
    fallback: Option<T>,
    parse: impl FnOnce(&Value, &str, &mut Errors) -> Option<T>,
) -> Option<T> {
    match obj.get(key) {
        Some(v) => parse(v, key, errs),
        None => {
            if fallback.is_none() {
                errs.add(key, REQUIRED);
            }
            fallback
        }
    }
}

fn int_in(
    v: &Value,
    key: &str,
    errs: &mut Errors,
    lenient: bool,
    min: i64,
    max: i64,
) -> Option<i64> {
    if v.is_null() {
        errs.add(key, NULL);
        return None;
    }
    let n = if lenient {
        lenient::int(v)
    } else {
        lenient::json_int(v)
    };
    match n {
        None => errs.add(key, INVALID_INT),
        Some(n) if n < min => errs.add(key, drf::min_value(min)),
        Some(n) if n > max => errs.add(key, drf::max_value(max)),
        Some(n) => return Some(n),
    }
    None
}

/// A character field: string or number, trimmed, with blank and length checks.
fn text(v: &Value, key: &str, errs: &mut Errors, allow_blank: bool, max: usize) -> Option<String> {
    if v.is_null() {
        errs.add(key, NULL);
        return None;
    }
    let Some(s) = lenient::string(v) else {
        errs.add(key, INVALID_STR);
        return None;
    };
    let s = s.trim().to_string();
    if s.is_empty() && !allow_blank {
        errs.add(key, BLANK);
        None
    } else if s.chars().count() > max {
        errs.add(key, drf::max_len(max));
        None
    } else {
        Some(s)
    }
}

/// An optional character field: null or blank → None.
fn opt_text(v: &Value, key: &str, errs: &mut Errors, max: usize) -> Option<Option<String>> {
    if v.is_null() {
        return Some(None);
    }
    text(v, key, errs, true, max).map(|s| (!s.is_empty()).then_some(s))
}

fn opt_int(v: &Value, key: &str, errs: &mut Errors, lenient: bool) -> Option<Option<i64>> {
    if v.is_null() {
        return Some(None);
    }
    int_in(v, key, errs, lenient, 1, i64::MAX).map(Some)
}

/// A lenient boolean; null → false.
fn flag(v: &Value, key: &str, errs: &mut Errors) -> Option<bool> {
    if v.is_null() {
        return Some(false);
    }
    let b = lenient::boolean(v);
    if b.is_none() {
        errs.add(key, INVALID_BOOL);
    }
    b
}

fn currency(v: &Value, key: &str, errs: &mut Errors) -> Option<String> {
    match v {
        Value::Null => errs.add(key, NULL),
        Value::String(s) if CURRENCIES.contains(&s.as_str()) => return Some(s.clone()),
        other => errs.add(key, drf::invalid_choice(&value_text(other))),
    }
    None
}

fn valid_email(s: &str) -> bool {
    if s.chars().any(char::is_whitespace) {
        return false;
    }
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains('@')
        && domain.contains('.')
        && domain.split('.').all(|l| !l.is_empty())
}

fn valid_http_url(s: &str) -> bool {
    if s.chars().any(char::is_whitespace) {
        return false;
    }
    match url::Url::parse(s) {
        Ok(u) => {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
        }
        Err(_) => false,
    }
}

fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &s[r];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    y >= 1 && (1..=days).contains(&d)
}

fn url_field(v: &Value, key: &str, errs: &mut Errors) -> Option<Option<String>> {
    let s = opt_text(v, key, errs, 2048)?;
    match s {
        Some(u) if !valid_http_url(&u) => {
            errs.add(key, drf::INVALID_URL);
            None
        }
        other => Some(other),
    }
}

/// A JSON object field (DRF DictField); null → None.
fn dict(v: &Value, key: &str, errs: &mut Errors) -> Option<Option<Value>> {
    match v {
        Value::Null => Some(None),
        Value::Object(_) => Some(Some(v.clone())),
        other => {
            errs.add(key, drf::not_a_dict_field(other));
            None
        }
    }
}

/// Items; `legacy` reads `amount_cents` and accepts numeric strings.
/// Errors are those of the first failing item, nested under `key`.
fn items(v: &Value, key: &str, errs: &mut Errors, legacy: bool) -> Option<Vec<Item>> {
    let list = match v {
        Value::Null => return Some(Vec::new()),
        Value::Array(a) => a,
        other => {
            errs.add(key, drf::not_a_list(other));
            return None;
        }
    };
    let amount_key = if legacy { "amount_cents" } else { "amount" };
    let mut out = Vec::with_capacity(list.len());
    for entry in list {
        let mut ie = Errors::default();
        let Value::Object(o) = entry else {
            ie.add(NON_FIELD, drf::not_a_dict(entry));
            errs.nested(key, ie);
            return None;
        };
        let name = take(o, "name", &mut ie, None, |v, k, e| text(v, k, e, false, 50));
        let amount = take(o, amount_key, &mut ie, None, |v, k, e| {
            int_in(v, k, e, true, 0, i64::MAX)
        });
        let description = take(o, "description", &mut ie, Some(String::new()), |v, k, e| {
            opt_text(v, k, e, 255).map(Option::unwrap_or_default)
        });
        let quantity = take(o, "quantity", &mut ie, Some(1), |v, k, e| {
            if v.is_null() {
                Some(1)
            } else {
                int_in(v, k, e, true, 1, i64::MAX)
            }
        });
        let image = take(o, "image", &mut ie, Some(None), |v, k, e| {
            opt_text(v, k, e, 2048)
        });
        let (Some(name), Some(amount), Some(description), Some(quantity), Some(image)) =
            (name, amount, description, quantity, image)
        else {
            errs.nested(key, ie);
            return None;
        };
        out.push(Item {
            name,
            amount,
            description,
            quantity,
            image,
        });
    }
    Some(out)
}

/// Billing data as all 13 fields. `strict_all`: every field required and
/// non-blank (legacy); otherwise the Intention API rules.
fn billing(v: &Value, key: &str, errs: &mut Errors, strict_all: bool) -> Option<Obj> {
    let m = match v {
        Value::Null => {
            errs.add(key, NULL);
            return None;
        }
        Value::Object(m) => m,
        other => {
            let mut be = Errors::default();
            be.add(NON_FIELD, drf::not_a_dict(other));
            errs.nested(key, be);
            return None;
        }
    };
    let mut be = Errors::default();
    let mut out = Obj::new();
    for f in BILLING_FIELDS {
        let required = strict_all || BILLING_REQUIRED.contains(&f);
        let max = match f {
            "first_name" | "last_name" if !strict_all => 50,
            _ => 255,
        };
        let value = match m.get(f) {
            None if required => {
                be.add(f, REQUIRED);
                None
            }
            None | Some(Value::Null) if !required => Some(String::new()),
            Some(x) => text(x, f, &mut be, !required, max),
            None => None,
        };
        if let Some(s) = value {
            if f == "email" && !strict_all && !valid_email(&s) {
                be.add(f, drf::INVALID_EMAIL);
            } else {
                out.insert(f.to_string(), Value::String(s));
            }
        }
    }
    if be.is_empty() {
        Some(out)
    } else {
        errs.nested(key, be);
        None
    }
}

// ---------------------------------------------------------------------------
// Intention API

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

// ---------------------------------------------------------------------------
// Legacy Accept flow

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
    /// All 13 [`BILLING_FIELDS`], non-blank strings.
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

/// The `source` of a `payments/pay` request.
#[derive(Clone, PartialEq)]
pub enum PaySource {
    Card {
        number: String,
        holder: String,
        expiry_month: u32,
        /// Four digits.
        expiry_year: u32,
        cvn: String,
    },
    Token {
        token: String,
        cvn: Option<String>,
    },
    Wallet {
        phone: String,
    },
    Aggregator,
    Cash,
}

/// A validated `POST /api/acceptance/payments/pay` body.
#[derive(Clone, PartialEq)]
pub struct PayInput {
    pub source: PaySource,
    pub payment_token: String,
    pub save_card: bool,
}

/// `****…1234`: keeps the last four characters.
fn mask_tail(s: &str) -> String {
    let n = s.chars().count();
    if n <= 4 {
        return "*".repeat(n);
    }
    let tail: String = s.chars().skip(n - 4).collect();
    format!("{}{tail}", "*".repeat(n - 4))
}

impl fmt::Debug for PaySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaySource::Card {
                number,
                holder,
                expiry_month,
                expiry_year,
                cvn: _,
            } => f
                .debug_struct("Card")
                .field("number", &mask_tail(number))
                .field("holder", holder)
                .field("expiry_month", expiry_month)
                .field("expiry_year", expiry_year)
                .field("cvn", &"***")
                .finish(),
            PaySource::Token { token, cvn } => f
                .debug_struct("Token")
                .field("token", &mask_tail(token))
                .field("cvn", &cvn.as_ref().map(|_| "***"))
                .finish(),
            PaySource::Wallet { phone } => f.debug_struct("Wallet").field("phone", phone).finish(),
            PaySource::Aggregator => f.write_str("Aggregator"),
            PaySource::Cash => f.write_str("Cash"),
        }
    }
}

impl fmt::Debug for PayInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayInput")
            .field("source", &self.source)
            .field(
                "payment_token",
                &format_args!("<redacted, {} chars>", self.payment_token.len()),
            )
            .field("save_card", &self.save_card)
            .finish()
    }
}

const SUBTYPES: [&str; 5] = ["CARD", "TOKEN", "WALLET", "AGGREGATOR", "CASH"];

fn cvn(v: &Value, key: &str, errs: &mut Errors) -> Option<String> {
    let s = text(v, key, errs, false, 4)?;
    if s.len() >= 3 && s.bytes().all(|b| b.is_ascii_digit()) {
        Some(s)
    } else {
        errs.add(key, INVALID_CVN);
        None
    }
}

fn card_number(v: &Value, key: &str, errs: &mut Errors) -> Option<String> {
    let s = text(v, key, errs, false, 64)?;
    let digits: String = s.chars().filter(|c| *c != ' ').collect();
    if (12..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Some(digits)
    } else {
        errs.add(key, INVALID_CARD);
        None
    }
}

fn expiry_year(v: &Value, key: &str, errs: &mut Errors) -> Option<u32> {
    if v.is_null() {
        errs.add(key, NULL);
        return None;
    }
    let Some(n) = lenient::int(v) else {
        errs.add(key, INVALID_INT);
        return None;
    };
    let width_ok = match v {
        Value::String(s) => s.len() == 2 || s.len() == 4,
        _ => true,
    };
    match n {
        0..=99 if width_ok => Some(2000 + n as u32),
        1000..=9999 if width_ok => Some(n as u32),
        _ => {
            errs.add(key, INVALID_YEAR);
            None
        }
    }
}

fn pay_source(src: &Obj, se: &mut Errors) -> Option<PaySource> {
    let subtype = take(src, "subtype", se, None, |v, k, e| match v {
        Value::Null => {
            e.add(k, NULL);
            None
        }
        Value::String(s) if SUBTYPES.contains(&s.as_str()) => Some(s.clone()),
        other => {
            e.add(k, drf::invalid_choice(&value_text(other)));
            None
        }
    })?;
    let ident = |se: &mut Errors, max: usize| {
        take(src, "identifier", se, None, |v, k, e| {
            text(v, k, e, false, max)
        })
    };
    match subtype.as_str() {
        "CARD" => {
            let number = take(src, "identifier", se, None, card_number);
            let holder = take(
                src,
                "sourceholder_name",
                se,
                Some(String::new()),
                |v, k, e| opt_text(v, k, e, 255).map(Option::unwrap_or_default),
            );
            let month = take(src, "expiry_month", se, None, |v, k, e| {
                int_in(v, k, e, true, 1, 12)
            });
            let year = take(src, "expiry_year", se, None, expiry_year);
            let cvn = take(src, "cvn", se, None, cvn);
            let (Some(number), Some(holder), Some(month), Some(year), Some(cvn)) =
                (number, holder, month, year, cvn)
            else {
                return None;
            };
            Some(PaySource::Card {
                number,
                holder,
                expiry_month: month as u32,
                expiry_year: year,
                cvn,
            })
        }
        "TOKEN" => {
            let token = ident(se, 255);
            let cvn = take(src, "cvn", se, Some(None), |v, k, e| match v {
                Value::Null => Some(None),
                Value::String(s) if s.trim().is_empty() => Some(None),
                other => cvn(other, k, e).map(Some),
            });
            Some(PaySource::Token {
                token: token?,
                cvn: cvn?,
            })
        }
        "WALLET" => ident(se, 32).map(|phone| PaySource::Wallet { phone }),
        "AGGREGATOR" => Some(PaySource::Aggregator),
        _ => Some(PaySource::Cash),
    }
}

/// Validates a `payments/pay` body (spec §5 step 4b); errors as a DRF body.
/// Card numbers are not Luhn-checked here.
pub fn parse_pay(body: &Value) -> Result<PayInput, Value> {
    let Value::Object(obj) = body else {
        return Err(not_object(body));
    };
    let mut errs = Errors::default();
    let mut save_card = None;
    let source = match obj.get("source") {
        None => {
            errs.add("source", REQUIRED);
            None
        }
        Some(Value::Null) => {
            errs.add("source", NULL);
            None
        }
        Some(Value::Object(src)) => {
            let mut se = Errors::default();
            let s = pay_source(src, &mut se);
            if let Some(v) = src.get("save_card") {
                save_card = flag(v, "save_card", &mut se);
            }
            errs.nested("source", se);
            s
        }
        Some(other) => {
            let mut se = Errors::default();
            se.add(NON_FIELD, drf::not_a_dict(other));
            errs.nested("source", se);
            None
        }
    };
    let payment_token = take(obj, "payment_token", &mut errs, None, |v, k, e| match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::String(_) => {
            e.add(k, BLANK);
            None
        }
        Value::Null => {
            e.add(k, NULL);
            None
        }
        _ => {
            e.add(k, INVALID_STR);
            None
        }
    });
    let in_source = obj
        .get("source")
        .and_then(Value::as_object)
        .is_some_and(|s| s.contains_key("save_card"));
    if !in_source {
        save_card = take(obj, "save_card", &mut errs, Some(false), flag);
    }
    match (source, payment_token, save_card) {
        (Some(source), Some(payment_token), Some(save_card)) if errs.is_empty() => Ok(PayInput {
            source,
            payment_token,
            save_card,
        }),
        _ => Err(errs.to_json()),
    }
}

#[cfg(test)]
mod tests;
