//! Strict request parsing: JSON bodies with clear errors for malformed input and unknown
//! fields, and query strings the same way.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body. An empty body counts as `{}` (every field optional or reported missing).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
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
        let slice: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(slice).map(ApiJson).map_err(|e| {
            let param = unknown_field(&e.to_string());
            let text = redact_values(&e.to_string());
            let message = match e.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    format!("The request body is not valid JSON: {text}")
                }
                _ => format!("Invalid request: {text}"),
            };
            ApiError::invalid(param.as_deref(), message)
        })
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
        let next = ["invalid type: ", "invalid value: ", "invalid length "]
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
