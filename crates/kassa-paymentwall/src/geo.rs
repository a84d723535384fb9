//! The country of a customer: an explicit `country_code` parameter, else a lookup of the client's
//! IP address in a MaxMind DB (`.mmdb`) country database.
//!
//! Two record layouts are read:
//! - GeoLite2-Country / GeoIP2-Country: `country.iso_code`, falling back to
//!   `registered_country.iso_code` (addresses of anycast and satellite networks often have only
//!   the latter);
//! - the flat layout of the CC0 `ip-location-db` country databases: `country_code`.
//!
//! Invariants:
//! - Every country code this module returns is two ASCII letters, uppercase.
//! - A lookup never fails loudly: an address the database does not cover, a record of another
//!   layout, or an IPv6 address asked of an IPv4-only database all give `None`.
//! - [`client_ip`] believes a forwarding header only because the caller says it was set by a
//!   trusted proxy; deciding that is the caller's job.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use maxminddb::{PathElement, Reader};

/// Paths tried in order to find the country of a record.
const COUNTRY_PATHS: [&[PathElement<'static>]; 3] = [
    &[PathElement::Key("country"), PathElement::Key("iso_code")],
    &[
        PathElement::Key("registered_country"),
        PathElement::Key("iso_code"),
    ],
    &[PathElement::Key("country_code")],
];

/// A country database loaded into memory.
pub struct CountryDb {
    reader: Reader<Vec<u8>>,
}

impl CountryDb {
    /// Reads a `.mmdb` file (GeoLite2/GeoIP2-Country, or an `ip-location-db` country database).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, String> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read country database {}: {e}", path.display()))?;
        Self::from_bytes(bytes).map_err(|e| format!("country database {}: {e}", path.display()))
    }

    /// Parses a database already in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        Reader::from_source(bytes)
            .map(|reader| Self { reader })
            .map_err(|e| format!("not a valid MaxMind DB: {e}"))
    }

    /// The database's own name for its kind (metadata `database_type`, e.g. `GeoLite2-Country`).
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// The uppercase ISO 3166-1 alpha-2 code of the country `ip` belongs to, if the database
    /// knows it. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are looked up as IPv4.
    pub fn country(&self, ip: IpAddr) -> Option<String> {
        let found = self.reader.lookup(ip.to_canonical()).ok()?;
        if !found.has_data() {
            return None;
        }
        COUNTRY_PATHS.iter().find_map(|path| {
            // A type mismatch (say `country` being a plain string) just means "not this layout".
            let code: Option<String> = found.decode_path(path).ok().flatten();
            code.as_deref().and_then(valid_country_code)
        })
    }
}

impl fmt::Debug for CountryDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let meta = self.reader.metadata();
        f.debug_struct("CountryDb")
            .field("database_type", &meta.database_type)
            .field("ip_version", &meta.ip_version)
            .field("build_epoch", &meta.build_epoch)
            .finish()
    }
}

/// `s` as a country code: exactly two ASCII letters, returned uppercase; anything else is `None`.
pub fn valid_country_code(s: &str) -> Option<String> {
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic())).then(|| s.to_ascii_uppercase())
}

/// The address of the customer.
///
/// `header` is the value of a forwarding header (`X-Forwarded-For` style: comma-separated
/// addresses, possibly with spaces, ports or brackets) and must be passed only when the request
/// came through a trusted proxy. The last entry that parses as an address wins: it is the one
/// that proxy appended, while everything before it was supplied by the client and can be forged.
/// Without a header, or when no entry parses, the peer address of the connection is used.
pub fn client_ip(peer: IpAddr, header: Option<&str>) -> IpAddr {
    header
        .and_then(|h| h.rsplit(',').find_map(parse_forwarded_addr))
        .unwrap_or(peer)
}

/// One entry of a forwarding header: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:5678`, optionally quoted.
fn parse_forwarded_addr(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let entry = entry
        .strip_prefix('"')
        .and_then(|e| e.strip_suffix('"'))
        .unwrap_or(entry)
        .trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sock) = entry.parse::<SocketAddr>() {
        return Some(sock.ip());
    }
    entry
        .strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .and_then(|e| e.parse::<IpAddr>().ok())
}

/// The customer's country: a valid `country_code` parameter wins; otherwise the database's
/// answer for `ip`; `None` when neither gives one.
pub fn resolve_country(
    param: Option<&str>,
    ip: Option<IpAddr>,
    db: Option<&CountryDb>,
) -> Option<String> {
    if let Some(code) = param.and_then(valid_country_code) {
        return Some(code);
    }
    db?.country(ip?)
}

/// Writes a small GeoLite2-Country-layout database (`{"country":{"iso_code":"DE"}}`, database
/// type `GeoLite2-Country`) covering `entries` of `(CIDR, alpha-2 code)`, for tests.
///
/// The database is IPv6 with IPv4 networks in the IPv4-in-IPv6 subtree, so both IPv4 and IPv6
/// networks may be given and IPv4 lookups work. Later entries win where networks overlap. A bare
/// address is taken as a single-host network; the country code is uppercased.
#[cfg(any(test, feature = "test-db"))]
pub fn write_test_country_db(path: &Path, entries: &[(&str, &str)]) -> Result<(), String> {
    use mmdb_writer::Value;

    test_db::write(path, "GeoLite2-Country", entries, |code| {
        Value::map([("country", Value::map([("iso_code", Value::from(code))]))])
    })
}

#[cfg(any(test, feature = "test-db"))]
mod test_db {
    use std::net::IpAddr;
    use std::path::Path;
    use std::time::SystemTime;

    use mmdb_writer::ipnet::IpNet;
    use mmdb_writer::{Value, Writer};

    use super::valid_country_code;

    /// Writes a database of type `database_type` whose record for each entry is `record(code)`.
    pub(super) fn write(
        path: &Path,
        database_type: &str,
        entries: &[(&str, &str)],
        record: impl Fn(String) -> Value,
    ) -> Result<(), String> {
        let mut writer = Writer::builder(database_type)
            .description(&[("en", "Kassa test country database")])
            // Fixed timestamp: the same entries always give the same bytes.
            .build_epoch(SystemTime::UNIX_EPOCH)
            .build();
        for (cidr, country) in entries {
            let cidr = cidr.trim();
            let net = match cidr.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => cidr
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| format!("invalid network {cidr:?}"))?,
            };
            let code = valid_country_code(country)
                .ok_or_else(|| format!("invalid country code {country:?} for {cidr}"))?;
            writer
                .insert_value(net, record(code))
                .map_err(|e| format!("cannot add {cidr}: {e}"))?;
        }
        let bytes = writer
            .to_bytes()
            .map_err(|e| format!("cannot build test country database: {e}"))?;
        std::fs::write(path, bytes)
            .map_err(|e| format!("cannot write test country database {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use mmdb_writer::{IpVersion, Value, Writer};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const ENTRIES: &[(&str, &str)] = &[
        ("127.0.0.0/8", "DE"),
        ("10.0.0.0/8", "fr"),
        ("192.0.2.0/24", "US"),
        ("192.0.2.128/25", "CA"),
        ("2001:db8::/32", "JP"),
    ];

    fn check_entries(db: &CountryDb) {
        assert_eq!(db.country(ip("127.0.0.1")).as_deref(), Some("DE"));
        assert_eq!(db.country(ip("127.255.255.254")).as_deref(), Some("DE"));
        assert_eq!(db.country(ip("10.1.2.3")).as_deref(), Some("FR"));
        assert_eq!(db.country(ip("192.0.2.1")).as_deref(), Some("US"));
        // The more specific, later entry wins.
        assert_eq!(db.country(ip("192.0.2.200")).as_deref(), Some("CA"));
        assert_eq!(db.country(ip("2001:db8::42")).as_deref(), Some("JP"));
        // IPv4-mapped IPv6 form of a covered IPv4 address.
        assert_eq!(db.country(ip("::ffff:10.9.8.7")).as_deref(), Some("FR"));
        // Not covered.
        assert_eq!(db.country(ip("8.8.8.8")), None);
        assert_eq!(db.country(ip("192.0.3.1")), None);
        assert_eq!(db.country(ip("2001:db9::1")), None);
        assert_eq!(db.country(ip("::1")), None);
    }

    #[test]
    fn valid_country_codes() {
        assert_eq!(valid_country_code("de").as_deref(), Some("DE"));
        assert_eq!(valid_country_code("De").as_deref(), Some("DE"));
        assert_eq!(valid_country_code("US").as_deref(), Some("US"));
        for bad in ["", "D", "DEU", "1A", "D-", " DE", "DE ", "ÄÖ", "é", "**"] {
            assert_eq!(valid_country_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn client_ip_without_header_is_peer() {
        let peer = ip("203.0.113.7");
        assert_eq!(client_ip(peer, None), peer);
        assert_eq!(client_ip(peer, Some("")), peer);
        assert_eq!(client_ip(peer, Some("  ,  , ")), peer);
    }

    #[test]
    fn client_ip_takes_last_parsable_entry() {
        let peer = ip("10.0.0.254");
        assert_eq!(client_ip(peer, Some("1.2.3.4")), ip("1.2.3.4"));
        assert_eq!(client_ip(peer, Some("1.2.3.4, 10.0.0.1")), ip("10.0.0.1"));
        assert_eq!(client_ip(peer, Some("1.2.3.4,10.0.0.1")), ip("10.0.0.1"));
        // Garbage after the last address is skipped; garbage alone falls back to the peer.
        assert_eq!(
            client_ip(peer, Some("1.2.3.4, unknown, not-an-ip")),
            ip("1.2.3.4")
        );
        assert_eq!(client_ip(peer, Some("garbage")), peer);
        assert_eq!(client_ip(peer, Some("1.2.3, 999.1.1.1, _hidden")), peer);
        // IPv6, bare, bracketed, with port.
        assert_eq!(
            client_ip(peer, Some("1.2.3.4, 2001:db8::1")),
            ip("2001:db8::1")
        );
        assert_eq!(
            client_ip(peer, Some("[2001:db8::2]:4711")),
            ip("2001:db8::2")
        );
        assert_eq!(client_ip(peer, Some("[2001:db8::3]")), ip("2001:db8::3"));
        // IPv4 with a port, spaces and quotes.
        assert_eq!(
            client_ip(peer, Some("5.6.7.8, 1.2.3.4:8080  ")),
            ip("1.2.3.4")
        );
        assert_eq!(client_ip(peer, Some(" \"9.9.9.9\" ")), ip("9.9.9.9"));
    }

    #[test]
    fn resolve_country_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("country.mmdb");
        write_test_country_db(&path, ENTRIES).unwrap();
        let db = CountryDb::open(&path).unwrap();
        let local = Some(ip("127.0.0.1"));

        // A valid parameter wins over the database.
        assert_eq!(
            resolve_country(Some("pl"), local, Some(&db)).as_deref(),
            Some("PL")
        );
        // An invalid parameter is ignored.
        assert_eq!(
            resolve_country(Some("POL"), local, Some(&db)).as_deref(),
            Some("DE")
        );
        assert_eq!(
            resolve_country(Some(""), local, Some(&db)).as_deref(),
            Some("DE")
        );
        assert_eq!(
            resolve_country(None, local, Some(&db)).as_deref(),
            Some("DE")
        );
        // Nothing to go on.
        assert_eq!(resolve_country(None, local, None), None);
        assert_eq!(resolve_country(None, None, Some(&db)), None);
        assert_eq!(resolve_country(None, Some(ip("8.8.8.8")), Some(&db)), None);
        assert_eq!(
            resolve_country(Some("x1"), Some(ip("8.8.8.8")), Some(&db)),
            None
        );
        assert_eq!(
            resolve_country(Some("it"), None, None).as_deref(),
            Some("IT")
        );
    }

    #[test]
    fn geolite2_layout_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("GeoLite2-Country.mmdb");
        write_test_country_db(&path, ENTRIES).unwrap();

        let db = CountryDb::open(&path).unwrap();
        assert_eq!(db.database_type(), "GeoLite2-Country");
        check_entries(&db);

        // Same entries, same bytes.
        let again = dir.path().join("again.mmdb");
        write_test_country_db(&again, ENTRIES).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes, std::fs::read(&again).unwrap());

        let from_bytes = CountryDb::from_bytes(bytes).unwrap();
        check_entries(&from_bytes);
        assert!(format!("{from_bytes:?}").contains("GeoLite2-Country"));
    }

    #[test]
    fn registered_country_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registered.mmdb");
        test_db::write(
            &path,
            "GeoIP2-Country",
            &[("198.51.100.0/24", "se")],
            |code| {
                Value::map([
                    (
                        "registered_country",
                        Value::map([("iso_code", Value::from(code))]),
                    ),
                    ("continent", Value::map([("code", Value::from("EU"))])),
                ])
            },
        )
        .unwrap();
        let db = CountryDb::open(&path).unwrap();
        assert_eq!(db.country(ip("198.51.100.9")).as_deref(), Some("SE"));
    }

    #[test]
    fn flat_layout_round_trip() {
        // ip-location-db style: `{"country_code": "DE"}`, as an IPv6 database ...
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flat.mmdb");
        test_db::write(&path, "ip-location-db country", ENTRIES, |code| {
            Value::map([("country_code", Value::from(code))])
        })
        .unwrap();
        check_entries(&CountryDb::open(&path).unwrap());

        // ... and as an IPv4-only database, which cannot answer for IPv6 addresses.
        let mut writer = Writer::builder("geo-whois-asn-country")
            .ip_version(IpVersion::V4)
            .build();
        writer
            .insert_value(
                "192.0.2.0/24".parse::<mmdb_writer::ipnet::IpNet>().unwrap(),
                Value::map([("country_code", Value::from("nl"))]),
            )
            .unwrap();
        let db = CountryDb::from_bytes(writer.to_bytes().unwrap()).unwrap();
        assert_eq!(db.country(ip("192.0.2.77")).as_deref(), Some("NL"));
        assert_eq!(db.country(ip("::ffff:192.0.2.77")).as_deref(), Some("NL"));
        assert_eq!(db.country(ip("198.51.100.1")), None);
        assert_eq!(db.country(ip("2001:db8::1")), None);
    }

    #[test]
    fn records_without_a_usable_code() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("odd.mmdb");
        let mut writer = Writer::new("Odd-Country");
        let odd: [(&str, Value); 4] = [
            // `country` is a string, not a map: not a layout we know.
            ("192.0.2.0/26", Value::map([("country", Value::from("DE"))])),
            // Not a two-letter code.
            (
                "192.0.2.64/26",
                Value::map([("country", Value::map([("iso_code", Value::from("DEU"))]))]),
            ),
            // Wrong type.
            (
                "192.0.2.128/26",
                Value::map([("country_code", Value::from(49_u32))]),
            ),
            // No country at all.
            (
                "192.0.2.192/26",
                Value::map([("asn", Value::from(64_512_u32))]),
            ),
        ];
        for (net, value) in odd {
            writer
                .insert_value(net.parse::<mmdb_writer::ipnet::IpNet>().unwrap(), value)
                .unwrap();
        }
        std::fs::write(&path, writer.to_bytes().unwrap()).unwrap();
        let db = CountryDb::open(&path).unwrap();
        for host in ["192.0.2.1", "192.0.2.65", "192.0.2.129", "192.0.2.193"] {
            assert_eq!(db.country(ip(host)), None, "{host}");
        }
    }

    #[test]
    fn bad_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.mmdb");
        let err = CountryDb::open(&missing).unwrap_err();
        assert!(err.contains("missing.mmdb"), "{err}");

        let junk = dir.path().join("junk.mmdb");
        std::fs::write(&junk, b"definitely not a database").unwrap();
        assert!(CountryDb::open(&junk).is_err());
        assert!(CountryDb::from_bytes(Vec::new()).is_err());

        let path = dir.path().join("x.mmdb");
        let err = write_test_country_db(&path, &[("300.0.0.0/8", "DE")]).unwrap_err();
        assert!(err.contains("invalid network"), "{err}");
        let err = write_test_country_db(&path, &[("10.0.0.0/8", "DEU")]).unwrap_err();
        assert!(err.contains("invalid country code"), "{err}");

        // A bare address is a single host.
        write_test_country_db(&path, &[("203.0.113.5", "AU")]).unwrap();
        let db = CountryDb::open(&path).unwrap();
        assert_eq!(db.country(ip("203.0.113.5")).as_deref(), Some("AU"));
        assert_eq!(db.country(ip("203.0.113.6")), None);
    }
}
