//! Strict request parsing: JSON or form-encoded bodies with clear errors for malformed input,
//! ill-typed values and unknown fields (each naming its field in `param`), and query strings the
//! same way.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use kassa_core::money::{Currency, Money};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A request body: JSON, or form-encoded (`Content-Type: application/x-www-form-urlencoded`,
/// what `curl -d` sends) with Stripe's bracket conventions for nested fields
/// (`metadata[order]=42`, `payment_method_data[card][number]=…`, `enabled_events[]=*`,
/// `integrations[0][kind]=card`); form values deserialize into the typed fields (numbers,
/// booleans). A body that is a JSON object is read as JSON whatever its Content-Type says
/// (`curl -d '{…}'` labels it form-encoded). An empty body counts as `{}` (every field optional or reported missing).
///
/// A field that does not fit names itself in `param` (Stripe's bracket form) and says what it
/// needs in plain words; the refused value is never repeated (see [`redact_values`]).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let form = is_form(req.headers());
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                ApiError::new(
                    e.status(),
                    "invalid_request_error",
                    "body_invalid",
                    e.body_text(),
                )
            })?;
        // `curl -d '{"amount":…}'` without a Content-Type says form-encoded but sends JSON; no
        // form field name starts with `{`, so such a body is read as the JSON it is.
        let json_object = bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|&b| b == b'{');
        if form && !json_object {
            from_form(&bytes).map(ApiJson)
        } else {
            from_json(&bytes).map(ApiJson)
        }
    }
}

fn is_form(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Parses a JSON body into `T` (see [`ApiJson`]).
pub fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let slice: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let not_json = |e: serde_json::Error| {
        ApiError::invalid(
            None,
            format!(
                "The request body is not valid JSON: {}",
                redact_values(&e.to_string())
            ),
        )
    };
    let mut de = serde_json::Deserializer::from_slice(slice);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(t) => {
            de.end().map_err(not_json)?;
            Ok(t)
        }
        Err(e) => {
            let path = e.path().clone();
            let inner = e.into_inner();
            if inner.classify() != serde_json::error::Category::Data {
                return Err(not_json(inner));
            }
            let mut text = inner.to_string();
            if inner.line() > 0 {
                if let Some((head, _)) = text.rsplit_once(" at line ") {
                    text = head.to_string();
                }
            }
            let currency = serde_json::from_slice::<serde_json::Value>(slice)
                .ok()
                .and_then(|v| v.get("currency")?.as_str().map(str::to_string));
            Err(field_error(&path, &text, currency.as_deref(), false))
        }
    }
}

/// Parses a form-encoded body into `T` (see [`ApiJson`]).
pub fn from_form<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let config = serde_qs::Config::new()
        .max_depth(5)
        .use_form_encoding(true)
        .duplicate_key_behavior(serde_qs::DuplicateKeyBehavior::Error);
    let de = serde_qs::Deserializer::with_config(config, bytes).map_err(|e| {
        ApiError::invalid(
            None,
            format!(
                "The form-encoded request body could not be read: {}",
                redact_values(&e.to_string())
            ),
        )
    })?;
    serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
        let currency = url::form_urlencoded::parse(bytes)
            .find(|(k, _)| k == "currency")
            .map(|(_, v)| v.into_owned());
        field_error(e.path(), &e.inner().to_string(), currency.as_deref(), true)
    })
}

/// Fields that hold an amount in the currency's minor unit.
const AMOUNT_FIELDS: [&str; 2] = ["amount", "amount_to_capture"];

/// The 400 for a body that parsed but did not fit: `param` in Stripe's bracket form
/// (`payment_method_data[card][exp_month]`), the message in plain words, no refused value.
fn field_error(
    path: &serde_path_to_error::Path,
    serde_text: &str,
    currency: Option<&str>,
    form: bool,
) -> ApiError {
    use serde_path_to_error::Segment;
    let text = redact_values(serde_text);
    let mut segments: Vec<String> = path
        .iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect();
    if let Some(field) = unknown_field(&text) {
        if segments.last() != Some(&field) {
            segments.push(field);
        }
    }
    let param = match segments.split_first() {
        None => None,
        Some((first, rest)) => {
            let mut p = first.clone();
            for s in rest {
                p.push('[');
                p.push_str(s);
                p.push(']');
            }
            Some(p)
        }
    };
    let Some(param) = param else {
        return ApiError::invalid(None, format!("Invalid request: {text}."));
    };
    let leaf = segments.last().map(String::as_str).unwrap_or("");
    ApiError::invalid(
        Some(&param),
        field_message(&param, leaf, &text, currency, form),
    )
}

/// A serde error (already redacted) about `param` in plain words.
fn field_message(
    param: &str,
    leaf: &str,
    text: &str,
    currency: Option<&str>,
    form: bool,
) -> String {
    let expected = text.split_once(", expected ").map(|(_, e)| e.trim());
    if text.starts_with("missing field") {
        return format!("Missing required param: {param}.");
    }
    if text.starts_with("unknown field") {
        return match expected {
            Some(e) => format!("Received unknown parameter: {param} (expected {e})."),
            None => format!("Received unknown parameter: {param}."),
        };
    }
    let bad_value = text.starts_with("invalid type") || text.starts_with("invalid value");
    if bad_value && AMOUNT_FIELDS.contains(&leaf) {
        return amount_message(param, currency);
    }
    if text.starts_with("unknown variant") {
        if let Some(e) = expected {
            return format!("{param} must be {e}.");
        }
    }
    if let (Some(rest), Some(e)) = (text.strip_prefix("invalid type: "), expected) {
        let got = rest.split(", expected").next().unwrap_or("").trim();
        let want = expected_words(e);
        return if form || got.is_empty() {
            format!("{param} must be {want}.")
        } else {
            format!("{param} must be {want}, not {}.", got_words(got))
        };
    }
    if let (true, Some(e)) = (text.starts_with("invalid value"), expected) {
        return format!("{param} must be {}.", expected_words(e));
    }
    format!("Invalid {param}: {text}.")
}

/// "amount must be a whole number of the currency's minor unit: 1000 means USD 10.00".
fn amount_message(param: &str, currency: Option<&str>) -> String {
    let example = |code: &str| {
        let c = Currency::parse(code).ok()?;
        let m = Money::new(1000, c).ok()?;
        Some(format!("1000 means {} {}", c.code(), m.to_decimal_string()))
    };
    match currency.and_then(example) {
        Some(ex) => format!("{param} must be a whole number of the currency's minor unit: {ex}."),
        None => format!(
            "{param} must be a whole number of the currency's minor unit: 1000 means USD 10.00, \
             JPY 1000 or OMR 1.000."
        ),
    }
}

fn expected_words(e: &str) -> String {
    match e {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" => {
            "a whole number".into()
        }
        "f32" | "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a sequence" => "a list".into(),
        "a map" => "an object".into(),
        e if e.starts_with("struct ") => "an object".into(),
        e => e.to_string(),
    }
}

fn got_words(g: &str) -> String {
    match g {
        "string" => "a string".into(),
        "integer" => "an integer".into(),
        "floating point" => "a decimal number".into(),
        "boolean" => "a boolean".into(),
        "map" => "an object".into(),
        "sequence" => "a list".into(),
        g => g.to_string(),
    }
}

/// A query string.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded_compat(q).map(ApiQuery).map_err(|m| {
            ApiError::invalid(
                unknown_field(&m).as_deref(),
                format!("Invalid query: {}", redact_values(&m)),
            )
        })
    }
}

fn serde_urlencoded_compat<T: DeserializeOwned>(q: &str) -> Result<T, String> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{q}")
            .parse()
            .map_err(|_| "bad query".to_string())?,
    )
    .map(|axum::extract::Query(t)| t)
    .map_err(|e| e.body_text())
}

/// serde's "invalid type: string \"4242…\", expected …" names the value it refused; that
/// value may be a card number or a secret sent in the wrong field or type, so an error keeps
/// only its kind ("invalid type: string, expected i64").
pub fn redact_values(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    loop {
        let next = [
            "invalid type: ",
            "invalid value: ",
            "invalid length ",
            "unknown variant ",
        ]
        .iter()
        .filter_map(|m| rest.find(m).map(|i| (i, m.len())))
        .min();
        let Some((at, len)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at + len]);
        rest = &rest[at + len..];
        // The refused value runs up to ", expected"; keep its kind (the words before a quote).
        let end = rest.find(", expected").unwrap_or(rest.len());
        let value = &rest[..end];
        let kind = value
            .find(['"', '`'])
            .map_or(value, |q| &value[..q])
            .trim_end();
        if kind.is_empty() && out.ends_with(' ') {
            out.pop();
        }
        out.push_str(kind);
        rest = &rest[end..];
    }
}

/// Pulls the field name out of serde's "unknown field `x`" / "missing field `x`" messages.
fn unknown_field(msg: &str) -> Option<String> {
    for marker in ["unknown field `", "missing field `"] {
        if let Some(rest) = msg.split(marker).nth(1) {
            return rest.split('`').next().map(str::to_string);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Create {
        amount: i64,
        currency: String,
        metadata: Option<BTreeMap<String, String>>,
        capture: Option<bool>,
        mode: Option<Mode>,
        payment_method_data: Option<Pmd>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        Automatic,
        Manual,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Pmd {
        card: Card,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Card {
        number: String,
        exp_month: u32,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Endpoint {
        url: String,
        enabled_events: Vec<String>,
    }

    fn json_err(body: &str) -> ApiError {
        from_json::<Create>(body.as_bytes()).unwrap_err()
    }

    fn form_err(body: &str) -> ApiError {
        from_form::<Create>(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn an_amount_that_is_not_a_whole_number_names_the_field_and_the_minor_unit() {
        let e = json_err(r#"{"amount":"10.00","currency":"usd"}"#);
        assert_eq!(e.param.as_deref(), Some("amount"));
        assert_eq!(
            e.message,
            "amount must be a whole number of the currency's minor unit: 1000 means USD 10.00."
        );
        let e = json_err(r#"{"currency":"jpy","amount":10.5}"#);
        assert!(e.message.ends_with("1000 means JPY 1000."), "{}", e.message);
        let e = form_err("amount=10.00&currency=omr");
        assert_eq!(e.param.as_deref(), Some("amount"));
        assert!(
            e.message.ends_with("1000 means OMR 1.000."),
            "{}",
            e.message
        );
        let e = form_err("amount=10.00&currency=zzz");
        assert!(
            e.message.contains("1000 means USD 10.00, JPY 1000"),
            "{}",
            e.message
        );
    }

    #[test]
    fn type_errors_name_the_nested_field_in_brackets_without_the_value() {
        let e = json_err(
            r#"{"amount":1,"currency":"usd","payment_method_data":{"card":{"number":4242424242424242,"exp_month":1}}}"#,
        );
        assert_eq!(
            e.param.as_deref(),
            Some("payment_method_data[card][number]")
        );
        assert_eq!(
            e.message,
            "payment_method_data[card][number] must be a string, not an integer."
        );
        let e = form_err(
            "amount=1&currency=usd&payment_method_data[card][number]=1&payment_method_data[card][exp_month]=4242424242424242x",
        );
        assert_eq!(
            e.param.as_deref(),
            Some("payment_method_data[card][exp_month]")
        );
        assert!(!e.message.contains("4242"), "{}", e.message);
        assert_eq!(
            e.message,
            "payment_method_data[card][exp_month] must be a whole number."
        );
        let e = json_err(r#"{"amount":1,"currency":"usd","mode":"4242424242424242"}"#);
        assert_eq!(e.param.as_deref(), Some("mode"));
        assert!(!e.message.contains("4242"), "{}", e.message);
        assert_eq!(e.message, "mode must be `automatic` or `manual`.");
        let e = form_err("amount=1&currency=usd&capture=yes");
        assert_eq!(e.param.as_deref(), Some("capture"));
        assert_eq!(e.message, "capture must be true or false.");
    }

    #[test]
    fn unknown_and_missing_fields_are_named() {
        let e = json_err(r#"{"amount":1,"currency":"usd","colour":"red"}"#);
        assert_eq!(e.param.as_deref(), Some("colour"));
        assert!(
            e.message.starts_with("Received unknown parameter: colour"),
            "{}",
            e.message
        );
        let e = form_err("amount=1&currency=usd&payment_method_data[card][cvv]=1");
        assert_eq!(e.param.as_deref(), Some("payment_method_data[card][cvv]"));
        let e = form_err("currency=usd");
        assert_eq!(e.param.as_deref(), Some("amount"));
        assert_eq!(e.message, "Missing required param: amount.");
        let e = json_err(r#"{"amount":1"#);
        assert_eq!(e.param, None);
        assert!(
            e.message.starts_with("The request body is not valid JSON"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_form_body_fills_typed_and_nested_fields() {
        let c: Create = from_form(
            b"amount=1000&currency=usd&capture=false&mode=manual&metadata[order]=42&metadata%5Bnote%5D=a+b%26c",
        )
        .unwrap();
        assert_eq!(c.amount, 1000);
        assert_eq!(c.capture, Some(false));
        assert_eq!(c.mode, Some(Mode::Manual));
        let m = c.metadata.unwrap();
        assert_eq!(m["order"], "42");
        assert_eq!(m["note"], "a b&c");
        for body in [
            "url=https://x.example/h&enabled_events[]=*",
            "url=https://x.example/h&enabled_events[0]=*",
            "url=https%3A%2F%2Fx.example%2Fh&enabled_events%5B%5D=*",
        ] {
            let e: Endpoint = from_form(body.as_bytes()).unwrap();
            assert_eq!(e.enabled_events, vec!["*".to_string()], "{body}");
            assert_eq!(e.url, "https://x.example/h");
        }
        let e: Endpoint =
            from_form(b"url=u&enabled_events[]=refund.created&enabled_events[]=refund.succeeded")
                .unwrap();
        assert_eq!(e.enabled_events.len(), 2);
        assert!(from_form::<Create>(b"amount=1&amount=2&currency=usd").is_err());
    }

    #[test]
    fn a_refused_value_is_never_repeated_in_the_error() {
        let e = serde_json::from_str::<std::collections::HashMap<String, i64>>(
            r#"{"number":"4242424242424242"}"#,
        )
        .unwrap_err();
        let m = redact_values(&e.to_string());
        assert!(!m.contains("4242"), "{m}");
        assert!(m.starts_with("invalid type: string, expected i64"), "{m}");
        let e = serde_json::from_str::<std::collections::HashMap<String, String>>(
            r#"{"number":4242424242424242}"#,
        )
        .unwrap_err();
        let m = redact_values(&e.to_string());
        assert!(!m.contains("4242"), "{m}");
        assert!(
            m.starts_with("invalid type: integer, expected a string"),
            "{m}"
        );
        assert_eq!(
            redact_values("invalid value: string \"sk_live_x\", expected one of `a`"),
            "invalid value: string, expected one of `a`"
        );
        assert_eq!(
            redact_values("missing field `amount`"),
            "missing field `amount`"
        );
    }
}
