//! Money and currencies.
//!
//! Invariant: an amount of money is always an integer count of the currency's
//! minor unit (cents for USD, yen for JPY, baisa for OMR) held in an `i64`
//! between `0` and [`MAX_AMOUNT`] inclusive, tagged with a [`Currency`] from a
//! fixed table. Floating point never touches an amount: decimal strings are
//! parsed digit by digit and rejected, not rounded, when they carry more
//! fraction digits than the currency has.

use std::fmt;
use std::str::FromStr;

/// The largest amount, in minor units, that Kassa accepts.
///
/// Eleven nines keeps every sum of two valid amounts far inside `i64`, so
/// intermediate arithmetic cannot overflow before the range check runs.
pub const MAX_AMOUNT: i64 = 99_999_999_999;

/// Longest piece of caller input echoed back inside an error, so a hostile
/// multi-megabyte field does not end up verbatim in logs and API responses.
const MAX_ECHOED_INPUT_CHARS: usize = 32;

/// Errors from parsing or combining money values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The currency code is not one Kassa supports.
    #[error("unknown or unsupported currency {0:?}")]
    UnknownCurrency(String),
    /// The amount text is not a plain non-negative decimal number.
    #[error("invalid amount {0:?}: expected a non-negative decimal such as 9.99")]
    InvalidAmount(String),
    /// The amount has more fraction digits than the currency's minor unit.
    #[error("{currency} amounts allow at most {max} decimal places")]
    TooManyDecimals {
        /// Upper-case ISO 4217 code.
        currency: &'static str,
        /// The currency's exponent.
        max: u32,
    },
    /// The amount is negative or larger than [`MAX_AMOUNT`].
    #[error("amount is out of range (0 to {MAX_AMOUNT} minor units)")]
    AmountOutOfRange,
    /// Two amounts in different currencies were combined.
    #[error("amounts are in different currencies")]
    CurrencyMismatch,
}

/// One row of the currency table: upper-case code, lower-case code, exponent.
///
/// The lower-case spelling is stored rather than computed so serialising a
/// currency never allocates.
struct CurrencyInfo {
    code: &'static str,
    lower: &'static str,
    exponent: u32,
}

const fn info(code: &'static str, lower: &'static str, exponent: u32) -> CurrencyInfo {
    CurrencyInfo {
        code,
        lower,
        exponent,
    }
}

/// The currencies Kassa supports, with their ISO 4217 minor-unit exponents.
///
/// Exponents follow ISO 4217 even where card networks or local practice
/// differ (IDR is 2 here), because that is what merchants send to Stripe-style
/// APIs and what the fraction-digit check must match.
static CURRENCIES: &[CurrencyInfo] = &[
    // Exponent 0.
    info("JPY", "jpy", 0),
    info("KRW", "krw", 0),
    info("VND", "vnd", 0),
    info("CLP", "clp", 0),
    info("ISK", "isk", 0),
    info("UGX", "ugx", 0),
    info("XAF", "xaf", 0),
    info("XOF", "xof", 0),
    // Exponent 2.
    info("USD", "usd", 2),
    info("EUR", "eur", 2),
    info("GBP", "gbp", 2),
    info("EGP", "egp", 2),
    info("SAR", "sar", 2),
    info("AED", "aed", 2),
    info("PKR", "pkr", 2),
    info("CAD", "cad", 2),
    info("AUD", "aud", 2),
    info("CHF", "chf", 2),
    info("CNY", "cny", 2),
    info("INR", "inr", 2),
    info("BRL", "brl", 2),
    info("MXN", "mxn", 2),
    info("PLN", "pln", 2),
    info("SEK", "sek", 2),
    info("NOK", "nok", 2),
    info("DKK", "dkk", 2),
    info("CZK", "czk", 2),
    info("HUF", "huf", 2),
    info("TRY", "try", 2),
    info("ZAR", "zar", 2),
    info("NGN", "ngn", 2),
    info("KES", "kes", 2),
    info("MAD", "mad", 2),
    info("QAR", "qar", 2),
    info("RUB", "rub", 2),
    info("UAH", "uah", 2),
    info("IDR", "idr", 2),
    info("PHP", "php", 2),
    info("THB", "thb", 2),
    info("MYR", "myr", 2),
    info("SGD", "sgd", 2),
    info("HKD", "hkd", 2),
    info("NZD", "nzd", 2),
    info("ILS", "ils", 2),
    info("RON", "ron", 2),
    info("BGN", "bgn", 2),
    // Exponent 3.
    info("OMR", "omr", 3),
    info("KWD", "kwd", 3),
    info("BHD", "bhd", 3),
    info("JOD", "jod", 3),
    info("TND", "tnd", 3),
    info("IQD", "iqd", 3),
    info("LYD", "lyd", 3),
];

/// An ISO 4217 currency that Kassa supports.
///
/// Only [`Currency::parse`] creates one, so holding a `Currency` proves the
/// code is in the table and its exponent is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    lower: &'static str,
    exponent: u32,
}

impl Currency {
    /// Looks up a currency by its three-letter code, ignoring ASCII case.
    pub fn parse(code: &str) -> Result<Currency, MoneyError> {
        CURRENCIES
            .iter()
            .find(|c| c.code.eq_ignore_ascii_case(code))
            .map(|c| Currency {
                code: c.code,
                lower: c.lower,
                exponent: c.exponent,
            })
            .ok_or_else(|| MoneyError::UnknownCurrency(echo(code)))
    }

    /// The upper-case ISO 4217 code, e.g. `"USD"`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// How many digits the minor unit has (2 for USD, 0 for JPY, 3 for OMR).
    pub fn exponent(&self) -> u32 {
        self.exponent
    }

    /// Every supported currency, in table order.
    pub fn all() -> impl Iterator<Item = Currency> {
        CURRENCIES.iter().map(|c| Currency {
            code: c.code,
            lower: c.lower,
            exponent: c.exponent,
        })
    }

    /// Minor units per major unit: `10^exponent`.
    fn minor_per_major(&self) -> i64 {
        // Exponents in the table are at most 3, so this cannot overflow.
        10_i64.pow(self.exponent)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Lower case on the wire, as Stripe-style clients expect.
        serializer.serialize_str(self.lower)
    }
}

impl<'de> serde::Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CurrencyVisitor;

        impl serde::de::Visitor<'_> for CurrencyVisitor {
            type Value = Currency;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a three-letter ISO 4217 currency code")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Currency, E> {
                Currency::parse(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(CurrencyVisitor)
    }
}

impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "Three-letter ISO 4217 currency code in lower case (upper case is accepted).",
            ))
            .min_length(Some(3))
            .max_length(Some(3))
            .examples(["usd"])
            .into()
    }
}

impl utoipa::ToSchema for Currency {}

/// A non-negative amount of money in a currency's minor units.
///
/// The fields are public for reading and pattern matching; build values with
/// [`Money::new`] or [`Money::from_decimal_str`] so the range is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    /// Amount in minor units, between 0 and [`MAX_AMOUNT`].
    pub amount: i64,
    /// Currency of the amount.
    pub currency: Currency,
}

impl Money {
    /// Creates an amount from minor units, checking `0 <= amount <= MAX_AMOUNT`.
    pub fn new(amount: i64, currency: Currency) -> Result<Money, MoneyError> {
        if (0..=MAX_AMOUNT).contains(&amount) {
            Ok(Money { amount, currency })
        } else {
            Err(MoneyError::AmountOutOfRange)
        }
    }

    /// Parses a plain decimal such as `"9.99"` or `"10"` exactly.
    ///
    /// Only ASCII digits with at most one `.` separating a non-empty integer
    /// part from a non-empty fraction are accepted: no sign, exponent,
    /// whitespace or grouping, because each of those has produced
    /// off-by-a-factor charges somewhere. A fraction longer than the
    /// currency's exponent is an error rather than being rounded, even when
    /// the extra digits are zeros, so the caller sees the precision mismatch.
    pub fn from_decimal_str(s: &str, currency: Currency) -> Result<Money, MoneyError> {
        let invalid = || MoneyError::InvalidAmount(echo(s));
        let (int_part, frac_part) = match s.split_once('.') {
            Some((int_part, frac_part)) => (int_part, Some(frac_part)),
            None => (s, None),
        };
        if !is_ascii_digits(int_part) {
            return Err(invalid());
        }
        if let Some(frac) = frac_part {
            // An empty fraction ("1.") or a second dot ("1.2.3") is malformed.
            if !is_ascii_digits(frac) {
                return Err(invalid());
            }
            if frac.len() > currency.exponent() as usize {
                return Err(MoneyError::TooManyDecimals {
                    currency: currency.code(),
                    max: currency.exponent(),
                });
            }
        }

        let frac = frac_part.unwrap_or("");
        // Right-pad the fraction with zeros to exactly `exponent` digits, so
        // the amount is just the concatenated digits read as an integer.
        let padding = currency.exponent() as usize - frac.len();
        let digits = int_part
            .bytes()
            .chain(frac.bytes())
            .chain(std::iter::repeat_n(b'0', padding));
        let mut amount: i64 = 0;
        for digit in digits {
            amount = amount
                .checked_mul(10)
                .and_then(|a| a.checked_add(i64::from(digit - b'0')))
                .ok_or(MoneyError::AmountOutOfRange)?;
        }
        Money::new(amount, currency)
    }

    /// Formats the amount as a decimal with exactly `exponent` fraction digits.
    pub fn to_decimal_string(&self) -> String {
        let exponent = self.currency.exponent() as usize;
        if exponent == 0 {
            return self.amount.to_string();
        }
        let per_major = self.currency.minor_per_major();
        let major = self.amount / per_major;
        // `amount` is never negative, so the remainder is too.
        let minor = self.amount % per_major;
        format!("{major}.{minor:0exponent$}")
    }

    /// Adds two amounts of the same currency, checking the result's range.
    pub fn checked_add(&self, other: Money) -> Result<Money, MoneyError> {
        self.combine(other, i64::checked_add)
    }

    /// Subtracts `other`, failing if the result would be negative.
    pub fn checked_sub(&self, other: Money) -> Result<Money, MoneyError> {
        self.combine(other, i64::checked_sub)
    }

    fn combine(&self, other: Money, op: fn(i64, i64) -> Option<i64>) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch);
        }
        let amount = op(self.amount, other.amount).ok_or(MoneyError::AmountOutOfRange)?;
        Money::new(amount, self.currency)
    }
}

/// True for a non-empty string made only of ASCII digits.
///
/// `char::is_numeric` would accept Arabic-Indic and other digits, which
/// `u8` arithmetic below would then misread.
fn is_ascii_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Copies at most [`MAX_ECHOED_INPUT_CHARS`] characters of input into an error.
fn echo(input: &str) -> String {
    input.chars().take(MAX_ECHOED_INPUT_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    fn parse(s: &str, code: &str) -> Result<Money, MoneyError> {
        Money::from_decimal_str(s, cur(code))
    }

    fn minor(s: &str, code: &str) -> i64 {
        parse(s, code).unwrap().amount
    }

    #[test]
    fn parses_currency_codes_in_either_case() {
        assert_eq!(cur("usd"), cur("USD"));
        assert_eq!(cur("uSd").code(), "USD");
        assert_eq!("eur".parse::<Currency>().unwrap().code(), "EUR");
    }

    #[test]
    fn rejects_unknown_currency_codes() {
        for code in ["", "XXX", "US", "USDD", "usd ", "ｕｓｄ", "BTC"] {
            assert!(
                matches!(Currency::parse(code), Err(MoneyError::UnknownCurrency(_))),
                "{code:?} should be unknown"
            );
        }
    }

    #[test]
    fn unknown_currency_errors_do_not_echo_huge_input() {
        let huge = "x".repeat(10_000);
        let Err(MoneyError::UnknownCurrency(echoed)) = Currency::parse(&huge) else {
            panic!("expected UnknownCurrency");
        };
        assert_eq!(echoed.len(), MAX_ECHOED_INPUT_CHARS);
    }

    #[test]
    fn knows_the_exponent_of_each_class() {
        for code in ["JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"] {
            assert_eq!(cur(code).exponent(), 0, "{code}");
        }
        for code in [
            "USD", "EUR", "GBP", "EGP", "SAR", "AED", "PKR", "CAD", "AUD", "CHF", "CNY", "INR",
            "BRL", "MXN", "PLN", "SEK", "NOK", "DKK", "CZK", "HUF", "TRY", "ZAR", "NGN", "KES",
            "MAD", "QAR", "RUB", "UAH", "IDR", "PHP", "THB", "MYR", "SGD", "HKD", "NZD", "ILS",
            "RON", "BGN",
        ] {
            assert_eq!(cur(code).exponent(), 2, "{code}");
        }
        for code in ["OMR", "KWD", "BHD", "JOD", "TND", "IQD", "LYD"] {
            assert_eq!(cur(code).exponent(), 3, "{code}");
        }
    }

    #[test]
    fn currency_table_is_consistent_and_has_no_duplicates() {
        let all: Vec<Currency> = Currency::all().collect();
        assert_eq!(all.len(), CURRENCIES.len());
        for (i, c) in all.iter().enumerate() {
            assert_eq!(c.code.len(), 3);
            assert!(c.code.bytes().all(|b| b.is_ascii_uppercase()));
            assert_eq!(c.lower, c.code.to_ascii_lowercase());
            assert!(c.exponent <= 3);
            assert!(all[i + 1..].iter().all(|o| o.code != c.code), "{c} twice");
        }
    }

    #[test]
    fn displays_currency_in_upper_case() {
        assert_eq!(cur("usd").to_string(), "USD");
    }

    #[test]
    fn serialises_currency_as_lower_case_code() {
        assert_eq!(serde_json::to_string(&cur("USD")).unwrap(), "\"usd\"");
        assert_eq!(serde_json::to_string(&cur("omr")).unwrap(), "\"omr\"");
    }

    #[test]
    fn deserialises_currency_in_either_case_and_rejects_unknown() {
        let c: Currency = serde_json::from_str("\"USD\"").unwrap();
        assert_eq!(c, cur("usd"));
        let c: Currency = serde_json::from_str("\"jpy\"").unwrap();
        assert_eq!(c.exponent(), 0);
        assert!(serde_json::from_str::<Currency>("\"abc\"").is_err());
        assert!(serde_json::from_str::<Currency>("840").is_err());
    }

    #[test]
    fn currency_round_trips_through_json() {
        for c in Currency::all() {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<Currency>(&json).unwrap(), c);
        }
    }

    #[test]
    fn new_accepts_zero_and_the_maximum() {
        assert_eq!(Money::new(0, cur("usd")).unwrap().amount, 0);
        assert_eq!(
            Money::new(MAX_AMOUNT, cur("usd")).unwrap().amount,
            MAX_AMOUNT
        );
    }

    #[test]
    fn new_rejects_negative_and_too_large_amounts() {
        for amount in [-1, i64::MIN, MAX_AMOUNT + 1, i64::MAX] {
            assert_eq!(
                Money::new(amount, cur("usd")),
                Err(MoneyError::AmountOutOfRange)
            );
        }
    }

    #[test]
    fn parses_the_documented_decimal_examples() {
        assert_eq!(minor("9.99", "usd"), 999);
        assert_eq!(minor("10", "usd"), 1000);
        assert_eq!(minor("10.0", "usd"), 1000);
        assert_eq!(minor("10.00", "usd"), 1000);
        assert_eq!(minor("0.5", "usd"), 50);
        assert_eq!(minor("0.05", "usd"), 5);
        assert_eq!(minor("0", "usd"), 0);
    }

    #[test]
    fn parses_each_exponent_class() {
        assert_eq!(minor("1000", "jpy"), 1000);
        assert_eq!(minor("1.000", "omr"), 1000);
        assert_eq!(minor("1.5", "omr"), 1500);
        assert_eq!(minor("0.001", "kwd"), 1);
        assert_eq!(minor("12.34", "eur"), 1234);
    }

    #[test]
    fn rejects_malformed_amount_text() {
        for s in [
            "", "-1", "+1", "1e3", " 1", "1 ", "1.", ".5", "1,00", "١٢", "1.2.3", ".", "0x10",
            "1_000", "NaN", "inf", "1.-5", "1.+5", "９",
        ] {
            assert!(
                matches!(parse(s, "usd"), Err(MoneyError::InvalidAmount(_))),
                "{s:?} should be invalid, got {:?}",
                parse(s, "usd")
            );
        }
    }

    #[test]
    fn rejects_more_digits_than_the_currency_allows() {
        assert_eq!(
            parse("9.999", "usd"),
            Err(MoneyError::TooManyDecimals {
                currency: "USD",
                max: 2
            })
        );
        assert_eq!(
            parse("1.5", "jpy"),
            Err(MoneyError::TooManyDecimals {
                currency: "JPY",
                max: 0
            })
        );
        assert_eq!(
            parse("1.0000", "omr"),
            Err(MoneyError::TooManyDecimals {
                currency: "OMR",
                max: 3
            })
        );
    }

    #[test]
    fn rejects_trailing_zero_fractions_beyond_the_exponent() {
        // Even though "10.0" JPY is numerically whole, the precision is wrong.
        assert!(matches!(
            parse("10.0", "jpy"),
            Err(MoneyError::TooManyDecimals { .. })
        ));
        assert!(matches!(
            parse("9.990", "usd"),
            Err(MoneyError::TooManyDecimals { .. })
        ));
    }

    #[test]
    fn rejects_amounts_beyond_the_maximum() {
        assert_eq!(parse("999999999.99", "usd").unwrap().amount, MAX_AMOUNT);
        assert_eq!(
            parse("1000000000.00", "usd"),
            Err(MoneyError::AmountOutOfRange)
        );
        assert_eq!(
            parse("100000000000", "jpy"),
            Err(MoneyError::AmountOutOfRange)
        );
    }

    #[test]
    fn reports_overflowing_digit_strings_as_out_of_range() {
        let long = "9".repeat(40);
        assert_eq!(parse(&long, "usd"), Err(MoneyError::AmountOutOfRange));
        let long_fraction = format!("{}.999", "9".repeat(30));
        assert_eq!(
            parse(&long_fraction, "omr"),
            Err(MoneyError::AmountOutOfRange)
        );
    }

    #[test]
    fn tolerates_leading_zeros() {
        assert_eq!(minor("007.50", "usd"), 750);
        assert_eq!(minor("0000000000000000000000001", "jpy"), 1);
    }

    #[test]
    fn formats_the_documented_examples() {
        let m = |amount, code| Money::new(amount, cur(code)).unwrap().to_decimal_string();
        assert_eq!(m(999, "usd"), "9.99");
        assert_eq!(m(1000, "jpy"), "1000");
        assert_eq!(m(1500, "omr"), "1.500");
        assert_eq!(m(5, "usd"), "0.05");
        assert_eq!(m(0, "usd"), "0.00");
        assert_eq!(m(0, "jpy"), "0");
        assert_eq!(m(1, "kwd"), "0.001");
        assert_eq!(m(MAX_AMOUNT, "usd"), "999999999.99");
    }

    #[test]
    fn decimal_strings_round_trip_for_every_currency() {
        for c in Currency::all() {
            for amount in [
                0,
                1,
                5,
                10,
                99,
                100,
                999,
                1000,
                1001,
                123_456_789,
                MAX_AMOUNT,
            ] {
                let money = Money::new(amount, c).unwrap();
                let text = money.to_decimal_string();
                assert_eq!(
                    Money::from_decimal_str(&text, c).unwrap(),
                    money,
                    "{text} {c}"
                );
            }
        }
    }

    #[test]
    fn adds_and_subtracts_within_a_currency() {
        let usd = cur("usd");
        let a = Money::new(999, usd).unwrap();
        let b = Money::new(1, usd).unwrap();
        assert_eq!(a.checked_add(b).unwrap().amount, 1000);
        assert_eq!(a.checked_sub(b).unwrap().amount, 998);
        assert_eq!(a.checked_sub(a).unwrap().amount, 0);
    }

    #[test]
    fn refuses_to_combine_different_currencies() {
        let a = Money::new(1, cur("usd")).unwrap();
        let b = Money::new(1, cur("eur")).unwrap();
        assert_eq!(a.checked_add(b), Err(MoneyError::CurrencyMismatch));
        assert_eq!(a.checked_sub(b), Err(MoneyError::CurrencyMismatch));
    }

    #[test]
    fn subtraction_below_zero_is_out_of_range() {
        let usd = cur("usd");
        let a = Money::new(1, usd).unwrap();
        let b = Money::new(2, usd).unwrap();
        assert_eq!(a.checked_sub(b), Err(MoneyError::AmountOutOfRange));
    }

    #[test]
    fn addition_past_the_maximum_is_out_of_range() {
        let usd = cur("usd");
        let max = Money::new(MAX_AMOUNT, usd).unwrap();
        let one = Money::new(1, usd).unwrap();
        assert_eq!(max.checked_add(one), Err(MoneyError::AmountOutOfRange));
    }

    #[test]
    fn error_messages_name_the_problem() {
        let err = parse("9.999", "usd").unwrap_err();
        assert_eq!(
            err.to_string(),
            "USD amounts allow at most 2 decimal places"
        );
        let err = Currency::parse("xyz").unwrap_err();
        assert!(err.to_string().contains("xyz"));
    }
}
