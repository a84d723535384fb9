//! HMAC-SHA512 callback signatures (spec §4.3–§4.5).

use ::hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha512;
use subtle::ConstantTimeEq;

type HmacSha512 = Hmac<Sha512>;

/// Signed fields of the processed (POST) callback `obj`, in signing order.
pub const TRANSACTION_FIELDS: [&str; 20] = [
    "amount_cents",
    "created_at",
    "currency",
    "error_occured",
    "has_parent_transaction",
    "id",
    "integration_id",
    "is_3d_secure",
    "is_auth",
    "is_capture",
    "is_refunded",
    "is_standalone_payment",
    "is_voided",
    "order.id",
    "owner",
    "pending",
    "source_data.pan",
    "source_data.sub_type",
    "source_data.type",
    "success",
];

/// Signed parameters of the response (GET redirect), in signing order.
pub const QUERY_FIELDS: [&str; 20] = [
    "amount_cents",
    "created_at",
    "currency",
    "error_occured",
    "has_parent_transaction",
    "id",
    "integration_id",
    "is_3d_secure",
    "is_auth",
    "is_capture",
    "is_refunded",
    "is_standalone_payment",
    "is_voided",
    "order",
    "owner",
    "pending",
    "source_data.pan",
    "source_data.sub_type",
    "source_data.type",
    "success",
];

/// Signed fields of the card TOKEN callback `obj`, in signing order.
pub const TOKEN_FIELDS: [&str; 8] = [
    "card_subtype",
    "created_at",
    "email",
    "id",
    "masked_pan",
    "merchant_id",
    "order_id",
    "token",
];

/// HMAC-SHA512 of `msg` keyed with the UTF-8 bytes of `key`, lower-case hex.
pub fn hmac_sha512_hex(key: &str, msg: &str) -> String {
    let mut mac = HmacSha512::new_from_slice(key.as_bytes()).expect("HMAC accepts any key length");
    mac.update(msg.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Text of a JSON value as signed by Paymob: `true`/`false`, decimal
/// integers, strings verbatim, null → "".
pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e18 {
                    (f as i64).to_string()
                } else {
                    n.to_string()
                }
            }
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Looks up a dotted path (`order.id`) in nested objects.
pub(crate) fn lookup<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(obj, |v, k| v.get(k))
}

/// The order id of a transaction `obj` (`order.id`, or `order` when it is a bare id).
pub(crate) fn order_id(obj: &Value) -> Option<&Value> {
    match obj.get("order") {
        Some(Value::Object(m)) => m.get("id"),
        Some(v @ (Value::Number(_) | Value::String(_))) => Some(v),
        _ => None,
    }
}

fn field_text(obj: &Value, path: &str) -> String {
    let v = if path == "order.id" {
        order_id(obj)
    } else {
        lookup(obj, path)
    };
    v.map(value_text).unwrap_or_default()
}

/// Concatenation of the 20 signed fields of a processed-callback `obj`.
pub fn transaction_message(obj: &Value) -> String {
    TRANSACTION_FIELDS
        .iter()
        .map(|f| field_text(obj, f))
        .collect()
}

/// HMAC of a processed-callback `obj`.
pub fn transaction_hmac(secret: &str, obj: &Value) -> String {
    hmac_sha512_hex(secret, &transaction_message(obj))
}

/// Concatenation of the 20 signed GET parameters (decoded values; missing → "").
pub fn query_message(params: &[(String, String)]) -> String {
    QUERY_FIELDS
        .iter()
        .map(|f| {
            params
                .iter()
                .find(|(k, _)| k == f)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        })
        .collect()
}

/// HMAC of the GET redirect parameters.
pub fn query_hmac(secret: &str, params: &[(String, String)]) -> String {
    hmac_sha512_hex(secret, &query_message(params))
}

/// Concatenation of the 8 signed fields of a TOKEN callback `obj`.
pub fn token_message(obj: &Value) -> String {
    TOKEN_FIELDS.iter().map(|f| field_text(obj, f)).collect()
}

/// HMAC of a TOKEN callback `obj`.
pub fn token_hmac(secret: &str, obj: &Value) -> String {
    hmac_sha512_hex(secret, &token_message(obj))
}

/// HMAC of a subscription callback: message `"{trigger_type}for{id}"`.
pub fn subscription_hmac(secret: &str, trigger_type: &str, subscription_id: i64) -> String {
    hmac_sha512_hex(secret, &format!("{trigger_type}for{subscription_id}"))
}

/// Constant-time comparison of hex digests, ignoring ASCII case.
/// False when the lengths differ.
pub fn verify_hex(expected_hex: &str, given: &str) -> bool {
    let expected = expected_hex.to_ascii_lowercase();
    let given = given.to_ascii_lowercase();
    if expected.len() != given.len() {
        return false;
    }
    expected.as_bytes().ct_eq(given.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn value_text_rules() {
        assert_eq!(value_text(&json!(null)), "");
        assert_eq!(value_text(&json!(true)), "true");
        assert_eq!(value_text(&json!(false)), "false");
        assert_eq!(value_text(&json!(-12)), "-12");
        assert_eq!(value_text(&json!(u64::MAX)), u64::MAX.to_string());
        assert_eq!(value_text(&json!(100.0)), "100");
        assert_eq!(value_text(&json!(1.5)), "1.5");
        assert_eq!(value_text(&json!("x y")), "x y");
    }

    #[test]
    fn missing_and_null_fields_are_empty() {
        let obj = json!({"id": 5, "source_data": {"pan": null}, "success": true});
        assert_eq!(transaction_message(&obj), "5true");
    }

    #[test]
    fn order_may_be_a_bare_id() {
        let a = json!({"order": {"id": 77}});
        let b = json!({"order": 77});
        assert_eq!(transaction_message(&a), "77");
        assert_eq!(transaction_message(&b), "77");
    }

    #[test]
    fn query_uses_first_occurrence_and_order_key() {
        let p = vec![
            ("order".to_string(), "9".to_string()),
            ("order.id".to_string(), "8".to_string()),
            ("id".to_string(), "1".to_string()),
            ("id".to_string(), "2".to_string()),
        ];
        assert_eq!(query_message(&p), "19");
    }

    #[test]
    fn verify_hex_cases() {
        let h = hmac_sha512_hex("k", "m");
        assert_eq!(h.len(), 128);
        assert!(h
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert!(verify_hex(&h, &h));
        assert!(verify_hex(&h, &h.to_uppercase()));
        assert!(!verify_hex(&h, &h[..127]));
        assert!(!verify_hex(&h, ""));
        let mut bad = h.clone().into_bytes();
        bad[0] = if bad[0] == b'0' { b'1' } else { b'0' };
        assert!(!verify_hex(&h, std::str::from_utf8(&bad).unwrap()));
    }
}
