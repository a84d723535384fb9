//! Card numbers, expiry dates and security codes.
//!
//! Invariant: a [`CardNumber`] always holds 12 to 19 ASCII digits that pass
//! the Luhn check, and its full digits can leave the value only through
//! [`CardNumber::digits`]. Its `Debug` output shows just the brand and last
//! four digits, and it implements neither `Display` nor `Serialize`, so a PAN
//! cannot slip into logs, error messages or stored JSON by accident. Anything
//! that must be persisted uses the brand, BIN, last four or the keyed
//! [`CardNumber::fingerprint`] instead.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Errors from validating card data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// The number has characters other than digits, spaces and dashes, or the
    /// wrong number of digits.
    #[error("the card number is not a valid card number")]
    InvalidNumber,
    /// The digits fail the Luhn checksum, usually a typo.
    #[error("the card number is incorrect")]
    FailedLuhn,
    /// The expiry month or year is malformed.
    #[error("the card's expiry date is invalid")]
    InvalidExpiry,
    /// The expiry date is in the past.
    #[error("the card has expired")]
    Expired,
    /// The security code is malformed for the card's brand.
    #[error("the card's security code is invalid")]
    InvalidCvc,
}

/// Card network, derived from the number's issuer identification prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum CardBrand {
    /// Visa.
    #[serde(rename = "visa")]
    Visa,
    /// Mastercard.
    #[serde(rename = "mastercard")]
    Mastercard,
    /// American Express.
    #[serde(rename = "amex")]
    Amex,
    /// Discover.
    #[serde(rename = "discover")]
    Discover,
    /// JCB.
    #[serde(rename = "jcb")]
    Jcb,
    /// Diners Club.
    #[serde(rename = "diners")]
    DinersClub,
    /// UnionPay.
    #[serde(rename = "unionpay")]
    UnionPay,
    /// A valid number whose prefix matches no known network.
    #[serde(rename = "unknown")]
    Unknown,
}

impl CardBrand {
    /// Every brand, for exhaustive tests and documentation.
    pub const ALL: [CardBrand; 8] = [
        CardBrand::Visa,
        CardBrand::Mastercard,
        CardBrand::Amex,
        CardBrand::Discover,
        CardBrand::Jcb,
        CardBrand::DinersClub,
        CardBrand::UnionPay,
        CardBrand::Unknown,
    ];

    /// The lower-case wire name, identical to the serialised form.
    pub fn as_str(&self) -> &'static str {
        match self {
            CardBrand::Visa => "visa",
            CardBrand::Mastercard => "mastercard",
            CardBrand::Amex => "amex",
            CardBrand::Discover => "discover",
            CardBrand::Jcb => "jcb",
            CardBrand::DinersClub => "diners",
            CardBrand::UnionPay => "unionpay",
            CardBrand::Unknown => "unknown",
        }
    }

    /// The name to show to people, e.g. on a receipt.
    pub fn display_name(&self) -> &'static str {
        match self {
            CardBrand::Visa => "Visa",
            CardBrand::Mastercard => "Mastercard",
            CardBrand::Amex => "American Express",
            CardBrand::Discover => "Discover",
            CardBrand::Jcb => "JCB",
            CardBrand::DinersClub => "Diners Club",
            CardBrand::UnionPay => "UnionPay",
            CardBrand::Unknown => "Unknown",
        }
    }

    /// Identifies the network from the leading digits of a number.
    ///
    /// The ranges below are disjoint, so the order of the arms does not
    /// change the answer; it only follows how common each network is.
    fn from_digits(digits: &str) -> CardBrand {
        let prefix = |len: usize| -> u32 {
            // Callers only pass validated digit strings of at least 12 bytes,
            // so every prefix up to 4 digits exists and parses.
            digits.get(..len).and_then(|p| p.parse().ok()).unwrap_or(0)
        };
        let (p1, p2, p3, p4) = (prefix(1), prefix(2), prefix(3), prefix(4));
        match () {
            _ if p1 == 4 => CardBrand::Visa,
            _ if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) => CardBrand::Mastercard,
            _ if p2 == 34 || p2 == 37 => CardBrand::Amex,
            _ if p4 == 6011 || p2 == 65 || (644..=649).contains(&p3) => CardBrand::Discover,
            _ if (3528..=3589).contains(&p4) => CardBrand::Jcb,
            _ if p2 == 36 || (300..=305).contains(&p3) || p2 == 38 || p2 == 39 => {
                CardBrand::DinersClub
            }
            _ if p2 == 62 => CardBrand::UnionPay,
            _ => CardBrand::Unknown,
        }
    }
}

impl fmt::Display for CardBrand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

/// A validated primary account number.
///
/// Holds only ASCII digits (12 to 19 of them) that pass the Luhn check.
/// `Debug` prints only the brand and last four digits, e.g.
/// `CardNumber(visa ****4242)`. There is deliberately no `Display` and no
/// `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber(String);

impl CardNumber {
    /// Parses a card number as typed, ignoring spaces and dashes.
    pub fn parse(input: &str) -> Result<CardNumber, CardError> {
        let mut digits = String::with_capacity(19);
        for c in input.chars() {
            match c {
                ' ' | '-' => {}
                // Only ASCII digits: other Unicode digits would pass
                // `is_numeric` and then break the byte arithmetic below.
                // A 20th digit falls through to the error arm, which also
                // stops a huge input from being copied before it is refused.
                '0'..='9' if digits.len() < 19 => digits.push(c),
                _ => return Err(CardError::InvalidNumber),
            }
        }
        if digits.len() < 12 {
            return Err(CardError::InvalidNumber);
        }
        if !luhn_valid(&digits) {
            return Err(CardError::FailedLuhn);
        }
        Ok(CardNumber(digits))
    }

    /// The full number. Only code that talks to an acquirer should call this.
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// The card network, from the issuer identification prefix.
    pub fn brand(&self) -> CardBrand {
        CardBrand::from_digits(&self.0)
    }

    /// The first six digits (bank identification number).
    pub fn bin(&self) -> String {
        // At least 12 ASCII digits are guaranteed, so slicing is in bounds.
        self.0[..6].to_string()
    }

    /// The last four digits.
    pub fn last4(&self) -> String {
        self.0[self.0.len() - 4..].to_string()
    }

    /// A stable identifier for "the same card" that cannot reveal the number.
    ///
    /// Card numbers have so little entropy (a known BIN, a Luhn digit and
    /// about nine free digits) that a plain hash is reversed by enumeration
    /// in seconds; keying it with a server secret (HMAC-SHA256) makes that
    /// impossible without the key. 128 bits (32 hex characters) is plenty to
    /// avoid collisions while keeping stored values short.
    pub fn fingerprint(&self, key: &[u8]) -> String {
        // HMAC is defined for keys of every length, so this never fails.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .expect("HMAC-SHA256 accepts keys of any length");
        mac.update(self.0.as_bytes());
        let tag = mac.finalize().into_bytes();
        hex::encode(&tag[..16])
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CardNumber({} ****{})",
            self.brand().as_str(),
            self.last4()
        )
    }
}

impl Drop for CardNumber {
    fn drop(&mut self) {
        // Best-effort wipe so the PAN does not linger in freed heap memory.
        // `black_box` keeps the compiler from discarding the writes as dead.
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        std::hint::black_box(&bytes);
    }
}

/// The Luhn (mod 10) checksum over a string of ASCII digits.
fn luhn_valid(digits: &str) -> bool {
    // Reducing mod 10 as we go keeps the check independent of length and
    // avoids `is_multiple_of`, which is newer than the workspace's MSRV.
    let remainder = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            // Every second digit from the right is doubled; a two-digit
            // result contributes the sum of its digits, i.e. minus 9.
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .fold(0, |acc, d| (acc + d) % 10);
    remainder == 0
}

/// A card's expiry month and four-digit year.
///
/// Only [`Expiry::parse`] and [`Expiry::parse_mm_yy`] should build one: they
/// guarantee `1 <= month <= 12` and `2000 <= year <= 2099`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Expiry {
    /// Month, 1 to 12.
    pub month: u32,
    /// Four-digit year.
    pub year: u32,
}

impl Expiry {
    /// Parses separate month (`"1"`, `"01"` … `"12"`) and year (`"29"` or
    /// `"2029"`) fields. Surrounding whitespace is ignored.
    pub fn parse(month: &str, year: &str) -> Result<Expiry, CardError> {
        let month = month.trim();
        let year = year.trim();
        if !(1..=2).contains(&month.len()) || !is_ascii_digits(month) {
            return Err(CardError::InvalidExpiry);
        }
        let month: u32 = month.parse().map_err(|_| CardError::InvalidExpiry)?;
        if !(1..=12).contains(&month) {
            return Err(CardError::InvalidExpiry);
        }
        if !is_ascii_digits(year) {
            return Err(CardError::InvalidExpiry);
        }
        let year: u32 = match year.len() {
            // Two-digit years on cards always mean this century.
            2 => 2000 + year.parse::<u32>().map_err(|_| CardError::InvalidExpiry)?,
            4 => year.parse().map_err(|_| CardError::InvalidExpiry)?,
            _ => return Err(CardError::InvalidExpiry),
        };
        // Cards issued before 2000 are long expired and a year past 2099 is a
        // typo; rejecting both keeps "29" and "2029" meaning the same thing.
        if !(2000..=2099).contains(&year) {
            return Err(CardError::InvalidExpiry);
        }
        Ok(Expiry { month, year })
    }

    /// Parses a combined field: `"12/29"`, `"12 / 29"`, `"1229"`,
    /// `"12/2029"` or `"122029"`.
    pub fn parse_mm_yy(s: &str) -> Result<Expiry, CardError> {
        // People type spaces around the slash; they carry no meaning.
        let compact: String = s.chars().filter(|c| *c != ' ').collect();
        if let Some((month, year)) = compact.split_once('/') {
            return Expiry::parse(month, year);
        }
        // Without a slash the month must be zero-padded, or "1229" would be
        // ambiguous with a one-digit month and a three-digit year.
        match compact.len() {
            4 | 6 if is_ascii_digits(&compact) => Expiry::parse(&compact[..2], &compact[2..]),
            _ => Err(CardError::InvalidExpiry),
        }
    }

    /// Whether the card is expired during the given calendar month.
    ///
    /// A card is valid through the last day of its expiry month, so it is
    /// expired only once the current month is strictly after that month.
    pub fn is_expired_at(&self, year: u32, month: u32) -> bool {
        (self.year, self.month) < (year, month)
    }

    /// [`Expiry::is_expired_at`] as a `Result`, for `?` chains.
    pub fn ensure_not_expired_at(&self, year: u32, month: u32) -> Result<(), CardError> {
        if self.is_expired_at(year, month) {
            Err(CardError::Expired)
        } else {
            Ok(())
        }
    }
}

/// Checks the format of a card security code for a brand.
///
/// Amex prints a 4-digit code on the front, but some checkout forms send the
/// 3-digit code from the back, so both lengths are accepted for Amex; every
/// other brand uses exactly 3 digits. Only the format is checked here: whether
/// the code is correct is for the issuer to say.
pub fn validate_cvc(cvc: &str, brand: CardBrand) -> Result<(), CardError> {
    let length_ok = match brand {
        CardBrand::Amex => cvc.len() == 3 || cvc.len() == 4,
        _ => cvc.len() == 3,
    };
    if length_ok && is_ascii_digits(cvc) {
        Ok(())
    } else {
        Err(CardError::InvalidCvc)
    }
}

/// True for a non-empty string made only of ASCII digits.
fn is_ascii_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Well-known test numbers that must all pass the Luhn check.
    const TEST_CARDS: &[&str] = &[
        "4242424242424242",
        "5555555555554444",
        "4111111111111111",
        "5123456789012346",
        "5123450000000008",
        "378282246310005",
        "6011111111111117",
        "4000000000000002",
        "4000000000009995",
        "4000000000000069",
        "4000000000000127",
        "4000002500003155",
        "4000000000003220",
        "4000008400001629",
    ];

    fn card(s: &str) -> CardNumber {
        CardNumber::parse(s).unwrap()
    }

    #[test]
    fn accepts_every_listed_test_card() {
        for number in TEST_CARDS {
            assert_eq!(card(number).digits(), *number);
        }
    }

    #[test]
    fn strips_spaces_and_dashes() {
        assert_eq!(card("4242 4242 4242 4242").digits(), "4242424242424242");
        assert_eq!(card("4242-4242-4242-4242").digits(), "4242424242424242");
        assert_eq!(card(" 3782 822463 10005 ").digits(), "378282246310005");
    }

    #[test]
    fn rejects_numbers_that_fail_luhn() {
        assert_eq!(
            CardNumber::parse("4242424242424241"),
            Err(CardError::FailedLuhn)
        );
        assert_eq!(
            CardNumber::parse("4000000000000001"),
            Err(CardError::FailedLuhn)
        );
    }

    #[test]
    fn rejects_non_digits() {
        for s in [
            "4242x42424242424",
            "4242.4242.4242.4242",
            "4242\t4242424242424",
            "٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢",
            "４２４２４２４２４２４２４２４２",
            "",
        ] {
            assert_eq!(CardNumber::parse(s), Err(CardError::InvalidNumber), "{s:?}");
        }
    }

    #[test]
    fn rejects_too_short_and_too_long_numbers() {
        // 11 digits, Luhn-valid.
        assert_eq!(
            CardNumber::parse("42424242420"),
            Err(CardError::InvalidNumber)
        );
        // 20 digits, Luhn-valid.
        assert_eq!(
            CardNumber::parse("42424242424242424242"),
            Err(CardError::InvalidNumber)
        );
        // A very long input is refused without collecting it all.
        assert_eq!(
            CardNumber::parse(&"4".repeat(100_000)),
            Err(CardError::InvalidNumber)
        );
    }

    #[test]
    fn accepts_the_shortest_and_longest_lengths() {
        // 12 digits.
        assert_eq!(card("424242424242").digits().len(), 12);
        // 19 digits.
        assert_eq!(card("4242424242424242428").digits().len(), 19);
    }

    #[test]
    fn identifies_brands_of_the_test_cards() {
        let cases = [
            ("4242424242424242", CardBrand::Visa),
            ("4111111111111111", CardBrand::Visa),
            ("5555555555554444", CardBrand::Mastercard),
            ("5123456789012346", CardBrand::Mastercard),
            ("2223003122003222", CardBrand::Mastercard),
            ("378282246310005", CardBrand::Amex),
            ("371449635398431", CardBrand::Amex),
            ("6011111111111117", CardBrand::Discover),
            ("6500000000000002", CardBrand::Discover),
            ("6445644564456445", CardBrand::Discover),
            ("3566002020360505", CardBrand::Jcb),
            ("36227206271667", CardBrand::DinersClub),
            ("30569309025904", CardBrand::DinersClub),
            ("3841001111222225", CardBrand::DinersClub),
            ("6200000000000005", CardBrand::UnionPay),
            ("9999999999999995", CardBrand::Unknown),
        ];
        for (number, brand) in cases {
            assert_eq!(card(number).brand(), brand, "{number}");
        }
    }

    #[test]
    fn brand_ranges_have_exact_edges() {
        let b = |prefix: &str| CardBrand::from_digits(&format!("{prefix:0<16}"));
        assert_eq!(b("2220"), CardBrand::Unknown);
        assert_eq!(b("2221"), CardBrand::Mastercard);
        assert_eq!(b("2720"), CardBrand::Mastercard);
        assert_eq!(b("2721"), CardBrand::Unknown);
        assert_eq!(b("50"), CardBrand::Unknown);
        assert_eq!(b("51"), CardBrand::Mastercard);
        assert_eq!(b("55"), CardBrand::Mastercard);
        assert_eq!(b("56"), CardBrand::Unknown);
        assert_eq!(b("643"), CardBrand::Unknown);
        assert_eq!(b("644"), CardBrand::Discover);
        assert_eq!(b("649"), CardBrand::Discover);
        assert_eq!(b("6012"), CardBrand::Unknown);
        assert_eq!(b("3527"), CardBrand::Unknown);
        assert_eq!(b("3528"), CardBrand::Jcb);
        assert_eq!(b("3589"), CardBrand::Jcb);
        assert_eq!(b("3590"), CardBrand::Unknown);
        assert_eq!(b("300"), CardBrand::DinersClub);
        assert_eq!(b("305"), CardBrand::DinersClub);
        assert_eq!(b("306"), CardBrand::Unknown);
        assert_eq!(b("39"), CardBrand::DinersClub);
        assert_eq!(b("35"), CardBrand::Unknown);
        assert_eq!(b("33"), CardBrand::Unknown);
    }

    #[test]
    fn brand_names_are_lower_case_on_the_wire() {
        for brand in CardBrand::ALL {
            let json = serde_json::to_string(&brand).unwrap();
            assert_eq!(json, format!("\"{}\"", brand.as_str()));
            assert_eq!(brand.as_str(), brand.as_str().to_ascii_lowercase());
            assert_eq!(serde_json::from_str::<CardBrand>(&json).unwrap(), brand);
        }
        assert_eq!(CardBrand::Visa.display_name(), "Visa");
        assert_eq!(CardBrand::Amex.display_name(), "American Express");
    }

    #[test]
    fn debug_never_contains_the_full_number() {
        for number in TEST_CARDS {
            let shown = format!("{:?}", card(number));
            assert!(!shown.contains(number), "{shown}");
            assert!(!shown.contains(&number[..6]), "{shown} leaks the BIN");
            assert!(shown.ends_with(&format!("****{})", &number[number.len() - 4..])));
        }
        assert_eq!(
            format!("{:?}", card("4242424242424242")),
            "CardNumber(visa ****4242)"
        );
        let pretty = format!("{:#?}", Some(card("5555555555554444")));
        assert!(!pretty.contains("5555555555554444"));
    }

    #[test]
    fn exposes_bin_and_last4() {
        let c = card("4000 0025 0000 3155");
        assert_eq!(c.bin(), "400000");
        assert_eq!(c.last4(), "3155");
    }

    #[test]
    fn fingerprint_is_stable_and_key_dependent() {
        let a = card("4242424242424242").fingerprint(b"key-one");
        let b = card("4242 4242 4242 4242").fingerprint(b"key-one");
        let c = card("4242424242424242").fingerprint(b"key-two");
        let d = card("5555555555554444").fingerprint(b"key-one");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert_eq!(a.len(), 32);
        assert!(a
            .bytes()
            .all(|x| x.is_ascii_hexdigit() && !x.is_ascii_uppercase()));
        assert!(!a.contains("4242"));
    }

    #[test]
    fn fingerprint_matches_hmac_sha256_reference_vector() {
        // First pin the HMAC-SHA256 construction to RFC 4231 test case 2, so a
        // dependency swap cannot silently change every stored fingerprint.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let full = hex::encode(mac.finalize().into_bytes());
        assert_eq!(
            full,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // And the card fingerprint is the first 32 hex characters of the same MAC.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"k").unwrap();
        mac.update(b"4242424242424242");
        let full = hex::encode(mac.finalize().into_bytes());
        assert_eq!(card("4242424242424242").fingerprint(b"k"), full[..32]);
    }

    #[test]
    fn parses_expiry_fields() {
        let e = |m, y| Expiry::parse(m, y);
        assert_eq!(
            e("1", "29"),
            Ok(Expiry {
                month: 1,
                year: 2029
            })
        );
        assert_eq!(
            e("01", "2029"),
            Ok(Expiry {
                month: 1,
                year: 2029
            })
        );
        assert_eq!(
            e("12", "2034"),
            Ok(Expiry {
                month: 12,
                year: 2034
            })
        );
        assert_eq!(
            e(" 7 ", " 30 "),
            Ok(Expiry {
                month: 7,
                year: 2030
            })
        );
    }

    #[test]
    fn rejects_malformed_expiry_fields() {
        for (m, y) in [
            ("0", "29"),
            ("00", "29"),
            ("13", "29"),
            ("001", "29"),
            ("", "29"),
            ("1", ""),
            ("1", "2"),
            ("1", "202"),
            ("1", "20290"),
            ("1", "1999"),
            ("1", "2100"),
            ("-1", "29"),
            ("+1", "29"),
            ("١", "29"),
            ("1", "٢٩"),
            ("a", "29"),
        ] {
            assert_eq!(
                Expiry::parse(m, y),
                Err(CardError::InvalidExpiry),
                "{m}/{y}"
            );
        }
    }

    #[test]
    fn parses_combined_expiry_forms() {
        let dec29 = Expiry {
            month: 12,
            year: 2029,
        };
        for s in ["12/29", "12 / 29", "1229", "12/2029", "122029", " 12/29 "] {
            assert_eq!(Expiry::parse_mm_yy(s), Ok(dec29), "{s:?}");
        }
        assert_eq!(
            Expiry::parse_mm_yy("1/29"),
            Ok(Expiry {
                month: 1,
                year: 2029
            })
        );
    }

    #[test]
    fn rejects_malformed_combined_expiry() {
        for s in [
            "", "12", "12/", "/29", "13/29", "12/29/1", "12-29", "129", "12299", "1a29", "0029",
        ] {
            assert_eq!(
                Expiry::parse_mm_yy(s),
                Err(CardError::InvalidExpiry),
                "{s:?}"
            );
        }
    }

    #[test]
    fn card_is_valid_through_the_end_of_its_expiry_month() {
        let exp = Expiry {
            month: 3,
            year: 2029,
        };
        assert!(!exp.is_expired_at(2029, 3));
        assert!(!exp.is_expired_at(2029, 2));
        assert!(!exp.is_expired_at(2028, 12));
        assert!(exp.is_expired_at(2029, 4));
        assert!(exp.is_expired_at(2030, 1));
        assert_eq!(exp.ensure_not_expired_at(2029, 3), Ok(()));
        assert_eq!(exp.ensure_not_expired_at(2029, 4), Err(CardError::Expired));
    }

    #[test]
    fn december_expiry_rolls_over_into_the_next_year() {
        let exp = Expiry {
            month: 12,
            year: 2029,
        };
        assert!(!exp.is_expired_at(2029, 12));
        assert!(exp.is_expired_at(2030, 1));
    }

    #[test]
    fn expiry_serialises_month_and_year() {
        let json = serde_json::to_string(&Expiry {
            month: 12,
            year: 2034,
        })
        .unwrap();
        assert_eq!(json, r#"{"month":12,"year":2034}"#);
    }

    #[test]
    fn accepts_three_digit_cvc_for_every_brand() {
        for brand in CardBrand::ALL {
            assert_eq!(validate_cvc("123", brand), Ok(()), "{brand:?}");
        }
    }

    #[test]
    fn accepts_four_digit_cvc_only_for_amex() {
        assert_eq!(validate_cvc("1234", CardBrand::Amex), Ok(()));
        assert_eq!(
            validate_cvc("1234", CardBrand::Visa),
            Err(CardError::InvalidCvc)
        );
    }

    #[test]
    fn rejects_malformed_cvc() {
        for cvc in ["", "1", "12", "12345", "12a", " 123", "١٢٣", "-12"] {
            for brand in [CardBrand::Visa, CardBrand::Amex] {
                assert_eq!(
                    validate_cvc(cvc, brand),
                    Err(CardError::InvalidCvc),
                    "{cvc:?} {brand:?}"
                );
            }
        }
    }
}
