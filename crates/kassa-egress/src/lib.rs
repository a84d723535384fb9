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
//!
//! The crate is split by what it holds: `addr` classifies addresses, `policy` is the
//! [`EgressPolicy`] and its URL checks, `client` the [`EgressClient`] that applies it.
#![forbid(unsafe_code)]

mod addr;
mod client;
mod policy;

use std::time::Duration;

pub use addr::{classify, AddrKind};
pub use client::{EgressClient, EgressRequest, SendError};
pub use policy::{BadEntry, EgressPolicy, Refusal};

#[cfg(test)]
use client::{is_refusal, GuardedResolver};
#[cfg(test)]
use std::str::FromStr;
#[cfg(test)]
use std::sync::Arc;

/// The one error text of a request the egress policy refused.
pub const REFUSED: &str = "refused by egress policy";

/// How long a registration check waits for DNS before accepting the name as unresolvable now.
pub const DNS_TIMEOUT: Duration = Duration::from_secs(3);

#[cfg(test)]
mod tests;
