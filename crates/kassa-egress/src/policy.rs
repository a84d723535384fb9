//! The egress policy: which addresses may be reached (operator allow-list included), and the
//! checks of a URL's form, its IP literal host and, at registration, its resolved addresses.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use ipnet::IpNet;

use crate::addr::{classify, embedded_v4, AddrKind};
use crate::DNS_TIMEOUT;

/// Ranges an allow-list entry may not lie within (they are refused whatever it says).
const NEVER_OPENED: &[&str] = &[
    "0.0.0.0/8",
    "169.254.0.0/16",
    "224.0.0.0/4",
    "255.255.255.255/32",
    "::/128",
    "fe80::/10",
    "ff00::/8",
    "fd00:ec2::254/128",
];

/// A host-name allow-list entry: one name, or every name under a domain (`*.internal`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    /// `.internal` for `*.internal`.
    Suffix(String),
}

impl HostPattern {
    fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(h) => h == host,
            HostPattern::Suffix(s) => host.len() > s.len() && host.ends_with(s.as_str()),
        }
    }
}

/// An allow-list entry that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("egress allow-list entry `{entry}`: {reason}")]
pub struct BadEntry {
    pub entry: String,
    pub reason: String,
}

/// Which addresses Kassa may reach. See the crate documentation for the rules.
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    allow_loopback: bool,
    nets: Vec<IpNet>,
    hosts: Vec<HostPattern>,
}

/// Why a URL or an address is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not an absolute URL.
    Invalid,
    /// Not http or https.
    Scheme,
    /// No host.
    NoHost,
    /// `user:pass@` in the URL.
    UserInfo,
    /// The host is (`resolved == false`) or resolves to (`resolved == true`) an address the
    /// policy refuses.
    Address { kind: AddrKind, resolved: bool },
}

impl fmt::Display for Refusal {
    /// The reason, worded to follow the field's name: "url resolves to a loopback address, …".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Invalid => f.write_str("must be an absolute http or https URL"),
            Refusal::Scheme => f.write_str("must use http or https"),
            Refusal::NoHost => f.write_str("must name a host"),
            Refusal::UserInfo => f.write_str("must not carry a user name or password"),
            Refusal::Address { kind, resolved } => write!(
                f,
                "{} {}, which the egress policy refuses",
                if *resolved {
                    "resolves to"
                } else {
                    "points to"
                },
                kind.describe()
            ),
        }
    }
}

impl std::error::Error for Refusal {}

impl EgressPolicy {
    /// A policy that refuses every non-public address except what `allow` lists (and loopback
    /// when `allow_loopback`). Each entry is a CIDR (`10.1.0.0/16`, `fd12::/64`), one address
    /// (`10.1.2.3`, `fd12::1`), a host name (`hooks.internal`) or `*.` and a domain
    /// (`*.internal`); surrounding spaces are ignored, anything else is an error.
    pub fn new<S: AsRef<str>>(allow_loopback: bool, allow: &[S]) -> Result<Self, BadEntry> {
        let mut policy = EgressPolicy {
            allow_loopback,
            ..Default::default()
        };
        for entry in allow {
            let entry = entry.as_ref().trim();
            let bad = |reason: &str| BadEntry {
                entry: entry.to_string(),
                reason: reason.to_string(),
            };
            if entry.is_empty() {
                return Err(bad("an entry is empty"));
            }
            if entry.contains('/') {
                let net = IpNet::from_str(entry)
                    .map_err(|_| bad("not a CIDR block (write e.g. 10.1.0.0/16 or fd12::/64)"))?;
                if net != net.trunc() {
                    return Err(bad(&format!(
                        "the address has bits set past the prefix length; did you mean {}?",
                        net.trunc()
                    )));
                }
                if NEVER_OPENED
                    .iter()
                    .any(|never| IpNet::from_str(never).is_ok_and(|never| never.contains(&net)))
                {
                    return Err(bad(&format!(
                        "this is {}, which can never be allowed",
                        classify(net.network()).describe()
                    )));
                }
                policy.nets.push(net);
            } else if let Ok(ip) = IpAddr::from_str(entry) {
                if !classify(ip).openable() {
                    return Err(bad(&format!(
                        "this is {}, which can never be allowed",
                        classify(ip).describe()
                    )));
                }
                policy.nets.push(IpNet::from(ip));
            } else {
                policy.hosts.push(parse_host_pattern(entry).map_err(bad)?);
            }
        }
        Ok(policy)
    }

    /// Only public addresses: the production profile without an allow-list.
    pub fn public_only() -> Self {
        EgressPolicy::default()
    }

    /// Public addresses and loopback: the development profile without an allow-list.
    pub fn with_loopback() -> Self {
        EgressPolicy {
            allow_loopback: true,
            ..Default::default()
        }
    }

    pub fn allows_loopback(&self) -> bool {
        self.allow_loopback
    }

    /// Whether `ip` may be reached, `host` being the name it was resolved from (for host-name
    /// allow-list entries); the kind of a refused address.
    pub fn check_ip(&self, host: Option<&str>, ip: IpAddr) -> Result<(), AddrKind> {
        let kind = classify(ip);
        if kind == AddrKind::Public {
            return Ok(());
        }
        if !kind.openable() {
            return Err(kind);
        }
        if kind == AddrKind::Loopback && self.allow_loopback {
            return Ok(());
        }
        let inner = match ip {
            IpAddr::V6(v6) if !v6.is_loopback() => embedded_v4(v6).map(IpAddr::V4),
            _ => None,
        };
        let listed = self
            .nets
            .iter()
            .any(|n| n.contains(&ip) || inner.is_some_and(|i| n.contains(&i)));
        let host_listed = host
            .map(normalize_host)
            .is_some_and(|h| self.hosts.iter().any(|p| p.matches(&h)));
        if listed || host_listed {
            Ok(())
        } else {
            Err(kind)
        }
    }

    /// The checks that need no DNS: an absolute http(s) URL with a host and without
    /// `user:pass@`, whose host, when an IP literal (after WHATWG normalisation), is allowed.
    /// Names under `localhost` are taken as loopback without asking DNS.
    pub fn check_url(&self, url: &str) -> Result<url::Url, Refusal> {
        let parsed = url::Url::parse(url).map_err(|_| Refusal::Invalid)?;
        self.check_parsed(&parsed)?;
        Ok(parsed)
    }

    fn check_parsed(&self, url: &url::Url) -> Result<(), Refusal> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refusal::Scheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::UserInfo);
        }
        let literal = |ip: IpAddr| {
            self.check_ip(None, ip).map_err(|kind| Refusal::Address {
                kind,
                resolved: false,
            })
        };
        match url.host() {
            None => Err(Refusal::NoHost),
            Some(url::Host::Domain("")) => Err(Refusal::NoHost),
            Some(url::Host::Ipv4(ip)) => literal(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => literal(IpAddr::V6(ip)),
            Some(url::Host::Domain(host)) => {
                let h = normalize_host(host);
                if h == "localhost" || h.ends_with(".localhost") {
                    self.check_ip(Some(&h), IpAddr::V4(Ipv4Addr::LOCALHOST))
                        .map_err(|kind| Refusal::Address {
                            kind,
                            resolved: true,
                        })?;
                }
                Ok(())
            }
        }
    }

    /// The check when a merchant saves a URL Kassa will fetch later: [`check_url`] and then
    /// every address the host resolves to now must be allowed. A name that does not resolve
    /// (or not within [`DNS_TIMEOUT`]) is accepted; the delivery-time check still applies.
    ///
    /// [`check_url`]: EgressPolicy::check_url
    pub async fn check_registration(&self, url: &str) -> Result<(), Refusal> {
        let parsed = self.check_url(url)?;
        let Some(url::Host::Domain(host)) = parsed.host() else {
            return Ok(());
        };
        let port = parsed.port_or_known_default().unwrap_or(80);
        let lookup = tokio::net::lookup_host((host, port));
        let Ok(Ok(addrs)) = tokio::time::timeout(DNS_TIMEOUT, lookup).await else {
            return Ok(());
        };
        for addr in addrs {
            self.check_ip(Some(host), addr.ip())
                .map_err(|kind| Refusal::Address {
                    kind,
                    resolved: true,
                })?;
        }
        Ok(())
    }
}

fn normalize_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

fn parse_host_pattern(entry: &str) -> Result<HostPattern, &'static str> {
    let lower = normalize_host(entry);
    let (wild, name) = match lower.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, lower.as_str()),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(
            "not a CIDR block, an IP address or a host name (write e.g. 10.1.0.0/16, 10.1.2.3, \
             hooks.internal or *.internal)",
        );
    }
    if name
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(
            "looks like an IP address but is not one in standard form (write e.g. 10.1.2.3)",
        );
    }
    Ok(if wild {
        HostPattern::Suffix(format!(".{name}"))
    } else {
        HostPattern::Exact(name.to_string())
    })
}
