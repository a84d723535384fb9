//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256(key, "id.ts.body")>`
//! where the key is the base64 part of a `whsec_` secret. Verification is constant-time and
//! accepts any of several space-separated signatures (as sent during secret rotation).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::secret::{constant_time_eq, hmac_sha256};

pub const SECRET_PREFIX: &str = "whsec_";

/// A new signing secret: `whsec_` + base64 of 24 random bytes.
pub fn new_secret() -> String {
    let bytes: [u8; 24] = rand::random();
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The raw HMAC key of a `whsec_` secret, or `None` when it is malformed.
pub fn secret_key(secret: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .ok()
}

/// The `v1,<base64>` signature of one message under one secret.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = secret_key(secret)?;
    let mut content = Vec::with_capacity(msg_id.len() + body.len() + 24);
    content.extend_from_slice(msg_id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.to_string().as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(hmac_sha256(&key, &content))
    ))
}

/// True when one of the space-separated `v1,` signatures in `header` matches.
pub fn verify(secret: &str, msg_id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Some(expected) = sign(secret, msg_id, timestamp, body) else {
        return false;
    };
    header
        .split(' ')
        .any(|candidate| constant_time_eq(candidate.as_bytes(), expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example from the Standard Webhooks specification's reference libraries.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1614265330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_specification_example_exactly() {
        assert_eq!(
            sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY).unwrap(),
            SPEC_SIG
        );
    }

    #[test]
    fn verifies_any_of_several_signatures_and_rejects_tampering() {
        let header = format!("v1,bm90IGl0 {SPEC_SIG}");
        assert!(verify(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY, &header));
        assert!(!verify(
            SPEC_SECRET,
            SPEC_ID,
            SPEC_TS + 1,
            SPEC_BODY,
            &header
        ));
        assert!(!verify(SPEC_SECRET, SPEC_ID, SPEC_TS, b"{}", SPEC_SIG));
    }

    #[test]
    fn new_secrets_are_well_formed_and_distinct() {
        let a = new_secret();
        assert!(a.starts_with("whsec_"));
        assert_eq!(secret_key(&a).unwrap().len(), 24);
        assert_ne!(a, new_secret());
    }
}
