//! Secrets: API keys, webhook signing secrets and the keyed hashes Kassa stores instead of them.
//! A secret's `Debug` never prints its value.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A string that must not reach logs. `Debug` prints only a redacted marker.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// SHA-256 of an API key, hex encoded. API keys carry 190 bits of randomness, so a fast hash is
/// enough to make the stored value useless to someone who reads the database.
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Constant-time equality of two byte strings (length is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// HMAC-SHA256 with an arbitrary key.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Derives a purpose-specific subkey from the master key, so that one leaked subkey (say the
/// card-fingerprint key) says nothing about the others.
pub fn derive_key(master: &[u8], purpose: &str) -> [u8; 32] {
    hmac_sha256(master, purpose.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_of_a_secret_never_shows_its_value() {
        let s = Secret::new("sk_test_supersecret");
        assert!(!format!("{s:?}").contains("supersecret"));
    }

    #[test]
    fn derived_keys_differ_by_purpose() {
        assert_ne!(derive_key(b"m", "a"), derive_key(b"m", "b"));
        assert_eq!(derive_key(b"m", "a"), derive_key(b"m", "a"));
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
