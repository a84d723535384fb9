//! The safe description of the method a payment used, as a processor reports it and Kassa
//! stores it on the payment and on a saved card: kind, brand, last four, expiry and a keyed
//! fingerprint. Never a card number, a security code or a full phone number.

use crate::card::{CardNumber, Expiry};
use crate::secret::hmac_sha256;

/// Safe-to-store description of the method used (no PAN, no CVC, no full
/// phone number).
///
/// Reading is lenient (a missing field takes its empty value), so a description stored by an
/// older version still reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PaymentMethodDetails {
    /// `"card"`, `"wallet"`, `"bank_redirect"`, `"voucher"` or `"test"`.
    pub kind: String,
    /// Lower-case brand, e.g. `"visa"`; for other kinds `"sandbox_wallet"`,
    /// the bank code, `"sandbox_voucher"` or `"test"`.
    pub brand: String,
    /// First six digits, when the processor reports them (cards only).
    pub bin: Option<String>,
    /// Last four digits of the card or of the wallet's phone number; empty
    /// for other kinds.
    pub last4: String,
    /// Expiry month, 1 to 12; 0 for methods that do not expire.
    pub exp_month: u32,
    /// Four-digit expiry year; 0 for methods that do not expire.
    pub exp_year: u32,
    /// Keyed fingerprint from [`CardNumber::fingerprint`] (or of the phone
    /// number for a wallet), equal for equal cards or phones under the same
    /// key; empty for other kinds.
    pub fingerprint: String,
    /// The saved payment method (`pm_…`) that paid, when a saved card was charged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl PaymentMethodDetails {
    /// Describes a card using only the parts that are safe to store.
    pub fn for_card(number: &CardNumber, expiry: Expiry, fingerprint_key: &[u8]) -> Self {
        PaymentMethodDetails {
            kind: "card".to_string(),
            brand: number.brand().as_str().to_string(),
            bin: Some(number.bin()),
            last4: number.last4(),
            exp_month: expiry.month,
            exp_year: expiry.year,
            fingerprint: number.fingerprint(fingerprint_key),
            id: None,
        }
    }

    /// A method that is neither a card nor a wallet: no number, no expiry,
    /// no fingerprint.
    pub fn without_number(kind: &str, brand: &str) -> Self {
        PaymentMethodDetails {
            kind: kind.to_string(),
            brand: brand.to_string(),
            bin: None,
            last4: String::new(),
            exp_month: 0,
            exp_year: 0,
            fingerprint: String::new(),
            id: None,
        }
    }

    /// Describes a wallet by the digits of its phone number (as returned by
    /// [`phone_digits`]), keeping only the last four and a keyed fingerprint.
    ///
    /// The fingerprint is built like a card's — HMAC-SHA256 under the
    /// fingerprint key, first 128 bits in lower-case hex — over the digits
    /// behind a `"phone:"` label, so a phone number can never share a
    /// fingerprint with a card number made of the same digits.
    pub fn for_wallet(phone_digits: &str, fingerprint_key: &[u8]) -> Self {
        let mut labelled = Vec::with_capacity(6 + phone_digits.len());
        labelled.extend_from_slice(b"phone:");
        labelled.extend_from_slice(phone_digits.as_bytes());
        let tag = hmac_sha256(fingerprint_key, &labelled);
        let mut details = PaymentMethodDetails::without_number("wallet", "sandbox_wallet");
        details.last4 = phone_digits[phone_digits.len().saturating_sub(4)..].to_string();
        details.fingerprint = lower_hex(&tag[..16]);
        details
    }
}

/// Lower-case hexadecimal, two characters a byte.
fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

impl PaymentMethodDetails {
    /// Whether a card was typed in for this payment (not a saved card charged again).
    pub fn is_new_card(&self) -> bool {
        self.kind == "card" && self.id.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_description_round_trips_and_old_shapes_still_read() {
        let number = CardNumber::parse("4242424242424242").unwrap();
        let d = PaymentMethodDetails::for_card(&number, Expiry::parse("12", "2034").unwrap(), b"k");
        let v = serde_json::to_value(&d).unwrap();
        assert!(v.get("id").is_none(), "no id unless a saved card paid");
        assert_eq!(v["last4"], "4242");
        assert_eq!(
            serde_json::from_value::<PaymentMethodDetails>(v).unwrap(),
            d
        );
        assert!(d.is_new_card());
        let saved = PaymentMethodDetails {
            id: Some("pm_1".into()),
            ..d
        };
        assert!(!saved.is_new_card());
        let old: PaymentMethodDetails =
            serde_json::from_str(r#"{"kind": "card", "brand": "visa", "last4": "4242"}"#).unwrap();
        assert_eq!((old.exp_month, old.bin, old.id), (0, None, None));
        let wallet = PaymentMethodDetails::for_wallet("4915112345678", b"k");
        assert_eq!(
            (wallet.kind.as_str(), wallet.last4.as_str()),
            ("wallet", "5678")
        );
        assert!(!wallet.is_new_card());
    }
}
