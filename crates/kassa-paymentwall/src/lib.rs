//! Paymentwall wire compatibility for Kassa: the widget (payment-page link) signature and the
//! pingback (server-to-server notification) signature, byte for byte as Paymentwall's official
//! SDKs compute them (spec: `shared/reference/paymentwall.md` §3 and §4).
//!
//! Invariants:
//! - Everything here but [`geo::CountryDb::open`] (which reads the configured database file) is
//!   pure: no I/O, no clocks, no randomness, no async. The same input always gives the same
//!   output, so a retried pingback carries the identical query and `sig`.
//! - Signatures are computed over the decoded values **exactly as received** (never normalised:
//!   `10`, `10.0` and `10.00` are three different amounts to sign), and every parameter except
//!   `sign` (widget) or `sig` (pingback) is signed.
//! - A widget link is accepted only when its signature verifies (constant-time comparison), under
//!   either the PHP nested ordering or the flat bytewise ordering the other SDKs use; a query with
//!   a repeated parameter name, or a v1 link carrying price or test parameters that v1 does not
//!   protect, is refused outright.
//! - A pingback is signed so that every official SDK's `Pingback.validate()` accepts it: v1 without
//!   `sign_version` over the fixed field list, v2/v3 with `sign_version` over every parameter, and
//!   Cart always v2.
//!
//! Not covered here (callers must do it): checking that values make sense (for example that
//! `ag_type` is `fixed` or `subscription` and `amount` is a decimal). The Paymentwall base string
//! has no separators, so `ag_type=fixedamount=9.99` signs the same as `ag_type=fixed` plus
//! `amount=9.99`; a value that swallows its neighbour is only caught by validating values.
#![forbid(unsafe_code)]

mod base;
mod codes;
pub mod geo;
mod hash;
pub mod methods;
mod pingback;
mod query;
mod widget;

pub use base::{signature_base, Ordering};
pub use codes::*;
#[cfg(any(test, feature = "test-db"))]
pub use geo::write_test_country_db;
pub use geo::{client_ip, resolve_country, valid_country_code, CountryDb};
pub use methods::{
    catalog, default_country_methods, find, logo_svg, methods_for, validate_country_methods,
    CountryMethods, MethodKind, PaymentSystem, ANY_COUNTRY, MAX_COUNTRY_METHODS_ENTRIES,
    TEST_METHOD_ID,
};
pub use pingback::{verify_pingback, ApiType, Pingback, RESERVED as PINGBACK_PARAMETERS};
pub use query::{encode_query, parse_query, Params, QueryError};
pub use widget::{sign_widget, verify_widget, widget_base, SignError, SignVersion};

#[cfg(test)]
mod vectors;
