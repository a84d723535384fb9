//! Encryption at rest for secrets Kassa must be able to read back (webhook signing secrets and,
//! later, dialect signing keys): AES-256-GCM under a key derived from the master key, a fresh
//! random nonce per value. A value sealed under one master key does not open under another.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::secret::derive_key;

const VERSION: &str = "v1:";

#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

impl SecretBox {
    pub fn new(master_key: &[u8]) -> Self {
        SecretBox::for_purpose(master_key, "kassa secret box v1")
    }

    /// A box under its own key derived for `purpose`: what one box sealed, a box for another
    /// purpose cannot open.
    pub fn for_purpose(master_key: &[u8], purpose: &str) -> Self {
        let key = derive_key(master_key, purpose);
        SecretBox {
            cipher: Aes256Gcm::new(&key.into()),
        }
    }

    /// Whether `value` has the shape of a sealed value (it may still not open).
    pub fn looks_sealed(value: &str) -> bool {
        value.starts_with(VERSION)
    }

    pub fn seal(&self, plaintext: &str) -> String {
        let nonce_bytes: [u8; 12] = rand::random();
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce_bytes), plaintext.as_bytes())
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&ct);
        format!("{VERSION}{}", STANDARD.encode(out))
    }

    /// `None` when the value is malformed or was sealed under another key.
    pub fn open(&self, sealed: &str) -> Option<String> {
        let raw = STANDARD.decode(sealed.strip_prefix(VERSION)?).ok()?;
        if raw.len() < 12 {
            return None;
        }
        let (nonce, ct) = raw.split_at(12);
        let pt = self.cipher.decrypt(Nonce::from_slice(nonce), ct).ok()?;
        String::from_utf8(pt).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_under_the_same_master_key() {
        let a = SecretBox::new(b"master one");
        let b = SecretBox::new(b"master two");
        let sealed = a.seal("whsec_abc");
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(a.open(&sealed).as_deref(), Some("whsec_abc"));
        assert_eq!(b.open(&sealed), None);
        assert_ne!(sealed, a.seal("whsec_abc"), "nonces are fresh");
    }

    #[test]
    fn tampered_values_do_not_open() {
        let a = SecretBox::new(b"k");
        let mut sealed = a.seal("x");
        sealed.push('A');
        assert_eq!(a.open(&sealed), None);
        assert_eq!(a.open("garbage"), None);
    }
}
