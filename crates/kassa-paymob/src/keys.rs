//! Country prefixes and credential formats (spec §0).

use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use rand::{Rng, RngCore};

/// A Paymob country, selected by the key prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Country {
    Egy,
    Are,
    Sau,
    Omn,
    Pak,
}

impl Country {
    /// All countries.
    pub const ALL: [Country; 5] = [
        Country::Egy,
        Country::Are,
        Country::Sau,
        Country::Omn,
        Country::Pak,
    ];

    /// Parses an exact lower-case prefix: `egy`, `are`, `sau`, `omn`, `pak`.
    pub fn parse(prefix: &str) -> Option<Country> {
        Self::ALL.into_iter().find(|c| c.prefix() == prefix)
    }

    /// The key prefix without the underscore.
    pub fn prefix(self) -> &'static str {
        match self {
            Country::Egy => "egy",
            Country::Are => "are",
            Country::Sau => "sau",
            Country::Omn => "omn",
            Country::Pak => "pak",
        }
    }

    /// Fixed offset from UTC used for timestamps, in minutes.
    pub fn utc_offset_minutes(self) -> i32 {
        match self {
            Country::Egy => 120,
            Country::Are => 240,
            Country::Sau => 180,
            Country::Omn => 240,
            Country::Pak => 300,
        }
    }

    /// Whether timestamps carry an offset suffix (Egypt's do not).
    pub fn shows_offset(self) -> bool {
        self != Country::Egy
    }

    /// The country's currency.
    pub fn default_currency(self) -> &'static str {
        match self {
            Country::Egy => "EGP",
            Country::Are => "AED",
            Country::Sau => "SAR",
            Country::Omn => "OMR",
            Country::Pak => "PKR",
        }
    }
}

fn mode(live: bool) -> &'static str {
    if live {
        "live"
    } else {
        "test"
    }
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    OsRng.fill_bytes(&mut b);
    b
}

fn random_hex(chars: usize) -> String {
    hex::encode(random_bytes(chars / 2))
}

fn random_alnum(n: usize) -> String {
    OsRng
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// `egy_sk_test_<64 lower hex>`.
pub fn secret_key(c: Country, live: bool) -> String {
    format!("{}_sk_{}_{}", c.prefix(), mode(live), random_hex(64))
}

/// `egy_pk_test_<32 alphanumeric>`.
pub fn public_key(c: Country, live: bool) -> String {
    format!("{}_pk_{}_{}", c.prefix(), mode(live), random_alnum(32))
}

/// `egy_csk_test_<32 lower hex>`.
pub fn client_secret(c: Country, live: bool) -> String {
    format!("{}_csk_{}_{}", c.prefix(), mode(live), random_hex(32))
}

/// `pi_test_<32 lower hex>` / `pi_live_<32 lower hex>`.
pub fn intention_id(live: bool) -> String {
    format!("pi_{}_{}", mode(live), random_hex(32))
}

/// HMAC secret: 32 upper-case hex characters.
pub fn hmac_secret() -> String {
    hex::encode_upper(random_bytes(16))
}

/// Saved-card token: 56 lower-case hex characters.
pub fn card_token() -> String {
    random_hex(56)
}

/// Request id (e.g. `paymob_request_id`): 32 lower-case hex characters.
pub fn request_id() -> String {
    random_hex(32)
}

/// Kind of a prefixed credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Secret,
    Public,
    ClientSecret,
}

/// What a prefixed credential says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    pub country: Country,
    pub kind: KeyKind,
    pub live: bool,
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn parse_mode(s: &str) -> Option<bool> {
    match s {
        "test" => Some(false),
        "live" => Some(true),
        _ => None,
    }
}

/// Strictly parses a secret key, public key or client secret.
pub fn parse(key: &str) -> Option<KeyInfo> {
    let mut parts = key.splitn(4, '_');
    let country = Country::parse(parts.next()?)?;
    let kind = match parts.next()? {
        "sk" => KeyKind::Secret,
        "pk" => KeyKind::Public,
        "csk" => KeyKind::ClientSecret,
        _ => return None,
    };
    let live = parse_mode(parts.next()?)?;
    let body = parts.next()?;
    let ok = match kind {
        KeyKind::Secret => is_lower_hex(body, 64),
        KeyKind::Public => body.len() == 32 && body.bytes().all(|b| b.is_ascii_alphanumeric()),
        KeyKind::ClientSecret => is_lower_hex(body, 32),
    };
    ok.then_some(KeyInfo {
        country,
        kind,
        live,
    })
}

/// Parses an intention id; returns whether it is live.
pub fn parse_intention_id(id: &str) -> Option<bool> {
    let rest = id.strip_prefix("pi_")?;
    let (m, body) = rest.split_once('_')?;
    let live = parse_mode(m)?;
    is_lower_hex(body, 32).then_some(live)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_table() {
        for c in Country::ALL {
            assert_eq!(Country::parse(c.prefix()), Some(c));
        }
        assert_eq!(Country::parse("EGY"), None);
        assert_eq!(Country::parse("egy_"), None);
        assert_eq!(Country::parse(""), None);
        assert_eq!(Country::Are.utc_offset_minutes(), 240);
        assert_eq!(Country::Pak.utc_offset_minutes(), 300);
        assert!(!Country::Egy.shows_offset());
        assert!(Country::Sau.shows_offset());
        assert_eq!(Country::Omn.default_currency(), "OMR");
    }

    #[test]
    fn generated_keys_parse() {
        for c in Country::ALL {
            for live in [false, true] {
                let sk = secret_key(c, live);
                assert_eq!(
                    parse(&sk),
                    Some(KeyInfo {
                        country: c,
                        kind: KeyKind::Secret,
                        live
                    })
                );
                let pk = public_key(c, live);
                assert_eq!(
                    parse(&pk).map(|k| (k.kind, k.live)),
                    Some((KeyKind::Public, live))
                );
                let cs = client_secret(c, live);
                assert_eq!(
                    parse(&cs).map(|k| (k.country, k.kind)),
                    Some((c, KeyKind::ClientSecret))
                );
            }
        }
        let sk = secret_key(Country::Egy, false);
        assert!(sk.starts_with("egy_sk_test_"));
        assert_eq!(sk.len(), "egy_sk_test_".len() + 64);
        assert!(client_secret(Country::Are, true).starts_with("are_csk_live_"));
    }

    #[test]
    fn parse_rejects() {
        let sk = secret_key(Country::Egy, false);
        assert!(parse(&sk[..sk.len() - 1]).is_none());
        assert!(parse(&sk.to_uppercase()).is_none());
        assert!(parse(&sk.replace("_test_", "_prod_")).is_none());
        assert!(parse(&sk.replace("egy_", "usa_")).is_none());
        assert!(parse(&sk.replace("_sk_", "_xk_")).is_none());
        assert!(parse(&format!("{sk}0")).is_none());
        let pk = public_key(Country::Egy, false);
        assert!(parse(&pk.replacen("_pk_", "_sk_", 1)).is_none());
        assert!(parse(&format!("{}-", &pk[..pk.len() - 1])).is_none());
        assert!(parse("egy_csk_test_6734a1fc392bc179dec8f4c2495842d6").is_some());
        assert!(parse("egy_csk_test_6734A1FC392BC179DEC8F4C2495842D6").is_none());
        assert!(parse("").is_none());
        assert!(parse("egy_sk_test").is_none());
    }

    #[test]
    fn other_generators() {
        let id = intention_id(false);
        assert!(id.starts_with("pi_test_"));
        assert_eq!(parse_intention_id(&id), Some(false));
        assert_eq!(parse_intention_id(&intention_id(true)), Some(true));
        assert_eq!(
            parse_intention_id("pi_test_68dbb55a027a4a7cb127449fd84144a3"),
            Some(false)
        );
        assert_eq!(
            parse_intention_id("pi_demo_68dbb55a027a4a7cb127449fd84144a3"),
            None
        );
        let h = hmac_secret();
        assert_eq!(h.len(), 32);
        assert!(h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F')));
        let t = card_token();
        assert!(is_lower_hex(&t, 56));
        assert!(is_lower_hex(&request_id(), 32));
        assert_ne!(request_id(), request_id());
    }
}
