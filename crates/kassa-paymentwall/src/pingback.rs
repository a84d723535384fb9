//! Pingbacks (server-to-server notifications): building, signing (`sig`) and checking them the
//! way the SDKs' `Pingback.validate()` does (spec §4.2–§4.7, §10).
//!
//! Invariant: a [`Pingback`] renders to one deterministic query whose `sig` every official SDK
//! accepts: v1 has no `sign_version` and signs the fixed field list; v2/v3 carry `sign_version`
//! and sign every parameter but `sig` (PHP ordering); Cart is always v2. Building the same
//! pingback twice gives byte-identical output, so a retry resends the identical query.

use crate::base::{signature_base, split_name, Ordering};
use crate::hash::ct_eq;
use crate::query::{encode_query, Params};
use crate::widget::SignVersion;

/// The project's API type, which decides the pingback's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiType {
    /// Virtual Currency (`currency` = amount of virtual currency).
    VirtualCurrency,
    /// Digital Goods / Checkout API (`goodsid`, `slength`, `speriod`).
    DigitalGoods,
    /// Cart (`goodsid[0]`, `goodsid[1]`…; always signed v2).
    Cart,
}

impl ApiType {
    /// The fields a v1 signature covers, in their fixed (unsorted) order; `None` for Cart,
    /// which is never v1.
    fn v1_fields(self) -> Option<&'static [&'static str]> {
        match self {
            ApiType::VirtualCurrency => Some(&["uid", "currency", "type", "ref"]),
            ApiType::DigitalGoods => Some(&["uid", "goodsid", "slength", "speriod", "type", "ref"]),
            ApiType::Cart => None,
        }
    }
}

/// Parameter names the pingback itself uses; a custom parameter may not reuse one (nor
/// `name[…]` of one), as the merchant would then see the name twice.
pub const RESERVED: [&str; 11] = [
    "uid",
    "type",
    "ref",
    "sig",
    "sign_version",
    "is_test",
    "reason",
    "goodsid",
    "currency",
    "slength",
    "speriod",
];

/// A pingback to send to a merchant.
///
/// Fields by API type (spec §4.2); a field that does not belong to the API type is not sent:
/// - VirtualCurrency: `uid`, `currency` (always sent, empty when `None`), `type`, `ref`.
/// - DigitalGoods: `uid`, `goodsid`, `slength`, `speriod` (all always sent, empty when `None`,
///   e.g. `slength=&speriod=` for a one-time product), `type`, `ref`. The SDKs reject an empty
///   `goodsid`, so callers should always set it.
/// - Cart: `uid`, `type`, `ref`, `goodsid[0]`… from `goodsids`.
///
/// Then `is_test=1` when `is_test`, `reason` when set, `sign_version` for v2/v3, the custom
/// parameters in their given order (minus any that reuse a pingback name, see
/// [`Pingback::conflicting_custom`]), and `sig` last. This order reproduces the SDK fixtures'
/// queries byte for byte; the order does not matter to any SDK's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pingback {
    pub api_type: ApiType,
    pub uid: String,
    /// §4.3; see the `TYPE_*` constants.
    pub type_code: u16,
    pub r#ref: String,
    /// DigitalGoods only.
    pub goodsid: Option<String>,
    /// Cart only.
    pub goodsids: Vec<String>,
    /// VirtualCurrency only: the amount of virtual currency.
    pub currency: Option<String>,
    /// DigitalGoods only.
    pub slength: Option<String>,
    /// DigitalGoods only.
    pub speriod: Option<String>,
    /// §4.4; see the `REASON_*` constants.
    pub reason: Option<u8>,
    pub is_test: bool,
    /// Custom pingback parameters (§4.7), signed under v2/v3, not under v1.
    pub custom: Vec<(String, String)>,
    /// Ignored for Cart, which is always v2.
    pub sign_version: SignVersion,
}

impl Pingback {
    /// The version actually used: Cart is always v2 (the SDKs force it when validating).
    pub fn effective_sign_version(&self) -> SignVersion {
        match self.api_type {
            ApiType::Cart => SignVersion::V2,
            _ => self.sign_version,
        }
    }

    /// Names of custom parameters that are left out because they reuse a pingback parameter
    /// name (`uid`, `goodsid[0]`, `sig`…) or an earlier custom name. Empty for a sound pingback;
    /// callers may refuse such a configuration up front.
    pub fn conflicting_custom(&self) -> Vec<&str> {
        let mut seen = std::collections::HashSet::new();
        self.custom
            .iter()
            .filter(|(name, _)| !custom_allowed(name, &mut seen))
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Every parameter but `sig`, in wire order.
    fn unsigned_params(&self) -> Params {
        let mut out: Params = Vec::new();
        let mut push = |k: &str, v: &str| out.push((k.to_string(), v.to_string()));
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        push("uid", &self.uid);
        match self.api_type {
            ApiType::VirtualCurrency => push("currency", &opt(&self.currency)),
            ApiType::DigitalGoods => {
                push("goodsid", &opt(&self.goodsid));
                push("slength", &opt(&self.slength));
                push("speriod", &opt(&self.speriod));
            }
            ApiType::Cart => {}
        }
        push("type", &self.type_code.to_string());
        push("ref", &self.r#ref);
        if self.is_test {
            push("is_test", "1");
        }
        if self.api_type == ApiType::Cart {
            for (i, id) in self.goodsids.iter().enumerate() {
                push(&format!("goodsid[{i}]"), id);
            }
        }
        if let Some(reason) = self.reason {
            push("reason", &reason.to_string());
        }
        let version = self.effective_sign_version();
        if version != SignVersion::V1 {
            push("sign_version", &version.as_u8().to_string());
        }
        let mut seen = std::collections::HashSet::new();
        for (name, value) in &self.custom {
            if custom_allowed(name, &mut seen) {
                push(name, value);
            }
        }
        out
    }

    /// The signature base without the secret, as the Test Pingback Tool shows it: the fixed
    /// `uid=…currency=…type=…ref=…` (VC) or `uid=…goodsid=…slength=…speriod=…type=…ref=…`
    /// (GOODS) list under v1; every parameter but `sig`, sorted (PHP ordering), under v2/v3.
    pub fn base_string(&self) -> String {
        base_for(
            &self.unsigned_params(),
            self.api_type,
            self.effective_sign_version(),
            Ordering::Nested,
        )
    }

    /// The `sig` value: lowercase hex md5 (v1, v2) or sha256 (v3) of base + secret.
    pub fn signature(&self, secret: &str) -> String {
        self.effective_sign_version()
            .digest(&self.base_string(), secret)
    }

    /// All parameters, including `sign_version` (v2/v3), with `sig` last.
    pub fn signed_params(&self, secret: &str) -> Params {
        let mut params = self.unsigned_params();
        let version = self.effective_sign_version();
        let base = base_for(&params, self.api_type, version, Ordering::Nested);
        params.push(("sig".to_string(), version.digest(&base, secret)));
        params
    }

    /// The URL query (without `?`), `application/x-www-form-urlencoded`, `sig` last; the same
    /// bytes every time for the same pingback and secret.
    pub fn query_string(&self, secret: &str) -> String {
        encode_query(&self.signed_params(secret))
    }
}

fn custom_allowed<'a>(name: &'a str, seen: &mut std::collections::HashSet<&'a str>) -> bool {
    let (base, _) = split_name(name);
    !RESERVED.contains(&name) && !RESERVED.contains(&base) && seen.insert(name)
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn base_for(
    params: &[(String, String)],
    api: ApiType,
    version: SignVersion,
    ordering: Ordering,
) -> String {
    match (version, api.v1_fields()) {
        (SignVersion::V1, Some(fields)) => {
            let mut out = String::new();
            for field in fields {
                out.push_str(field);
                out.push('=');
                out.push_str(get(params, field).unwrap_or(""));
            }
            out
        }
        _ => signature_base(params, "sig", ordering),
    }
}

/// Checks a received pingback's `sig` the way the SDKs' `Pingback.validate()` does (the
/// signature part only: no required-field or IP check). Cart gets `sign_version=2` forced in
/// before checking; otherwise an absent, empty or `1` `sign_version` means v1 over the fixed
/// field list (missing fields empty) and `2`/`3` mean md5/sha256 over every parameter but `sig`.
/// Like the SDKs, the comparison is exact (lowercase hex). The v2/v3 base is accepted in either
/// the PHP (nested) or the flat ordering, i.e. if any SDK family would accept it. A repeated
/// name, a missing `sig` or an unknown `sign_version` give `false`.
pub fn verify_pingback(params: &Params, secret: &str, api_type: ApiType) -> bool {
    let mut seen = std::collections::HashSet::with_capacity(params.len());
    if !params.iter().all(|(k, _)| seen.insert(k.as_str())) {
        return false;
    }
    let Some(sig) = get(params, "sig") else {
        return false;
    };
    let mut params = params.clone();
    if api_type == ApiType::Cart {
        match params.iter_mut().find(|(k, _)| k == "sign_version") {
            Some(entry) => entry.1 = "2".to_string(),
            None => params.push(("sign_version".to_string(), "2".to_string())),
        }
    }
    let Ok(version) = SignVersion::from_param(get(&params, "sign_version")) else {
        return false;
    };
    let nested = version.digest(
        &base_for(&params, api_type, version, Ordering::Nested),
        secret,
    );
    let flat = version.digest(
        &base_for(&params, api_type, version, Ordering::Flat),
        secret,
    );
    ct_eq(sig, &nested) | ct_eq(sig, &flat)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::*;
    use crate::query::parse_query;

    fn goods() -> Pingback {
        Pingback {
            api_type: ApiType::DigitalGoods,
            uid: "u1".into(),
            type_code: TYPE_PAYMENT,
            r#ref: "b1".into(),
            goodsid: Some("g".into()),
            goodsids: vec![],
            currency: None,
            slength: None,
            speriod: None,
            reason: None,
            is_test: false,
            custom: vec![],
            sign_version: SignVersion::V3,
        }
    }

    #[test]
    fn fields_of_another_api_type_are_not_sent() {
        let mut pb = goods();
        pb.currency = Some("100".into());
        pb.goodsids = vec!["x".into()];
        assert_eq!(
            pb.query_string("s").split("&sig=").next().unwrap(),
            "uid=u1&goodsid=g&slength=&speriod=&type=0&ref=b1&sign_version=3"
        );
        pb.api_type = ApiType::VirtualCurrency;
        assert_eq!(
            pb.query_string("s").split("&sig=").next().unwrap(),
            "uid=u1&currency=100&type=0&ref=b1&sign_version=3"
        );
        pb.api_type = ApiType::Cart;
        assert_eq!(
            pb.query_string("s").split("&sig=").next().unwrap(),
            "uid=u1&type=0&ref=b1&goodsid%5B0%5D=x&sign_version=2"
        );
    }

    #[test]
    fn a_virtual_currency_pingback_without_an_amount_sends_an_empty_currency() {
        let mut pb = goods();
        pb.api_type = ApiType::VirtualCurrency;
        pb.sign_version = SignVersion::V1;
        assert_eq!(pb.base_string(), "uid=u1currency=type=0ref=b1");
        assert!(pb
            .query_string("s")
            .starts_with("uid=u1&currency=&type=0&ref=b1&sig="));
    }

    #[test]
    fn v1_sends_no_sign_version_and_signs_neither_is_test_nor_reason_nor_custom() {
        let mut pb = goods();
        pb.sign_version = SignVersion::V1;
        let plain = pb.signature("s");
        pb.is_test = true;
        pb.reason = Some(REASON_CHARGEBACK);
        pb.custom = vec![("c".into(), "v".into())];
        assert_eq!(pb.signature("s"), plain);
        let params = pb.signed_params("s");
        assert!(params.iter().all(|(k, _)| k != "sign_version"));
        assert!(verify_pingback(&params, "s", ApiType::DigitalGoods));
    }

    #[test]
    fn v2_and_v3_sign_is_test_reason_and_custom_parameters() {
        for version in [SignVersion::V2, SignVersion::V3] {
            let mut pb = goods();
            pb.sign_version = version;
            let plain = pb.signature("s");
            for change in 0..3 {
                let mut other = pb.clone();
                match change {
                    0 => other.is_test = true,
                    1 => other.reason = Some(REASON_CANCELLED_ORDER),
                    _ => other.custom = vec![("c".into(), String::new())],
                }
                assert_ne!(other.signature("s"), plain);
                assert!(verify_pingback(
                    &other.signed_params("s"),
                    "s",
                    ApiType::DigitalGoods
                ));
            }
        }
    }

    #[test]
    fn the_signature_is_the_digest_of_the_base_string_and_the_secret() {
        let pb = goods();
        assert_eq!(
            pb.signature("s"),
            crate::hash::sha256_hex(format!("{}s", pb.base_string()).as_bytes())
        );
        let params = pb.signed_params("s");
        assert_eq!(
            params.last().unwrap(),
            &("sig".to_string(), pb.signature("s"))
        );
    }

    #[test]
    fn the_query_string_is_byte_identical_on_every_call_and_parses_back() {
        let mut pb = goods();
        pb.custom = vec![("note".into(), "a b&c=d/é".into())];
        let first = pb.query_string("s");
        assert_eq!(first, pb.query_string("s"));
        assert!(first.contains("&note=a+b%26c%3Dd%2F%C3%A9&sig="));
        let parsed = parse_query(&first).unwrap();
        assert_eq!(parsed, pb.signed_params("s"));
        assert!(verify_pingback(&parsed, "s", ApiType::DigitalGoods));
    }

    #[test]
    fn custom_parameters_that_reuse_a_pingback_name_are_left_out_and_reported() {
        let mut pb = goods();
        pb.api_type = ApiType::Cart;
        pb.goodsids = vec!["a".into()];
        pb.custom = vec![
            ("uid".into(), "evil".into()),
            ("goodsid[1]".into(), "x".into()),
            ("sig".into(), "x".into()),
            ("mine".into(), "1".into()),
            ("mine".into(), "2".into()),
            ("uid_alias".into(), "ok".into()),
        ];
        assert_eq!(
            pb.conflicting_custom(),
            vec!["uid", "goodsid[1]", "sig", "mine"]
        );
        let params = pb.signed_params("s");
        let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "uid",
                "type",
                "ref",
                "goodsid[0]",
                "sign_version",
                "mine",
                "uid_alias",
                "sig"
            ]
        );
        assert_eq!(params[5].1, "1");
        assert!(verify_pingback(&params, "s", ApiType::Cart));
        assert!(goods().conflicting_custom().is_empty());
    }

    #[test]
    fn a_cart_with_eleven_goods_signs_the_php_numeric_order_and_verifies() {
        let mut pb = goods();
        pb.api_type = ApiType::Cart;
        pb.goodsids = (0..11).map(|i| format!("p{i}")).collect();
        let base = pb.base_string();
        assert!(base.starts_with("goodsid[0]=p0goodsid[1]=p1"));
        assert!(base.contains("goodsid[9]=p9goodsid[10]=p10ref=b1"));
        let params = pb.signed_params("s");
        assert!(verify_pingback(&params, "s", ApiType::Cart));
        // A flat-sorting SDK signing the same query gets another sig, which is accepted too.
        let mut flat = params.clone();
        flat.pop();
        let flat_sig = crate::hash::md5_hex(
            format!("{}s", signature_base(&flat, "sig", Ordering::Flat)).as_bytes(),
        );
        assert_ne!(flat_sig, params.last().unwrap().1);
        flat.push(("sig".into(), flat_sig));
        assert!(verify_pingback(&flat, "s", ApiType::Cart));
    }

    #[test]
    fn verification_rejects_a_missing_sig_a_repeated_name_and_an_unknown_version() {
        let pb = goods();
        let params = pb.signed_params("s");
        let without: Params = params.iter().filter(|(k, _)| k != "sig").cloned().collect();
        assert!(!verify_pingback(&without, "s", ApiType::DigitalGoods));
        let mut repeated = params.clone();
        repeated.insert(0, ("ref".into(), "b1".into()));
        assert!(!verify_pingback(&repeated, "s", ApiType::DigitalGoods));
        let mut v4 = params.clone();
        for (k, v) in v4.iter_mut() {
            if k == "sign_version" {
                *v = "4".into();
            }
        }
        assert!(!verify_pingback(&v4, "s", ApiType::DigitalGoods));
    }

    #[test]
    fn verification_is_case_sensitive_like_the_sdks() {
        let mut params = goods().signed_params("s");
        let last = params.last_mut().unwrap();
        last.1 = last.1.to_ascii_uppercase();
        assert!(!verify_pingback(&params, "s", ApiType::DigitalGoods));
    }

    #[test]
    fn a_goods_pingback_checked_as_virtual_currency_fails_under_v1() {
        let mut pb = goods();
        pb.sign_version = SignVersion::V1;
        let params = pb.signed_params("s");
        assert!(verify_pingback(&params, "s", ApiType::DigitalGoods));
        assert!(!verify_pingback(&params, "s", ApiType::VirtualCurrency));
    }
}
