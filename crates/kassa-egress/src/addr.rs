//! Address classification: what kind of address an IP is, as far as the egress policy cares.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
    pub(crate) fn openable(self) -> bool {
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
pub(crate) fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
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
