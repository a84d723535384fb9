//! The response callback: a browser GET redirect with flattened,
//! signed query parameters (spec §4.2).

use serde_json::Value;

use crate::hmac::{lookup, order_id, query_hmac, value_text};

/// Flat parameter names and the `obj` paths they are read from, in emission order.
const PARAMS: [(&str, &str); 34] = [
    ("id", "id"),
    ("pending", "pending"),
    ("amount_cents", "amount_cents"),
    ("success", "success"),
    ("is_auth", "is_auth"),
    ("is_capture", "is_capture"),
    ("is_standalone_payment", "is_standalone_payment"),
    ("is_voided", "is_voided"),
    ("is_refunded", "is_refunded"),
    ("is_3d_secure", "is_3d_secure"),
    ("integration_id", "integration_id"),
    ("profile_id", "profile_id"),
    ("has_parent_transaction", "has_parent_transaction"),
    ("order", "order.id"),
    ("created_at", "created_at"),
    ("currency", "currency"),
    ("merchant_commission", "merchant_commission"),
    ("discount_details", "discount_details"),
    ("is_void", "is_void"),
    ("is_refund", "is_refund"),
    ("error_occured", "error_occured"),
    ("refunded_amount_cents", "refunded_amount_cents"),
    ("captured_amount", "captured_amount"),
    ("updated_at", "updated_at"),
    ("is_settled", "is_settled"),
    ("bill_balanced", "bill_balanced"),
    ("is_bill", "is_bill"),
    ("owner", "owner"),
    ("data.message", "data.message"),
    ("source_data.type", "source_data.type"),
    ("source_data.pan", "source_data.pan"),
    ("source_data.sub_type", "source_data.sub_type"),
    ("acq_response_code", "data.acq_response_code"),
    ("txn_response_code", "data.txn_response_code"),
];

/// The flattened GET parameters of a transaction `obj` (without `hmac`).
pub fn response_params(obj: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = PARAMS
        .iter()
        .map(|(name, path)| {
            let text = match *path {
                "order.id" => order_id(obj).map(value_text).unwrap_or_default(),
                "discount_details" => match obj.get("discount_details") {
                    Some(Value::Array(a)) if !a.is_empty() => Value::Array(a.clone()).to_string(),
                    _ => "[]".to_string(),
                },
                p => lookup(obj, p).map(value_text).unwrap_or_default(),
            };
            (name.to_string(), text)
        })
        .collect();
    let mor = lookup(obj, "order.merchant_order_id")
        .map(value_text)
        .unwrap_or_default();
    if !mor.is_empty() {
        out.push(("merchant_order_id".to_string(), mor));
    }
    out
}

/// `base` with the signed response parameters and `hmac` appended as a
/// form-urlencoded query (`?` or `&` as needed; a `#fragment` stays last).
pub fn signed_url(base: &str, obj: &Value, secret: &str) -> String {
    let params = response_params(obj);
    let mac = query_hmac(secret, &params);
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &params {
        ser.append_pair(k, v);
    }
    ser.append_pair("hmac", &mac);
    let query = ser.finish();
    let (head, fragment) = match base.find('#') {
        Some(i) => base.split_at(i),
        None => (base, ""),
    };
    let sep = if !head.contains('?') {
        "?"
    } else if head.ends_with('?') || head.ends_with('&') {
        ""
    } else {
        "&"
    };
    format!("{head}{sep}{query}{fragment}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hmac::{transaction_hmac, verify_hex};
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "id": 316004, "pending": false, "amount_cents": 50000, "success": true,
            "is_auth": false, "is_capture": false, "is_standalone_payment": true,
            "is_voided": false, "is_refunded": false, "is_3d_secure": true,
            "integration_id": 4097558, "profile_id": 164295, "has_parent_transaction": false,
            "order": {"id": 378804, "merchant_order_id": "ref 1&2"},
            "created_at": "2024-06-25T15:16:25.910710+04:00", "currency": "AED",
            "merchant_commission": 0, "discount_details": [], "is_void": false,
            "is_refund": false, "error_occured": false, "refunded_amount_cents": 0,
            "captured_amount": 0, "updated_at": "2024-06-25T15:16:40.000001+04:00",
            "is_settled": false, "bill_balanced": false, "is_bill": false, "owner": 211,
            "data": {"message": "Approved", "acq_response_code": "00", "txn_response_code": "APPROVED"},
            "source_data": {"type": "card", "pan": "2346", "sub_type": "MasterCard"}
        })
    }

    fn parse_query(u: &str) -> Vec<(String, String)> {
        let parsed = url::Url::parse(u).unwrap();
        parsed
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn params_order_and_values() {
        let p = response_params(&sample());
        let names: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names.len(), 35);
        assert_eq!(names[0], "id");
        assert_eq!(names[13], "order");
        assert_eq!(names[32], "acq_response_code");
        assert_eq!(names[33], "txn_response_code");
        assert_eq!(names[34], "merchant_order_id");
        let get = |k: &str| p.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("order"), "378804");
        assert_eq!(get("discount_details"), "[]");
        assert_eq!(get("pending"), "false");
        assert_eq!(get("data.message"), "Approved");
        assert_eq!(get("acq_response_code"), "00");
        assert_eq!(get("merchant_order_id"), "ref 1&2");
    }

    #[test]
    fn merchant_order_id_only_when_set() {
        let mut o = sample();
        o["order"]["merchant_order_id"] = Value::Null;
        assert!(response_params(&o)
            .iter()
            .all(|(k, _)| k != "merchant_order_id"));
        o["order"]["merchant_order_id"] = json!("");
        assert!(response_params(&o)
            .iter()
            .all(|(k, _)| k != "merchant_order_id"));
        o["order"]
            .as_object_mut()
            .unwrap()
            .remove("merchant_order_id");
        assert_eq!(response_params(&o).len(), 34);
    }

    #[test]
    fn discount_details_and_nulls() {
        let o = json!({"discount_details": [{"a": 1}], "captured_amount": null});
        let p = response_params(&o);
        let get = |k: &str| p.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("discount_details"), r#"[{"a":1}]"#);
        assert_eq!(get("captured_amount"), "");
        assert_eq!(get("order"), "");
        assert_eq!(response_params(&json!({}))[17].1, "[]");
    }

    #[test]
    fn signed_url_round_trip() {
        let obj = sample();
        let u = signed_url("https://shop.example/return", &obj, "SECRET");
        assert!(u.starts_with("https://shop.example/return?id=316004&"));
        assert!(u.contains("created_at=2024-06-25T15%3A16%3A25.910710%2B04%3A00"));
        assert!(u.contains("discount_details=%5B%5D"));
        assert!(u.contains("&order=378804&"));
        let pairs = parse_query(&u);
        let created = pairs.iter().find(|(k, _)| k == "created_at").unwrap();
        assert_eq!(created.1, "2024-06-25T15:16:25.910710+04:00");
        let given = pairs.iter().find(|(k, _)| k == "hmac").unwrap().1.clone();
        let rest: Vec<_> = pairs.into_iter().filter(|(k, _)| k != "hmac").collect();
        assert!(verify_hex(&query_hmac("SECRET", &rest), &given));
        // The GET and POST signatures cover the same values.
        assert_eq!(given, transaction_hmac("SECRET", &obj));
    }

    #[test]
    fn signed_url_separators() {
        let obj = sample();
        assert!(signed_url("https://a.example/r?x=1", &obj, "s")
            .starts_with("https://a.example/r?x=1&id="));
        assert!(
            signed_url("https://a.example/r?", &obj, "s").starts_with("https://a.example/r?id=")
        );
        let f = signed_url("https://a.example/r?x=1#top", &obj, "s");
        assert!(f.starts_with("https://a.example/r?x=1&id="));
        assert!(f.ends_with("#top"));
        assert_eq!(f.matches('#').count(), 1);
    }
}
