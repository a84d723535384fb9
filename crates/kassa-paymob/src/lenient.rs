//! Lenient readers for values that clients send as numbers or strings.

use serde_json::{Map, Value};

fn float_int(f: f64) -> Option<i64> {
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e18).then_some(f as i64)
}

/// A JSON number with an integral value.
pub(crate) fn json_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            if n.is_f64() {
                n.as_f64().and_then(float_int)
            } else {
                None
            }
        }),
        _ => None,
    }
}

/// A JSON integer, an integral float, or a string of an optional `-` and
/// 1–18 ASCII digits (no surrounding whitespace).
pub fn int(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if (1..=18).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
                s.parse().ok()
            } else {
                None
            }
        }
        other => json_int(other),
    }
}

/// A JSON bool, the integers 0/1, or one of the strings
/// `true/false/True/False/TRUE/FALSE/1/0`.
pub fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.as_str() {
            "true" | "True" | "TRUE" | "1" => Some(true),
            "false" | "False" | "FALSE" | "0" => Some(false),
            _ => None,
        },
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A JSON string, or a number rendered in decimal.
pub fn string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) => Some(crate::hmac::value_text(v)),
        _ => None,
    }
}

/// Turns the top-level booleans of an object into `"true"`/`"false"`
/// strings (the `payments/pay` response shape); other values unchanged.
pub fn stringify_booleans(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let x = match x {
                        Value::Bool(b) => Value::String(b.to_string()),
                        other => other.clone(),
                    };
                    (k.clone(), x)
                })
                .collect::<Map<String, Value>>(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ints() {
        assert_eq!(int(&json!(100)), Some(100));
        assert_eq!(int(&json!(-7)), Some(-7));
        assert_eq!(int(&json!(100.0)), Some(100));
        assert_eq!(int(&json!(100.5)), None);
        assert_eq!(int(&json!(u64::MAX)), None);
        assert_eq!(int(&json!("100")), Some(100));
        assert_eq!(int(&json!("-100")), Some(-100));
        assert_eq!(int(&json!("007")), Some(7));
        assert_eq!(
            int(&json!("999999999999999999")),
            Some(999_999_999_999_999_999)
        );
        assert_eq!(int(&json!("1000000000000000000")), None);
        assert_eq!(int(&json!(" 1")), None);
        assert_eq!(int(&json!("1 ")), None);
        assert_eq!(int(&json!("+1")), None);
        assert_eq!(int(&json!("-")), None);
        assert_eq!(int(&json!("")), None);
        assert_eq!(int(&json!("1.0")), None);
        assert_eq!(int(&json!("1e3")), None);
        assert_eq!(int(&json!(true)), None);
        assert_eq!(int(&json!(null)), None);
        assert_eq!(int(&json!([1])), None);
    }

    #[test]
    fn booleans() {
        for t in [
            json!(true),
            json!("true"),
            json!("True"),
            json!("TRUE"),
            json!("1"),
            json!(1),
        ] {
            assert_eq!(boolean(&t), Some(true), "{t}");
        }
        for f in [
            json!(false),
            json!("false"),
            json!("False"),
            json!("FALSE"),
            json!("0"),
            json!(0),
        ] {
            assert_eq!(boolean(&f), Some(false), "{f}");
        }
        for x in [
            json!("yes"),
            json!("tRue"),
            json!(""),
            json!(2),
            json!(null),
            json!({}),
        ] {
            assert_eq!(boolean(&x), None, "{x}");
        }
    }

    #[test]
    fn strings() {
        assert_eq!(string(&json!("a")), Some("a".into()));
        assert_eq!(string(&json!(12)), Some("12".into()));
        assert_eq!(string(&json!(1.5)), Some("1.5".into()));
        assert_eq!(string(&json!(true)), None);
        assert_eq!(string(&json!(null)), None);
        assert_eq!(string(&json!({})), None);
    }

    #[test]
    fn stringify() {
        let v =
            json!({"success": true, "pending": false, "id": 3, "data": {"x": true}, "s": "true"});
        assert_eq!(
            stringify_booleans(&v),
            json!({"success": "true", "pending": "false", "id": 3, "data": {"x": true}, "s": "true"})
        );
        assert_eq!(stringify_booleans(&json!([true])), json!([true]));
    }
}
