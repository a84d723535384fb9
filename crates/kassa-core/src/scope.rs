//! Test and live mode, and the scope every merchant object lives in.
//!
//! A merchant's data is split in two: what its test keys create (paid through the sandbox, never
//! moving money) and what its live keys create. The two never see each other: every read and
//! write names a [`Scope`], the merchant *and* the mode, so a test key asking for a live object
//! gets the same "no such object" as another merchant would. The mode comes only from the
//! credential a request presents (an `sk_live_…` key, a live Paymob profile's key, a Paymentwall
//! project's live key), never from a request parameter.

use std::fmt;

/// Test or live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Payments run through the sandbox; no money moves.
    Test,
    /// Payments run through the merchant's processor account; real money moves.
    Live,
}

impl Mode {
    /// `"test"` or `"live"`, as in key prefixes (`sk_test_`, `sk_live_`).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Test => "test",
            Mode::Live => "live",
        }
    }

    /// The mode a `livemode` flag names.
    pub fn from_livemode(livemode: bool) -> Self {
        if livemode {
            Mode::Live
        } else {
            Mode::Test
        }
    }

    /// `true` for [`Mode::Live`].
    pub fn is_live(self) -> bool {
        self == Mode::Live
    }

    /// `"test"` → [`Mode::Test`], `"live"` → [`Mode::Live`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "test" => Some(Mode::Test),
            "live" => Some(Mode::Live),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whose data, in which mode: what every store read and write of a merchant's objects takes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The merchant (`mer_…`).
    pub merchant_id: String,
    /// `true` for live-mode data.
    pub livemode: bool,
}

impl Scope {
    /// The merchant's data in `mode`.
    pub fn new(merchant_id: impl Into<String>, mode: Mode) -> Self {
        Scope {
            merchant_id: merchant_id.into(),
            livemode: mode.is_live(),
        }
    }

    /// The merchant's test data.
    pub fn test(merchant_id: impl Into<String>) -> Self {
        Scope::new(merchant_id, Mode::Test)
    }

    /// The merchant's live data.
    pub fn live(merchant_id: impl Into<String>) -> Self {
        Scope::new(merchant_id, Mode::Live)
    }

    /// This scope's mode.
    pub fn mode(&self) -> Mode {
        Mode::from_livemode(self.livemode)
    }
}

/// The mode an API key's prefix names: `sk_test_`/`pk_test_` → test, `sk_live_`/`pk_live_` →
/// live; anything else is not a Kassa API key.
pub fn mode_of_api_key(key: &str) -> Option<(Mode, &'static str)> {
    const PREFIXES: [(&str, Mode, &str); 4] = [
        ("sk_test_", Mode::Test, "secret"),
        ("pk_test_", Mode::Test, "publishable"),
        ("sk_live_", Mode::Live, "secret"),
        ("pk_live_", Mode::Live, "publishable"),
    ];
    PREFIXES
        .iter()
        .find(|(p, _, _)| key.starts_with(p))
        .map(|(_, mode, kind)| (*mode, *kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_comes_from_the_key_prefix() {
        assert_eq!(mode_of_api_key("sk_test_abc"), Some((Mode::Test, "secret")));
        assert_eq!(
            mode_of_api_key("pk_test_abc"),
            Some((Mode::Test, "publishable"))
        );
        assert_eq!(mode_of_api_key("sk_live_abc"), Some((Mode::Live, "secret")));
        assert_eq!(
            mode_of_api_key("pk_live_abc"),
            Some((Mode::Live, "publishable"))
        );
        assert_eq!(mode_of_api_key("rk_live_abc"), None);
        assert_eq!(mode_of_api_key("sk_LIVE_abc"), None);
        assert_eq!(mode_of_api_key("egy_sk_live_abc"), None);
    }

    #[test]
    fn scopes_of_one_merchant_differ_by_mode() {
        let t = Scope::test("mer_1");
        let l = Scope::live("mer_1");
        assert_ne!(t, l);
        assert_eq!(t.mode(), Mode::Test);
        assert_eq!(l.mode(), Mode::Live);
        assert_eq!(Mode::parse("live"), Some(Mode::Live));
        assert_eq!(Mode::parse("LIVE"), None);
        assert_eq!(Mode::Live.to_string(), "live");
    }
}
