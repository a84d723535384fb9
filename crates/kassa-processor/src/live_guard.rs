//! What live mode refuses before any processor is asked: the sandbox's test data.
//!
//! A test card number is public: anyone can type it. In live mode such a payment is declined
//! by Kassa itself (`card_declined` / `test_mode_live_card`), so a merchant who forgot to swap
//! keys learns it at once and no live processor is ever sent a number that cannot pay.

use kassa_core::card::{CardNumber, Expiry};

use crate::{Decline, PaymentMethodDetails, PaymentMethodInput};

/// Card numbers published as test data: every number the sandbox's table and its test tokens
/// use, and the other well-known numbers card networks and processors publish for testing.
const KNOWN_TEST_CARDS: &[&str] = &[
    "4242424242424242",
    "4000056655665556",
    "5555555555554444",
    "2223003122003222",
    "5200828282828210",
    "5105105105105100",
    "378282246310005",
    "371449635398431",
    "6011111111111117",
    "3056930009020004",
    "36227206271667",
    "3566002020360505",
    "6200000000000005",
    "4000000000000002",
    "4000000000009995",
    "4000000000000069",
    "4000000000000127",
    "4000000000000119",
    "4000002500003155",
    "4000000000003220",
    "4000002760003184",
    "4000008400001629",
    "4000000000000341",
    "4000000000003063",
    "4000000000003178",
    "4111111111111111",
    // Paymob's published test cards.
    "5123456789012346",
    "5123450000000008",
    "4987654321098769",
];

/// Whether `method` is the sandbox's test data: a test token, Paymentwall's test method, or a
/// published test card number.
pub fn is_known_test_method(method: &PaymentMethodInput) -> bool {
    match method {
        PaymentMethodInput::TestToken(_) | PaymentMethodInput::TestMethod => true,
        PaymentMethodInput::Card { number, .. } => KNOWN_TEST_CARDS.contains(&number.digits()),
        PaymentMethodInput::Wallet { .. }
        | PaymentMethodInput::BankRedirect { .. }
        | PaymentMethodInput::Voucher => false,
    }
}

/// The storable description of `method` for a payment no processor saw (no PAN, no CVC).
pub fn details_of(method: &PaymentMethodInput, fingerprint_key: &[u8]) -> PaymentMethodDetails {
    match method {
        PaymentMethodInput::Card { number, expiry, .. } => {
            PaymentMethodDetails::for_card(number, *expiry, fingerprint_key)
        }
        PaymentMethodInput::TestToken(token) => {
            let digits = crate::sandbox::TOKEN_CARDS
                .iter()
                .find(|(t, _)| t == token)
                .map(|(_, d)| *d);
            match digits.and_then(|d| CardNumber::parse(d).ok()) {
                Some(number) => {
                    PaymentMethodDetails::for_card(&number, TOKEN_EXPIRY, fingerprint_key)
                }
                None => PaymentMethodDetails::without_number("card", ""),
            }
        }
        PaymentMethodInput::TestMethod => PaymentMethodDetails::without_number("test", "test"),
        PaymentMethodInput::Wallet { .. } => PaymentMethodDetails::without_number("wallet", ""),
        PaymentMethodInput::BankRedirect { bank } => {
            PaymentMethodDetails::without_number("bank_redirect", bank)
        }
        PaymentMethodInput::Voucher => PaymentMethodDetails::without_number("voucher", ""),
    }
}

/// Expiry shown for a test token's card (the same the sandbox gives it).
const TOKEN_EXPIRY: Expiry = Expiry {
    month: 12,
    year: 2034,
};

impl Decline {
    /// A live payment used published test data.
    pub fn test_card_in_live_mode() -> Self {
        Decline::new(
            "card_declined",
            "test_mode_live_card",
            "Your card was declined. Your request was in live mode, but used a known test card.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(digits: &str) -> PaymentMethodInput {
        PaymentMethodInput::Card {
            number: CardNumber::parse(digits).unwrap(),
            expiry: Expiry {
                month: 12,
                year: 2034,
            },
            cvc: "123".into(),
            holder_name: None,
        }
    }

    #[test]
    fn every_sandbox_card_and_token_is_test_data() {
        for (token, digits) in crate::sandbox::TOKEN_CARDS {
            assert!(is_known_test_method(&card(digits)), "{digits}");
            assert!(is_known_test_method(&PaymentMethodInput::TestToken(
                token.to_string()
            )));
        }
        assert!(is_known_test_method(&card("4000000000000341")));
        assert!(is_known_test_method(&PaymentMethodInput::TestMethod));
    }

    #[test]
    fn other_cards_and_methods_are_not() {
        // A Luhn-valid number no one publishes.
        assert!(!is_known_test_method(&card("4485275742308327")));
        assert!(!is_known_test_method(&PaymentMethodInput::Voucher));
        assert!(!is_known_test_method(&PaymentMethodInput::Wallet {
            phone: "+201000000000".into()
        }));
    }

    #[test]
    fn a_test_token_is_described_by_its_card_without_the_number() {
        let d = details_of(&PaymentMethodInput::TestToken("pm_card_visa".into()), b"k");
        assert_eq!(d.last4, "4242");
        assert_eq!(d.kind, "card");
        let json = serde_json::to_string(&d).unwrap();
        assert!(!json.contains("4242424242424242"));
        let d = Decline::test_card_in_live_mode();
        assert_eq!(d.code, "card_declined");
        assert_eq!(d.decline_code.as_deref(), Some("test_mode_live_card"));
    }
}
