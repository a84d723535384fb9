//! Paymob-style tokens (API keys, auth tokens, payment keys): standard
//! base64 of a compact HS512 JWT, so they start with `ZXlK`.

use ::hmac::{Hmac, Mac};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::Value;
use sha2::Sha512;

type HmacSha512 = Hmac<Sha512>;

const HEADER: &str = r#"{"alg":"HS512","typ":"JWT"}"#;

/// Why a token was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("bad token signature")]
    BadSignature,
    #[error("token expired")]
    Expired,
}

fn mac(key: &[u8]) -> HmacSha512 {
    HmacSha512::new_from_slice(key).expect("HMAC accepts any key length")
}

/// Signs `claims` as an HS512 JWT and wraps it in standard base64.
pub fn encode(claims: &Value, key: &[u8]) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut m = mac(key);
    m.update(signing_input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    STANDARD.encode(format!("{signing_input}.{sig}"))
}

fn json_part(part: &str) -> Result<Value, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(TokenError::Malformed),
    }
}

/// Verifies a base64-wrapped HS512 JWT and returns its claims.
///
/// A numeric `exp` claim with `now_secs >= exp` gives `Expired`.
pub fn decode(token: &str, key: &[u8], now_secs: i64) -> Result<Value, TokenError> {
    let raw = STANDARD.decode(token).map_err(|_| TokenError::Malformed)?;
    let compact = String::from_utf8(raw).map_err(|_| TokenError::Malformed)?;
    let mut parts = compact.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header = json_part(h)?;
    if header.get("alg").and_then(Value::as_str) != Some("HS512") {
        return Err(TokenError::Malformed);
    }
    match header.get("typ") {
        None => {}
        Some(Value::String(t)) if t.eq_ignore_ascii_case("JWT") => {}
        Some(_) => return Err(TokenError::Malformed),
    }
    let claims = json_part(c)?;
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| TokenError::Malformed)?;
    let mut m = mac(key);
    m.update(h.as_bytes());
    m.update(b".");
    m.update(c.as_bytes());
    m.verify_slice(&sig).map_err(|_| TokenError::BadSignature)?;
    if let Some(exp) = claims.get("exp").and_then(Value::as_f64) {
        if now_secs as f64 >= exp {
            return Err(TokenError::Expired);
        }
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &[u8] = b"server-signing-key";

    fn compact(t: &str) -> String {
        String::from_utf8(STANDARD.decode(t).unwrap()).unwrap()
    }

    #[test]
    fn round_trip_and_shape() {
        let claims = json!({"class": "Merchant", "profile_pk": 164295, "name": "initial"});
        let t = encode(&claims, KEY);
        assert!(t.starts_with("ZXlK"));
        let c = compact(&t);
        assert!(c.starts_with("eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9."));
        assert_eq!(c.split('.').count(), 3);
        assert!(!c.contains('='));
        assert_eq!(decode(&t, KEY, 0), Ok(claims));
    }

    #[test]
    fn wrong_key_or_tamper() {
        let t = encode(&json!({"user_id": 1}), KEY);
        assert_eq!(decode(&t, b"other", 0), Err(TokenError::BadSignature));
        let c = compact(&t);
        let mut parts: Vec<String> = c.split('.').map(str::to_string).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(r#"{"user_id":2}"#);
        let forged = STANDARD.encode(parts.join("."));
        assert_eq!(decode(&forged, KEY, 0), Err(TokenError::BadSignature));
        // Flip one signature character.
        let mut sig = parts[2].clone().into_bytes();
        sig[3] = if sig[3] == b'A' { b'B' } else { b'A' };
        let c2 = format!(
            "{}.{}",
            c.rsplit_once('.').unwrap().0,
            String::from_utf8(sig).unwrap()
        );
        assert_eq!(
            decode(&STANDARD.encode(c2), KEY, 0),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn malformed_inputs() {
        let t = encode(&json!({"a": 1}), KEY);
        assert_eq!(decode("", KEY, 0), Err(TokenError::Malformed));
        assert_eq!(decode("not base64!", KEY, 0), Err(TokenError::Malformed));
        // The bare compact form is not accepted.
        assert_eq!(decode(&compact(&t), KEY, 0), Err(TokenError::Malformed));
        // Missing padding.
        assert_eq!(
            decode(t.trim_end_matches('='), KEY, 0).is_err(),
            t.ends_with('=')
        );
        assert_eq!(
            decode(&STANDARD.encode("a.b"), KEY, 0),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            decode(&STANDARD.encode(format!("{}.x", compact(&t))), KEY, 0),
            Err(TokenError::Malformed)
        );
        // Another algorithm, correctly signed with HMAC-SHA512 anyway.
        let h = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
        let c = URL_SAFE_NO_PAD.encode(r#"{"a":1}"#);
        let mut m = mac(KEY);
        m.update(format!("{h}.{c}").as_bytes());
        let s = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
        assert_eq!(
            decode(&STANDARD.encode(format!("{h}.{c}.{s}")), KEY, 0),
            Err(TokenError::Malformed)
        );
        // Claims that are not an object.
        assert_eq!(
            decode(&encode(&json!([1]), KEY), KEY, 0),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn expiry() {
        let t = encode(&json!({"user_id": 1, "exp": 1000}), KEY);
        assert!(decode(&t, KEY, 999).is_ok());
        assert_eq!(decode(&t, KEY, 1000), Err(TokenError::Expired));
        assert_eq!(decode(&t, KEY, 5000), Err(TokenError::Expired));
        let no_num = encode(&json!({"exp": "1000"}), KEY);
        assert!(decode(&no_num, KEY, 5000).is_ok());
        // A bad signature is reported before expiry.
        assert_eq!(decode(&t, b"x", 5000), Err(TokenError::BadSignature));
    }
}
