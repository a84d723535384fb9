//! The one outbound HTTP client Kassa uses for every request to a merchant (webhooks,
//! Paymentwall pingbacks, Paymob callbacks, the Test Pingback Tool), behind an egress guard
//! against server-side request forgery.
//!
//! A merchant chooses the URLs Kassa fetches, so without a guard a merchant could make Kassa
//! fetch `http://127.0.0.1/…`, a database on the private network or the cloud metadata service
//! and show what came back. [`EgressPolicy`] decides which addresses may be reached:
//!
//! * refused: loopback (127/8, `::1`), private (RFC 1918, `fc00::/7`, site-local `fec0::/10`),
//!   link-local (169.254/16, `fe80::/10`), unspecified (0/8, `::`), multicast, broadcast,
//!   carrier-grade NAT (100.64/10), documentation, benchmarking and other reserved ranges
//!   (192.0.0/24, 198.18/15, 240/4, everything outside IPv6 global unicast `2000::/3`), and the
//!   IPv6 forms that carry an IPv4 address (`::ffff:a.b.c.d`, `::a.b.c.d`, NAT64
//!   `64:ff9b::/96`, 6to4 `2002::/16`), judged by the IPv4 address inside;
//! * loopback is allowed when the policy says so (the development profile);
//! * an operator allow-list entry (a CIDR such as `10.1.0.0/16`, a single address, a host name
//!   such as `hooks.internal`, or `*.internal` for every name under it) opens what it matches,
//!   except link-local addresses, the cloud metadata addresses (169.254.169.254,
//!   `fd00:ec2::254`), unspecified, multicast and broadcast addresses, which are never opened.
//!
//! Two checks use it:
//!
//! * [`EgressPolicy::check_registration`], when a merchant saves a URL: the URL's form (http or
//!   https, a host, no `user:pass@`), an IP literal after the WHATWG normalisation of the `url`
//!   crate (`2130706433`, `0x7f.1` and `127.1` are all 127.0.0.1), and the addresses the name
//!   resolves to now. A name that does not resolve now is accepted: DNS can change, which is
//!   why the delivery-time check below exists at all.
//! * [`EgressClient`], at delivery: the same form and IP-literal check before anything is sent,
//!   and a resolver that resolves the name, keeps only the allowed addresses and hands exactly
//!   those to the connector, so the connection goes to an address that was checked (no window
//!   for DNS rebinding between check and connect). Redirects are never followed and no proxy
//!   from the environment is used. A refused target fails with [`REFUSED`], the one neutral
//!   text (`refused by egress policy`), never a network diagnosis.
#![forbid(unsafe_code)]

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

/// The one error text of a request the egress policy refused.
pub const REFUSED: &str = "refused by egress policy";

/// How long a registration check waits for DNS before accepting the name as unresolvable now.
pub const DNS_TIMEOUT: Duration = Duration::from_secs(3);

/// What kind of address an IP is, as far as the egress policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrKind {
    Public,
    Loopback,
    Private,
    LinkLocal,
    /// A cloud provider's instance metadata service outside the link-local range.
    Metadata,
    Unspecified,
    Multicast,
    Broadcast,
    /// Carrier-grade NAT, 100.64.0.0/10.
    SharedNat,
    Documentation,
    Reserved,
}

impl AddrKind {
    /// "a loopback address", for messages.
    pub fn describe(self) -> &'static str {
        match self {
            AddrKind::Public => "a public address",
            AddrKind::Loopback => "a loopback address",
            AddrKind::Private => "a private address",
            AddrKind::LinkLocal => "a link-local address",
            AddrKind::Metadata => "a cloud metadata address",
            AddrKind::Unspecified => "an unspecified address",
            AddrKind::Multicast => "a multicast address",
            AddrKind::Broadcast => "a broadcast address",
            AddrKind::SharedNat => "a carrier-grade NAT address",
            AddrKind::Documentation => "a documentation address",
            AddrKind::Reserved => "a reserved address",
        }
    }

    /// Whether an operator's allow-list entry may open addresses of this kind.
    fn openable(self) -> bool {
        matches!(
            self,
            AddrKind::Public
                | AddrKind::Loopback
                | AddrKind::Private
                | AddrKind::SharedNat
                | AddrKind::Documentation
                | AddrKind::Reserved
        )
    }
}

/// The kind of an address; IPv6 forms carrying an IPv4 address are judged by that address.
pub fn classify(ip: IpAddr) -> AddrKind {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddrKind {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        (0, _, _) => AddrKind::Unspecified,
        (10, _, _) => AddrKind::Private,
        (100, 64..=127, _) => AddrKind::SharedNat,
        (127, _, _) => AddrKind::Loopback,
        (169, 254, _) => AddrKind::LinkLocal,
        (172, 16..=31, _) => AddrKind::Private,
        (192, 0, 0) => AddrKind::Reserved,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => AddrKind::Documentation,
        (192, 88, 99) => AddrKind::Reserved,
        (192, 168, _) => AddrKind::Private,
        (198, 18..=19, _) => AddrKind::Reserved,
        (224..=239, _, _) => AddrKind::Multicast,
        _ if ip == Ipv4Addr::BROADCAST => AddrKind::Broadcast,
        (240..=255, _, _) => AddrKind::Reserved,
        _ => AddrKind::Public,
    }
}

/// AWS's IPv6 instance metadata service.
const AWS_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

fn classify_v6(ip: Ipv6Addr) -> AddrKind {
    if ip.is_unspecified() {
        return AddrKind::Unspecified;
    }
    if ip.is_loopback() {
        return AddrKind::Loopback;
    }
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    if ip == AWS_METADATA_V6 {
        return AddrKind::Metadata;
    }
    let s = ip.segments();
    if s[0] & 0xff00 == 0xff00 {
        AddrKind::Multicast
    } else if s[0] & 0xffc0 == 0xfe80 {
        AddrKind::LinkLocal
    } else if s[0] & 0xffc0 == 0xfec0 || s[0] & 0xfe00 == 0xfc00 {
        // Site-local (deprecated) and unique local addresses.
        AddrKind::Private
    } else if (s[0], s[1]) == (0x2001, 0x0db8) || s[0] & 0xfff0 == 0x3ff0 {
        AddrKind::Documentation
    } else if (s[0], s[1], s[2]) == (0x0064, 0xff9b, 0x0001) {
        // Local-use NAT64 (RFC 8215).
        AddrKind::Private
    } else if s[0] == 0x2002 {
        // 6to4: judged by the IPv4 address it carries.
        classify_v4(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ))
    } else if s[0] == 0x2001 && s[1] < 0x0200 {
        // 2001::/23, IETF protocol assignments: Teredo, benchmarking, ORCHID, …
        AddrKind::Reserved
    } else if s[0] & 0xe000 != 0x2000 {
        // Everything outside global unicast 2000::/3, e.g. the discard prefix 100::/64.
        AddrKind::Reserved
    } else {
        AddrKind::Public
    }
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated
/// (`::ffff:0:a.b.c.d`), IPv4-compatible (`::a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _]
        | [0, 0, 0, 0, 0xffff, 0, _, _]
        | [0, 0, 0, 0, 0, 0, _, _]
        | [0x0064, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail()),
        _ => None,
    }
}

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

/// The error a [`GuardedResolver`] gives for a name with no allowed address; found again in
/// the source chain of the request's error.
#[derive(Debug)]
struct RefusedByPolicy;

impl fmt::Display for RefusedByPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REFUSED)
    }
}

impl std::error::Error for RefusedByPolicy {}

/// Resolves a name and hands the connector only the addresses the policy allows.
struct GuardedResolver {
    policy: Arc<EgressPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = resolved
                .filter(|a| policy.check_ip(Some(&host), a.ip()).is_ok())
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(RefusedByPolicy) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Why a request sent through [`EgressClient`] produced no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The egress policy refused the target; nothing was sent.
    Refused,
    Timeout,
    Connect,
    Other,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Refused => REFUSED,
            SendError::Timeout => "timed out",
            SendError::Connect => "could not connect",
            SendError::Other => "request failed",
        })
    }
}

impl std::error::Error for SendError {}

/// The outbound HTTP client: the policy's resolver, no redirects, no proxy, a timeout and a
/// user agent. [`get`](Self::get) and [`post`](Self::post) check the URL's form and an IP
/// literal host before anything else; the resolver checks a name's addresses.
#[derive(Clone)]
pub struct EgressClient {
    http: reqwest::Client,
    policy: Arc<EgressPolicy>,
    timeout: Duration,
}

impl fmt::Debug for EgressClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EgressClient")
            .field("policy", &self.policy)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl EgressClient {
    pub fn new(
        policy: EgressPolicy,
        timeout: Duration,
        user_agent: &str,
    ) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(policy);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(user_agent)
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .build()?;
        Ok(EgressClient {
            http,
            policy,
            timeout,
        })
    }

    pub fn policy(&self) -> &EgressPolicy {
        &self.policy
    }

    /// The timeout of every request (a request may set another with
    /// [`EgressRequest::timeout`]).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn get(&self, url: &str) -> EgressRequest {
        self.request(reqwest::Method::GET, url)
    }

    pub fn post(&self, url: &str) -> EgressRequest {
        self.request(reqwest::Method::POST, url)
    }

    /// A request to `url`, already refused when its form or IP literal host is (reqwest does
    /// not ask the resolver about an IP literal, and moves `user:pass@` into a header).
    pub fn request(&self, method: reqwest::Method, url: &str) -> EgressRequest {
        let inner = match self.policy.check_url(url) {
            Ok(parsed) => Ok(self.http.request(method, parsed)),
            Err(_) => Err(SendError::Refused),
        };
        EgressRequest {
            inner,
            http: self.http.clone(),
        }
    }
}

/// A request being built through [`EgressClient`].
pub struct EgressRequest {
    inner: Result<reqwest::RequestBuilder, SendError>,
    http: reqwest::Client,
}

impl EgressRequest {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.inner = self.inner.map(|r| r.header(name, value));
        self
    }

    pub fn body(mut self, body: impl Into<reqwest::Body>) -> Self {
        self.inner = self.inner.map(|r| r.body(body));
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.inner = self.inner.map(|r| r.timeout(timeout));
        self
    }

    /// Sends the request; a target the policy refuses fails with [`SendError::Refused`] and
    /// nothing is sent.
    pub async fn send(self) -> Result<reqwest::Response, SendError> {
        let request = self.inner?.build().map_err(|_| SendError::Other)?;
        self.http.execute(request).await.map_err(|e| {
            if is_refusal(&e) {
                SendError::Refused
            } else if e.is_timeout() {
                SendError::Timeout
            } else if e.is_connect() {
                SendError::Connect
            } else {
                SendError::Other
            }
        })
    }
}

/// Whether the resolver's refusal is somewhere in the error's source chain.
fn is_refusal(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<RefusedByPolicy>() {
            return true;
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests;
