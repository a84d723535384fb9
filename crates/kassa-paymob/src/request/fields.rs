//! The field readers every request body shares: each pushes its DRF errors and returns `None`
//! exactly on error.

use serde_json::{json, Map, Value};

use super::{Item, BILLING_FIELDS};
use crate::drf::{
    self, Errors, BLANK, INVALID_BOOL, INVALID_INT, INVALID_STR, NON_FIELD, NULL, REQUIRED,
};
use crate::hmac::value_text;
use crate::lenient;
use crate::money::CURRENCIES;

pub(super) type Obj = Map<String, Value>;

/// Billing fields the Intention API requires.
const BILLING_REQUIRED: [&str; 4] = ["first_name", "last_name", "email", "phone_number"];

pub(super) fn not_object(body: &Value) -> Value {
    json!({ NON_FIELD: [drf::not_a_dict(body)] })
}

/// Reads `key`: parses a present value, else uses `fallback`
/// (None → "This field is required.").
pub(super) fn take<T>(
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

pub(super) fn int_in(
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
pub(super) fn text(
    v: &Value,
    key: &str,
    errs: &mut Errors,
    allow_blank: bool,
    max: usize,
) -> Option<String> {
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
pub(super) fn opt_text(
    v: &Value,
    key: &str,
    errs: &mut Errors,
    max: usize,
) -> Option<Option<String>> {
    if v.is_null() {
        return Some(None);
    }
    text(v, key, errs, true, max).map(|s| (!s.is_empty()).then_some(s))
}

pub(super) fn opt_int(
    v: &Value,
    key: &str,
    errs: &mut Errors,
    lenient: bool,
) -> Option<Option<i64>> {
    if v.is_null() {
        return Some(None);
    }
    int_in(v, key, errs, lenient, 1, i64::MAX).map(Some)
}

/// A lenient boolean; null → false.
pub(super) fn flag(v: &Value, key: &str, errs: &mut Errors) -> Option<bool> {
    if v.is_null() {
        return Some(false);
    }
    let b = lenient::boolean(v);
    if b.is_none() {
        errs.add(key, INVALID_BOOL);
    }
    b
}

pub(super) fn currency(v: &Value, key: &str, errs: &mut Errors) -> Option<String> {
    match v {
        Value::Null => errs.add(key, NULL),
        Value::String(s) if CURRENCIES.contains(&s.as_str()) => return Some(s.clone()),
        other => errs.add(key, drf::invalid_choice(&value_text(other))),
    }
    None
}

pub(super) fn valid_email(s: &str) -> bool {
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

pub(super) fn valid_http_url(s: &str) -> bool {
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

pub(super) fn valid_date(s: &str) -> bool {
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

pub(super) fn url_field(v: &Value, key: &str, errs: &mut Errors) -> Option<Option<String>> {
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
pub(super) fn dict(v: &Value, key: &str, errs: &mut Errors) -> Option<Option<Value>> {
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
pub(super) fn items(v: &Value, key: &str, errs: &mut Errors, legacy: bool) -> Option<Vec<Item>> {
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
pub(super) fn billing(v: &Value, key: &str, errs: &mut Errors, strict_all: bool) -> Option<Obj> {
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
