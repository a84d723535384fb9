//! The widget (payment-page link) signature, parameter `sign` (spec §3).
//!
//! Invariant: [`verify_widget`] returns `Ok` only when the link's `sign` matches one of the
//! signatures an official SDK could have produced for exactly these parameters with this secret,
//! the query has no repeated name, and nothing that v1 leaves unsigned but that changes what is
//! charged or how (prices, currencies, products, test switches, the pingback target) rides on a
//! v1 link.

use crate::base::{signature_base, split_name, Ordering};
use crate::hash::{ct_eq, md5_hex, sha256_hex};
use crate::query::Params;

/// The widget signature versions (`sign_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignVersion {
    /// `md5(uid + secret)`: protects only `uid` (deprecated).
    V1,
    /// `md5(BASE + secret)`.
    V2,
    /// `sha256(BASE + secret)`.
    V3,
}

impl SignVersion {
    /// Parses a received `sign_version`: absent or empty is v1 (legacy links), `1`, `2` and `3`
    /// are themselves; anything else (`4`, ` 3`, `03`…) is refused.
    pub fn from_param(v: Option<&str>) -> Result<SignVersion, SignError> {
        match v {
            None | Some("") | Some("1") => Ok(SignVersion::V1),
            Some("2") => Ok(SignVersion::V2),
            Some("3") => Ok(SignVersion::V3),
            Some(other) => Err(SignError::UnsupportedSignVersion(other.to_string())),
        }
    }

    /// The number as it appears on the wire.
    pub fn as_u8(&self) -> u8 {
        match self {
            SignVersion::V1 => 1,
            SignVersion::V2 => 2,
            SignVersion::V3 => 3,
        }
    }

    /// The lowercase hex digest of `base + secret` for v2 (md5) or v3 (sha256); v1 uses md5 too
    /// (its base is chosen by the caller).
    pub(crate) fn digest(&self, base: &str, secret: &str) -> String {
        let mut data = String::with_capacity(base.len() + secret.len());
        data.push_str(base);
        data.push_str(secret);
        match self {
            SignVersion::V1 | SignVersion::V2 => md5_hex(data.as_bytes()),
            SignVersion::V3 => sha256_hex(data.as_bytes()),
        }
    }
}

/// Why a widget link was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SignError {
    /// No `sign` parameter, or an empty one.
    #[error("Missing sign")]
    MissingSign,
    /// `sign` does not match.
    #[error("Wrong signature")]
    WrongSignature,
    /// `sign_version` is not empty, 1, 2 or 3.
    #[error("Unsupported sign_version {0:?}")]
    UnsupportedSignVersion(String),
    /// A name occurs more than once; such a query cannot be signed consistently.
    #[error("Duplicate parameter {0}")]
    DuplicateParameter(String),
    /// The parameter is not protected by a v1 signature and may not be used with it.
    #[error("Parameter {0} requires sign_version 2 or 3")]
    RequiresSignVersion2Or3(String),
}

/// Is this parameter refused on a v1 link? Judged on the base name, so `prices[0]` counts as
/// `prices`. Custom price (`amount`, `currencyCode`, `ag_*`, `post_trial_*`), custom cart
/// (`prices[]`, `currencies[]`, `names[]`, `flexible_cart_api`), the test switches the docs
/// reserve for v2+ (`evaluation`, `test_mode`) and the per-call `pingback_url` override.
fn unsafe_under_v1(name: &str) -> bool {
    let (base, _) = split_name(name);
    matches!(
        base,
        "amount"
            | "currencyCode"
            | "prices"
            | "currencies"
            | "names"
            | "flexible_cart_api"
            | "evaluation"
            | "test_mode"
            | "pingback_url"
    ) || base.starts_with("ag_")
        || base.starts_with("post_trial_")
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Verifies a widget (payment-page link) signature as spec §3.2 recommends, over the decoded
/// values exactly as received. v1 is `md5(uid + secret)`; v2 (md5) and v3 (sha256) sign the BASE
/// of every parameter but `sign`, in either the PHP nested ordering or the flat bytewise one. The
/// hex of `sign` is compared case-insensitively, in constant time. Refuses a repeated name, a
/// missing `sign`, an unknown `sign_version`, and under v1 any parameter v1 leaves unprotected
/// that changes the price, the product, test mode or the pingback target.
pub fn verify_widget(params: &Params, secret: &str) -> Result<SignVersion, SignError> {
    let mut seen = std::collections::HashSet::with_capacity(params.len());
    for (k, _) in params {
        if !seen.insert(k.as_str()) {
            return Err(SignError::DuplicateParameter(k.clone()));
        }
    }
    let sign = match get(params, "sign") {
        Some(s) if !s.is_empty() => s.to_ascii_lowercase(),
        _ => return Err(SignError::MissingSign),
    };
    let version = SignVersion::from_param(get(params, "sign_version"))?;
    let ok = match version {
        SignVersion::V1 => {
            if let Some((k, _)) = params.iter().find(|(k, _)| unsafe_under_v1(k)) {
                return Err(SignError::RequiresSignVersion2Or3(k.clone()));
            }
            ct_eq(&sign, &sign_widget(params, secret, SignVersion::V1))
        }
        SignVersion::V2 | SignVersion::V3 => {
            let nested = version.digest(&widget_base(params, Ordering::Nested), secret);
            let flat = version.digest(&widget_base(params, Ordering::Flat), secret);
            // Both are always compared, so the time taken does not tell which one matched.
            ct_eq(&sign, &nested) | ct_eq(&sign, &flat)
        }
    };
    if ok {
        Ok(version)
    } else {
        Err(SignError::WrongSignature)
    }
}

/// Computes the widget signature the way the SDKs do (flat bytewise ordering), lowercase hex.
/// `params` should already hold the `sign_version` that will be sent (it is signed like any
/// other parameter); a `sign` in `params` is ignored. v1 is `md5(uid + secret)`, a missing `uid`
/// counting as empty.
pub fn sign_widget(params: &Params, secret: &str, version: SignVersion) -> String {
    match version {
        SignVersion::V1 => version.digest(get(params, "uid").unwrap_or(""), secret),
        SignVersion::V2 | SignVersion::V3 => {
            version.digest(&widget_base(params, Ordering::Flat), secret)
        }
    }
}

/// The widget BASE string (every parameter but `sign`, without the secret), for debugging tools.
pub fn widget_base(params: &Params, ordering: Ordering) -> String {
    signature_base(params, "sign", ordering)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t";

    fn p(list: &[(&str, &str)]) -> Params {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn signed(list: &[(&str, &str)], version: SignVersion) -> Params {
        let mut params = p(list);
        let sign = sign_widget(&params, SECRET, version);
        params.push(("sign".into(), sign));
        params
    }

    #[test]
    fn sign_version_absent_or_empty_means_v1_and_unknown_values_are_refused() {
        assert_eq!(SignVersion::from_param(None), Ok(SignVersion::V1));
        assert_eq!(SignVersion::from_param(Some("")), Ok(SignVersion::V1));
        assert_eq!(SignVersion::from_param(Some("1")), Ok(SignVersion::V1));
        assert_eq!(SignVersion::from_param(Some("2")), Ok(SignVersion::V2));
        assert_eq!(SignVersion::from_param(Some("3")), Ok(SignVersion::V3));
        for bad in ["4", "0", " 3", "03", "v3", "3.0"] {
            assert_eq!(
                SignVersion::from_param(Some(bad)),
                Err(SignError::UnsupportedSignVersion(bad.into()))
            );
        }
        assert_eq!(SignVersion::V3.as_u8(), 3);
    }

    #[test]
    fn an_unsupported_sign_version_is_refused_by_verification() {
        let params = signed(&[("uid", "u"), ("sign_version", "4")], SignVersion::V2);
        assert_eq!(
            verify_widget(&params, SECRET),
            Err(SignError::UnsupportedSignVersion("4".into()))
        );
    }

    #[test]
    fn a_missing_or_empty_sign_is_refused() {
        let params = p(&[("uid", "u"), ("sign_version", "2")]);
        assert_eq!(verify_widget(&params, SECRET), Err(SignError::MissingSign));
        let params = p(&[("uid", "u"), ("sign_version", "2"), ("sign", "")]);
        assert_eq!(verify_widget(&params, SECRET), Err(SignError::MissingSign));
    }

    #[test]
    fn a_repeated_name_is_refused_even_with_a_matching_signature() {
        let params = signed(
            &[
                ("uid", "u"),
                ("a[]", "x"),
                ("a[]", "y"),
                ("sign_version", "2"),
            ],
            SignVersion::V2,
        );
        assert_eq!(
            verify_widget(&params, SECRET),
            Err(SignError::DuplicateParameter("a[]".into()))
        );
        let mut params = signed(&[("uid", "u"), ("sign_version", "2")], SignVersion::V2);
        params.push(("sign".into(), "00".into()));
        assert_eq!(
            verify_widget(&params, SECRET),
            Err(SignError::DuplicateParameter("sign".into()))
        );
    }

    #[test]
    fn uppercase_hex_in_sign_is_accepted() {
        let mut params = signed(&[("uid", "u"), ("sign_version", "3")], SignVersion::V3);
        let last = params.last_mut().unwrap();
        last.1 = last.1.to_ascii_uppercase();
        assert_eq!(verify_widget(&params, SECRET), Ok(SignVersion::V3));
    }

    #[test]
    fn the_signature_of_a_different_version_does_not_verify() {
        let mut params = signed(&[("uid", "u"), ("sign_version", "3")], SignVersion::V2);
        assert_eq!(
            verify_widget(&params, SECRET),
            Err(SignError::WrongSignature)
        );
        params.pop();
        params.push((
            "sign".into(),
            sign_widget(&params, "other", SignVersion::V3),
        ));
        assert_eq!(
            verify_widget(&params, SECRET),
            Err(SignError::WrongSignature)
        );
    }

    #[test]
    fn v1_refuses_every_parameter_it_does_not_protect_that_changes_the_charge() {
        for name in [
            "amount",
            "currencyCode",
            "ag_name",
            "ag_external_id",
            "ag_type",
            "ag_recurring",
            "ag_trial",
            "ag_post_trial_external_id",
            "post_trial_amount",
            "post_trial_currencyCode",
            "prices[0]",
            "currencies[0]",
            "names[0]",
            "flexible_cart_api",
            "evaluation",
            "test_mode",
            "pingback_url",
        ] {
            let params = signed(&[("uid", "u"), (name, "1")], SignVersion::V1);
            assert_eq!(
                verify_widget(&params, SECRET),
                Err(SignError::RequiresSignVersion2Or3(name.into())),
                "{name}"
            );
            let params = signed(
                &[("uid", "u"), (name, "1"), ("sign_version", "2")],
                SignVersion::V2,
            );
            assert_eq!(
                verify_widget(&params, SECRET),
                Ok(SignVersion::V2),
                "{name}"
            );
        }
    }

    #[test]
    fn v1_accepts_stored_product_and_profile_parameters() {
        let params = signed(
            &[
                ("key", "k"),
                ("uid", "u"),
                ("widget", "p1_1"),
                ("default_goodsid", "gold"),
                ("external_ids[0]", "gold"),
                ("email", "a@b.c"),
                ("history[registration_date]", "1"),
                ("amountx", "ok: not a reserved name"),
                ("sign_version", "1"),
            ],
            SignVersion::V1,
        );
        assert_eq!(verify_widget(&params, SECRET), Ok(SignVersion::V1));
    }

    #[test]
    fn v1_protects_the_uid_only_but_does_protect_it() {
        let mut params = signed(&[("uid", "u"), ("widget", "p1_1")], SignVersion::V1);
        params[1].1 = "w1".into();
        assert_eq!(verify_widget(&params, SECRET), Ok(SignVersion::V1));
        params[0].1 = "someone_else".into();
        assert_eq!(
            verify_widget(&params, SECRET),
            Err(SignError::WrongSignature)
        );
    }

    #[test]
    fn v2_and_v3_sign_every_parameter_including_empty_values() {
        for version in [SignVersion::V2, SignVersion::V3] {
            let v = version.as_u8().to_string();
            let params = signed(
                &[("uid", "u"), ("sign_version", &v), ("currencyCode", "")],
                version,
            );
            assert_eq!(verify_widget(&params, SECRET), Ok(version));
            let mut dropped = params.clone();
            dropped.remove(2);
            assert_eq!(
                verify_widget(&dropped, SECRET),
                Err(SignError::WrongSignature)
            );
            let mut added = params.clone();
            added.insert(0, ("x".into(), String::new()));
            assert_eq!(
                verify_widget(&added, SECRET),
                Err(SignError::WrongSignature)
            );
        }
    }

    #[test]
    fn the_order_of_the_received_parameters_does_not_matter() {
        let mut params = signed(
            &[("uid", "u"), ("b", "2"), ("a", "1"), ("sign_version", "2")],
            SignVersion::V2,
        );
        params.reverse();
        assert_eq!(verify_widget(&params, SECRET), Ok(SignVersion::V2));
    }
}
