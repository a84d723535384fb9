//! The sandbox payment-systems catalog (Paymentwall's "payment systems" list, as the widget and
//! the `ps` parameter know it), which of them a project offers in which country, and their logos.
//!
//! Invariants:
//! - The catalog is fixed at compile time; ids are lowercase ASCII and unique.
//! - `test` is never configured per country: it is offered only through its own switch, and is
//!   always listed last.
//! - [`methods_for`] never returns the same method twice and keeps the configured order.

use std::collections::{BTreeMap, BTreeSet};

use crate::geo::valid_country_code;

/// What kind of flow a payment system runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MethodKind {
    /// Card form (credit / debit card).
    Card,
    /// Wallet approval (mobile or e-wallet).
    Wallet,
    /// Redirect to an online bank and back.
    BankRedirect,
    /// Printed or numbered voucher paid later in cash.
    Voucher,
    /// The Paymentwall-style test method: completes without moving money.
    Test,
}

/// One payment system of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PaymentSystem {
    /// Identifier as used in widget links (`ps=`) and pingbacks.
    pub id: &'static str,
    /// Human-readable name shown on the payment page.
    pub name: &'static str,
    /// Paymentwall's numeric payment-system type.
    pub ps_type_id: u8,
    /// Whether the method opens in a new window rather than inside the widget.
    pub new_window: bool,
    /// The flow it runs.
    pub kind: MethodKind,
    /// Whether it can be used for recurring (subscription) payments.
    pub supports_subscriptions: bool,
}

/// Id of the test method; offered only through the project's test switch.
pub const TEST_METHOD_ID: &str = "test";

/// Most entries a [`CountryMethods`] map may have (one per country code plus `"*"`).
pub const MAX_COUNTRY_METHODS_ENTRIES: usize = 250;

/// Key of [`CountryMethods`] that applies to every country without its own entry.
pub const ANY_COUNTRY: &str = "*";

static CATALOG: [PaymentSystem; 5] = [
    PaymentSystem {
        id: "cc",
        name: "Credit / debit card",
        ps_type_id: 1,
        new_window: false,
        kind: MethodKind::Card,
        supports_subscriptions: true,
    },
    PaymentSystem {
        id: "sandboxwallet",
        name: "Mobile wallet",
        ps_type_id: 5,
        new_window: true,
        kind: MethodKind::Wallet,
        supports_subscriptions: true,
    },
    PaymentSystem {
        id: "sandboxbank",
        name: "Online bank transfer",
        ps_type_id: 2,
        new_window: false,
        kind: MethodKind::BankRedirect,
        supports_subscriptions: false,
    },
    PaymentSystem {
        id: "sandboxcash",
        name: "Cash voucher",
        ps_type_id: 3,
        new_window: true,
        kind: MethodKind::Voucher,
        supports_subscriptions: false,
    },
    PaymentSystem {
        id: TEST_METHOD_ID,
        name: "Test payment method",
        ps_type_id: 0,
        new_window: false,
        kind: MethodKind::Test,
        supports_subscriptions: true,
    },
];

/// Every payment system Kassa knows, in display order (`test` last).
pub fn catalog() -> &'static [PaymentSystem] {
    &CATALOG
}

/// The payment system with this id (exact, case-sensitive match).
pub fn find(id: &str) -> Option<&'static PaymentSystem> {
    CATALOG.iter().find(|ps| ps.id == id)
}

/// The logo Kassa serves for a payment system: a small self-contained SVG (viewBox
/// `0 0 120 48`, no scripts, no external references), or `None` for an unknown id.
pub fn logo_svg(id: &str) -> Option<&'static str> {
    match id {
        "cc" => Some(include_str!("logos/cc.svg")),
        "sandboxwallet" => Some(include_str!("logos/sandboxwallet.svg")),
        "sandboxbank" => Some(include_str!("logos/sandboxbank.svg")),
        "sandboxcash" => Some(include_str!("logos/sandboxcash.svg")),
        TEST_METHOD_ID => Some(include_str!("logos/test.svg")),
        _ => None,
    }
}

/// A project's choice of methods per country: keys are uppercase ISO 3166-1 alpha-2 codes, or
/// [`ANY_COUNTRY`] (`"*"`) for every country without its own entry; values are method ids in
/// display order.
pub type CountryMethods = BTreeMap<String, Vec<String>>;

/// Checks a [`CountryMethods`] map: at most [`MAX_COUNTRY_METHODS_ENTRIES`] entries, every key
/// `"*"` or two uppercase ASCII letters, every value a known method id other than `test` (which
/// has its own switch). The error names the first problem found.
pub fn validate_country_methods(m: &CountryMethods) -> Result<(), String> {
    if m.len() > MAX_COUNTRY_METHODS_ENTRIES {
        return Err(format!(
            "too many country entries: {} (at most {MAX_COUNTRY_METHODS_ENTRIES})",
            m.len()
        ));
    }
    for (key, ids) in m {
        let key_ok =
            key == ANY_COUNTRY || (key.len() == 2 && key.bytes().all(|b| b.is_ascii_uppercase()));
        if !key_ok {
            return Err(format!(
                "invalid country key {key:?}: expected \"*\" or an uppercase ISO 3166-1 alpha-2 code"
            ));
        }
        for id in ids {
            if id == TEST_METHOD_ID {
                return Err(format!(
                    "payment method \"test\" listed for {key:?}: the test method is switched on separately"
                ));
            }
            if find(id).is_none() {
                return Err(format!("unknown payment method {id:?} listed for {key:?}"));
            }
        }
    }
    Ok(())
}

/// The configuration a new project starts with: every sandbox method except `test`, everywhere.
pub fn default_country_methods() -> CountryMethods {
    let all = CATALOG
        .iter()
        .filter(|ps| ps.id != TEST_METHOD_ID)
        .map(|ps| ps.id.to_owned())
        .collect();
    BTreeMap::from([(ANY_COUNTRY.to_owned(), all)])
}

/// The methods to offer a customer: the list configured for `country` (matched
/// case-insensitively) if there is one, else the `"*"` list, else nothing; only methods that
/// support subscriptions when `subscription`; then `test` when `test_method_on`. Configured
/// order is kept, duplicates and unknown ids are dropped, and a `test` in the map is ignored.
pub fn methods_for(
    m: &CountryMethods,
    country: Option<&str>,
    test_method_on: bool,
    subscription: bool,
) -> Vec<&'static PaymentSystem> {
    let configured = country
        .and_then(valid_country_code)
        .and_then(|code| m.get(&code))
        .or_else(|| m.get(ANY_COUNTRY));

    let test = test_method_on.then(|| find(TEST_METHOD_ID)).flatten();
    let mut seen = BTreeSet::new();
    configured
        .into_iter()
        .flatten()
        .filter(|id| id.as_str() != TEST_METHOD_ID)
        .filter_map(|id| find(id))
        .chain(test)
        .filter(|ps| !subscription || ps.supports_subscriptions)
        .filter(|ps| seen.insert(ps.id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&PaymentSystem]) -> Vec<&'static str> {
        list.iter().map(|ps| ps.id).collect()
    }

    fn map(entries: &[(&str, &[&str])]) -> CountryMethods {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn catalog_entries() {
        let all: Vec<_> = catalog().iter().map(|ps| ps.id).collect();
        assert_eq!(
            all,
            ["cc", "sandboxwallet", "sandboxbank", "sandboxcash", "test"]
        );

        let cc = find("cc").unwrap();
        assert_eq!(cc.name, "Credit / debit card");
        assert_eq!(cc.ps_type_id, 1);
        assert_eq!(cc.kind, MethodKind::Card);
        assert!(cc.supports_subscriptions);

        let wallet = find("sandboxwallet").unwrap();
        assert_eq!(
            (
                wallet.ps_type_id,
                wallet.kind,
                wallet.supports_subscriptions
            ),
            (5, MethodKind::Wallet, true)
        );

        let bank = find("sandboxbank").unwrap();
        assert_eq!(bank.name, "Online bank transfer");
        assert_eq!(
            (
                bank.ps_type_id,
                bank.kind,
                bank.new_window,
                bank.supports_subscriptions
            ),
            (2, MethodKind::BankRedirect, false, false)
        );

        let cash = find("sandboxcash").unwrap();
        assert_eq!(
            (cash.ps_type_id, cash.kind, cash.supports_subscriptions),
            (3, MethodKind::Voucher, false)
        );

        let test = find("test").unwrap();
        assert_eq!(test.name, "Test payment method");
        assert_eq!(
            (test.ps_type_id, test.kind, test.supports_subscriptions),
            (0, MethodKind::Test, true)
        );

        assert!(find("CC").is_none());
        assert!(find("").is_none());
        assert!(find("paypal").is_none());

        let unique: BTreeSet<_> = catalog().iter().map(|ps| ps.id).collect();
        assert_eq!(unique.len(), catalog().len());
    }

    #[test]
    fn default_config_is_valid_and_has_no_test() {
        let d = default_country_methods();
        assert_eq!(validate_country_methods(&d), Ok(()));
        assert_eq!(
            d,
            map(&[("*", &["cc", "sandboxwallet", "sandboxbank", "sandboxcash"])])
        );
    }

    #[test]
    fn country_hit_and_fallback() {
        let m = map(&[
            ("*", &["cc", "sandboxwallet"]),
            ("DE", &["sandboxbank", "cc"]),
        ]);
        assert_eq!(
            ids(&methods_for(&m, Some("DE"), false, false)),
            ["sandboxbank", "cc"]
        );
        // Country codes are matched case-insensitively.
        assert_eq!(
            ids(&methods_for(&m, Some("de"), false, false)),
            ["sandboxbank", "cc"]
        );
        assert_eq!(
            ids(&methods_for(&m, Some("FR"), false, false)),
            ["cc", "sandboxwallet"]
        );
        assert_eq!(
            ids(&methods_for(&m, None, false, false)),
            ["cc", "sandboxwallet"]
        );
        assert_eq!(
            ids(&methods_for(&m, Some("garbage"), false, false)),
            ["cc", "sandboxwallet"]
        );

        // No "*" entry: unlisted countries get nothing (but still the test method if on).
        let only_de = map(&[("DE", &["sandboxbank"])]);
        assert!(methods_for(&only_de, Some("FR"), false, false).is_empty());
        assert!(methods_for(&only_de, None, false, false).is_empty());
        assert_eq!(
            ids(&methods_for(&only_de, Some("FR"), true, false)),
            ["test"]
        );

        // An empty country list blocks every configured method there.
        let blocked = map(&[("*", &["cc"]), ("KP", &[])]);
        assert!(methods_for(&blocked, Some("KP"), false, false).is_empty());
    }

    #[test]
    fn subscription_filter() {
        let d = default_country_methods();
        assert_eq!(
            ids(&methods_for(&d, Some("US"), false, false)),
            ["cc", "sandboxwallet", "sandboxbank", "sandboxcash"]
        );
        assert_eq!(
            ids(&methods_for(&d, Some("US"), false, true)),
            ["cc", "sandboxwallet"]
        );
        assert_eq!(
            ids(&methods_for(&d, Some("US"), true, true)),
            ["cc", "sandboxwallet", "test"]
        );
        let bank_only = map(&[("*", &["sandboxbank", "sandboxcash"])]);
        assert!(methods_for(&bank_only, None, false, true).is_empty());
    }

    #[test]
    fn test_switch_and_no_duplicates() {
        let d = default_country_methods();
        assert_eq!(
            ids(&methods_for(&d, None, true, false)),
            ["cc", "sandboxwallet", "sandboxbank", "sandboxcash", "test"]
        );

        // Unvalidated input: duplicates, unknown ids and a configured "test" are dropped;
        // "test" only ever comes from the switch, last.
        let messy = map(&[("*", &["test", "cc", "nope", "cc", "sandboxcash", "cc"])]);
        assert_eq!(
            ids(&methods_for(&messy, None, false, false)),
            ["cc", "sandboxcash"]
        );
        assert_eq!(
            ids(&methods_for(&messy, None, true, false)),
            ["cc", "sandboxcash", "test"]
        );
    }

    #[test]
    fn validation_errors() {
        assert_eq!(validate_country_methods(&CountryMethods::new()), Ok(()));
        assert_eq!(
            validate_country_methods(&map(&[("*", &["cc"]), ("DE", &[]), ("US", &["cc"])])),
            Ok(())
        );

        let err = validate_country_methods(&map(&[("DE", &["cc", "paypal"])])).unwrap_err();
        assert!(err.contains("unknown payment method \"paypal\""), "{err}");

        let err = validate_country_methods(&map(&[("*", &["cc", "test"])])).unwrap_err();
        assert!(err.contains("\"test\""), "{err}");

        for bad_key in ["de", "DEU", "D", "", "1A", "**", "D*", " DE", "ÄÖ"] {
            let err = validate_country_methods(&map(&[(bad_key, &["cc"])])).unwrap_err();
            assert!(err.contains("invalid country key"), "{bad_key:?}: {err}");
        }

        let mut big = CountryMethods::new();
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                if big.len() == MAX_COUNTRY_METHODS_ENTRIES {
                    break;
                }
                big.insert(String::from_utf8(vec![a, b]).unwrap(), vec!["cc".into()]);
            }
        }
        assert_eq!(big.len(), MAX_COUNTRY_METHODS_ENTRIES);
        assert_eq!(validate_country_methods(&big), Ok(()));
        big.insert("*".into(), vec!["cc".into()]);
        let err = validate_country_methods(&big).unwrap_err();
        assert!(err.contains("too many"), "{err}");
    }

    #[test]
    fn logos_for_every_method() {
        for ps in catalog() {
            let svg = logo_svg(ps.id).unwrap_or_else(|| panic!("no logo for {}", ps.id));
            assert!(svg.contains("<svg"), "{}", ps.id);
            assert!(svg.contains("viewBox=\"0 0 120 48\""), "{}", ps.id);
            assert!(svg.trim_end().ends_with("</svg>"), "{}", ps.id);
            let lower = svg.to_ascii_lowercase();
            for banned in [
                "<script",
                "href",
                "url(",
                "<image",
                "<foreignobject",
                "@import",
            ] {
                assert!(!lower.contains(banned), "{} contains {banned:?}", ps.id);
            }
            // No event-handler attributes (`onload=`, `onclick =`, ...).
            for (at, _) in lower.match_indices(" on") {
                let rest = lower[at + 3..].trim_start_matches(|c: char| c.is_ascii_alphabetic());
                assert!(
                    !rest.trim_start().starts_with('='),
                    "{} has an event handler",
                    ps.id
                );
            }
            // The only URL allowed is the SVG namespace itself.
            assert_eq!(
                lower.matches("http").count(),
                lower
                    .matches("xmlns=\"http://www.w3.org/2000/svg\"")
                    .count(),
                "{}",
                ps.id
            );
            assert!(svg.len() < 4096, "{} logo is too big", ps.id);
        }
        assert!(logo_svg("paypal").is_none());
        assert!(logo_svg("").is_none());
    }
}
