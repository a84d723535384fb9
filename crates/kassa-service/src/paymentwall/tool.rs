//! The dashboard's Test Pingback Tool: a pingback built exactly as Kassa builds a real one for
//! the project (its API type, signature version, custom parameters and the secret of the mode it
//! is reached in), sent now to the mode's pingback URL through the egress-guarded notifier
//! client, with the merchant's answer reported back. Each send is audited
//! (`paymentwall_project.test_pingback`): it reaches out to a server on the merchant's behalf.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kassa_core::scope::{Mode, Scope};
use kassa_paymentwall::{Pingback, SignVersion, REASON_CANCELLED_ORDER, TYPE_NEGATIVE};
use serde_json::json;

use super::pingbacks::{datetime_utc, url_for};
use super::product::ApiType;
use super::projects::Project;
use crate::{Paymentwall, Result, ServiceError};

/// The pingback types the tool sends (spec §4.3).
pub const TOOL_PINGBACK_TYPES: [u16; 10] = [0, 1, 2, 12, 13, 14, 200, 201, 202, 203];
/// How long the tool waits for the merchant's answer.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(15);
/// Characters of the merchant's answer kept for the report.
pub const TOOL_EXCERPT_CHARS: usize = 1000;

/// What the merchant filled in. Empty strings mean "not given".
#[derive(Debug, Clone, Default)]
pub struct ToolInput {
    pub type_code: u16,
    pub uid: String,
    /// Digital Goods: the product id; Cart: product ids separated by commas.
    pub goodsid: String,
    /// Digital Goods subscriptions: the period length (negative on a type 2) and unit.
    pub slength: String,
    pub speriod: String,
    /// Virtual Currency: the amount of virtual currency (`currency` on the wire).
    pub vc_amount: String,
    /// `t<unix seconds>` when empty.
    pub r#ref: String,
    pub is_test: bool,
    /// Type 2 only.
    pub reason: Option<u8>,
    /// What the price macros (`REVENUE`, `PRODUCT_PRICE`, `CURRENCY_CODE`…) stand for.
    pub amount: String,
    pub currency_code: String,
    pub country: String,
    /// Values of the custom parameters set to `OWN` (the link's own parameter); one left empty
    /// is not sent, as with a link that lacks it.
    pub own: BTreeMap<String, String>,
}

/// What the tool sent and how the merchant answered.
#[derive(Debug, Clone)]
pub struct ToolReport {
    /// The full URL requested (pingback URL plus the signed query).
    pub url: String,
    /// The signature base with `<secret>` where the secret key goes.
    pub base_string: String,
    pub signature: String,
    pub sign_version: u8,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    pub body: String,
    pub latency_ms: u64,
    /// Why it was not a success (anything but HTTP 200 with the body `OK`).
    pub error: Option<String>,
}

impl ToolReport {
    pub fn success(&self) -> bool {
        self.error.is_none()
    }
}

fn invalid(param: &str, message: impl Into<String>) -> ServiceError {
    ServiceError::invalid(param, message)
}

fn text(param: &str, v: &str, max: usize) -> Result<String> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(invalid(
            param,
            format!("{param} must be 1 to {max} characters."),
        ));
    }
    Ok(v.to_string())
}

/// A plain decimal as Paymentwall writes amounts (`9.99`, `-100`), at most 20 characters.
fn decimal(param: &str, v: &str) -> Result<String> {
    let v = v.trim();
    let digits = v.strip_prefix('-').unwrap_or(v);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    let ok = v.len() <= 20
        && !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return Err(invalid(
            param,
            format!("{param} must be a number such as 9.99."),
        ));
    }
    Ok(v.to_string())
}

/// The pingback the tool sends for `input`, as `build` in `pingbacks.rs` renders a real one.
pub fn tool_pingback(project: &Project, input: &ToolInput, now_ms: i64) -> Result<Pingback> {
    if !TOOL_PINGBACK_TYPES.contains(&input.type_code) {
        return Err(invalid(
            "type",
            "type must be one of 0, 1, 2, 12, 13, 14, 200, 201, 202, 203.",
        ));
    }
    let uid = text("uid", &input.uid, 256)?;
    let r#ref = match input.r#ref.trim() {
        "" => format!("t{}", now_ms / 1000),
        r => text("ref", r, 64)?,
    };
    if let Some(reason) = input.reason {
        if input.type_code != TYPE_NEGATIVE {
            return Err(invalid("reason", "reason is only sent with type 2."));
        }
        if !(1..=10).contains(&reason) {
            return Err(invalid("reason", "reason must be from 1 to 10."));
        }
    }
    let mut pb = Pingback {
        api_type: project.api_type.wire(),
        uid: uid.clone(),
        type_code: input.type_code,
        r#ref: r#ref.clone(),
        goodsid: None,
        goodsids: Vec::new(),
        currency: None,
        slength: None,
        speriod: None,
        reason: input.reason,
        is_test: input.is_test,
        custom: Vec::new(),
        sign_version: project.sign_version(),
    };
    match project.api_type {
        ApiType::DigitalGoods => {
            pb.goodsid = Some(text("goodsid", &input.goodsid, 256)?);
            let slength = input.slength.trim();
            if !slength.is_empty()
                && (slength.len() > 6
                    || slength.strip_prefix('-').unwrap_or(slength).is_empty()
                    || !slength
                        .strip_prefix('-')
                        .unwrap_or(slength)
                        .bytes()
                        .all(|b| b.is_ascii_digit()))
            {
                return Err(invalid("slength", "slength must be a whole number."));
            }
            let speriod = input.speriod.trim();
            if !matches!(speriod, "" | "day" | "week" | "month" | "year") {
                return Err(invalid(
                    "speriod",
                    "speriod must be day, week, month or year (or empty for a one-time product).",
                ));
            }
            pb.slength = Some(slength.to_string());
            pb.speriod = Some(speriod.to_string());
        }
        ApiType::Cart => {
            let ids: Vec<String> = input
                .goodsid
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if ids.is_empty() || ids.len() > 50 {
                return Err(invalid(
                    "goodsid",
                    "goodsid must list 1 to 50 product ids, separated by commas.",
                ));
            }
            for id in &ids {
                text("goodsid", id, 256)?;
            }
            pb.goodsids = ids;
        }
        ApiType::VirtualCurrency => {
            pb.currency = Some(decimal("currency", &input.vc_amount)?);
        }
    }
    let amount = match input.amount.trim() {
        "" => String::new(),
        a => decimal("amount", a)?,
    };
    let currency_code = input.currency_code.trim().to_ascii_uppercase();
    let currency_ok = currency_code.is_empty()
        || (currency_code.len() == 3 && currency_code.bytes().all(|b| b.is_ascii_uppercase()));
    if !currency_ok {
        return Err(invalid(
            "currency_code",
            "currency_code must be a three-letter code such as USD.",
        ));
    }
    let country = input.country.trim().to_ascii_uppercase();
    if !country.is_empty() && kassa_paymentwall::valid_country_code(&country).is_none() {
        return Err(invalid(
            "country",
            "country must be a two-letter code such as DE.",
        ));
    }
    for (name, value) in &project.custom_pingback {
        let v = match value.as_str() {
            "OWN" => match input.own.get(name).map(|v| v.trim()) {
                Some(v) if !v.is_empty() => text(name, v, 256)?,
                _ => continue,
            },
            "CHARGEBACK_REASON" => input.reason.map(|r| r.to_string()).unwrap_or_default(),
            "CHARGEBACK_TYPE" => match input.reason {
                Some(REASON_CANCELLED_ORDER) => "refund".into(),
                Some(_) => "chargeback".into(),
                None => String::new(),
            },
            "COUNTRY_CODE" => country.clone(),
            "CURRENCY_CODE" | "PRODUCT_CURRENCY_CODE" => currency_code.clone(),
            "PAYMENT_DATETIME_UTC" => datetime_utc(now_ms),
            "PAYMENT_TYPE" => kassa_paymentwall::TEST_METHOD_ID.to_string(),
            "PRODUCT_PRICE" | "REVENUE" => amount.clone(),
            "RECURRING_PAYMENT" => "0".into(),
            "SUBSCRIPTION_ID" => String::new(),
            "UNIQUE_REF" => format!("{}_{}", r#ref, input.type_code),
            "UNIQUE_REF_INITIAL" => r#ref.clone(),
            "USER_ID" => uid.clone(),
            _ => continue,
        };
        pb.custom.push((name.clone(), v));
    }
    Ok(pb)
}

/// Paymentwall's rule for an accepted pingback: the body `OK` (whitespace, a BOM and case
/// tolerated, as the delivery worker does).
fn is_ok_body(body: &str) -> bool {
    body.trim_start_matches('\u{feff}')
        .trim()
        .eq_ignore_ascii_case("ok")
}

impl Paymentwall<'_> {
    /// Builds the tool's pingback for project `id` in `scope`'s mode, sends it and reports the
    /// answer. Refused (400) when the mode has no pingback URL or (live) no live keys yet.
    pub async fn send_tool_pingback(
        &self,
        scope: &Scope,
        id: &str,
        input: &ToolInput,
    ) -> Result<ToolReport> {
        let project = self.project_in(scope, id).await?;
        if project.mode == Mode::Live && project.live_secret.is_none() {
            return Err(invalid(
                "project",
                "This project has no live keys yet: create them on its Keys page first.",
            ));
        }
        let Some(target) = project.pingback_url().map(str::to_string) else {
            return Err(invalid(
                "pingback_url",
                "This project has no pingback URL for this mode: set one in its settings first.",
            ));
        };
        let pb = tool_pingback(&project, input, kassa_store::now_ms())?;
        let secret = project.signing_secret();
        let url = url_for(&target, &pb.query_string(secret));
        let started = Instant::now();
        let sent = self
            .notifier
            .egress()
            .get(&url)
            .header("user-agent", "Kassa Pingback")
            .timeout(TOOL_TIMEOUT)
            .send()
            .await;
        let (status, body, error) = match sent {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                // A character is at most 4 bytes: this is enough for the excerpt.
                let mut buf: Vec<u8> = Vec::new();
                while buf.len() < TOOL_EXCERPT_CHARS * 4 {
                    match resp.chunk().await {
                        Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
                        _ => break,
                    }
                }
                let body: String = String::from_utf8_lossy(&buf)
                    .chars()
                    .take(TOOL_EXCERPT_CHARS)
                    .collect();
                let error = if status != 200 {
                    Some(format!(
                        "The HTTP status {status} is not 200: Kassa would send this pingback again."
                    ))
                } else if !is_ok_body(&body) {
                    Some("The answer is not OK: Kassa would send this pingback again.".to_string())
                } else {
                    None
                };
                (Some(status), body, error)
            }
            Err(e) => (
                None,
                String::new(),
                Some(format!("No answer: {e} (pingback URL {target}).")),
            ),
        };
        let report = ToolReport {
            base_string: format!("{}<secret>", pb.base_string()),
            signature: pb.signature(secret),
            sign_version: pb.effective_sign_version().as_u8(),
            url,
            status,
            body,
            latency_ms: started.elapsed().as_millis() as u64,
            error,
        };
        let mut tx = self.store.begin().await?;
        crate::audit::record(
            &mut tx,
            scope,
            "paymentwall_project.test_pingback",
            Some(id),
            &json!({
                "type": pb.type_code,
                "uid": pb.uid,
                "ref": pb.r#ref,
                "pingback_url": target,
                "status": report.status,
                "success": report.success(),
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(report)
    }
}

/// The signature version a project's pingbacks use (Cart is always v2).
pub fn effective_sign_version(project: &Project) -> SignVersion {
    match project.api_type {
        ApiType::Cart => SignVersion::V2,
        _ => project.sign_version(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(api: ApiType, custom: &[(&str, &str)]) -> Project {
        Project {
            row: kassa_store::PwProject {
                id: "pwp_1".into(),
                merchant_id: "acct_1".into(),
                name: "Game".into(),
                project_key: "k".into(),
                secret_enc: "x".into(),
                api_type: api.as_str().into(),
                pingback_url: Some("https://shop.test/pb".into()),
                pingback_sign_version: 3,
                widgets: "[]".into(),
                payment_systems: "{}".into(),
                test_method: true,
                custom_pingback: "[]".into(),
                frame_ancestors: None,
                created_at: 1,
                settings: "{}".into(),
                secret_hash: None,
                live_project_key: None,
                live_secret_enc: None,
                live_secret_hash: None,
                live_pingback_url: None,
            },
            mode: Mode::Test,
            api_type: api,
            secret: "s3cret".into(),
            live_secret: None,
            widgets: Vec::new(),
            payment_systems: Default::default(),
            custom_pingback: custom
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            settings: Default::default(),
        }
    }

    fn input() -> ToolInput {
        ToolInput {
            uid: "user1".into(),
            goodsid: "gold".into(),
            r#ref: "t1".into(),
            is_test: true,
            ..Default::default()
        }
    }

    #[test]
    fn goods_pingbacks_carry_the_projects_custom_parameters() {
        let p = project(
            ApiType::DigitalGoods,
            &[("order", "OWN"), ("who", "USER_ID"), ("uref", "UNIQUE_REF")],
        );
        let mut i = input();
        i.own.insert("order".into(), "o-7".into());
        let pb = tool_pingback(&p, &i, 0).unwrap();
        let q = pb.query_string("s3cret");
        assert_eq!(
            q.split('&').filter(|kv| !kv.starts_with("sig=")).collect::<Vec<_>>().join("&"),
            "uid=user1&goodsid=gold&slength=&speriod=&type=0&ref=t1&is_test=1&sign_version=3&order=o-7&who=user1&uref=t1_0"
        );
        assert!(pb.base_string().starts_with("goodsid=gold"));
        assert!(!pb.base_string().contains("s3cret"));
        // An OWN parameter left empty is not sent.
        let pb = tool_pingback(&p, &input(), 0).unwrap();
        assert!(!pb.query_string("s3cret").contains("order="));
    }

    #[test]
    fn each_api_type_needs_its_own_fields() {
        let vc = project(ApiType::VirtualCurrency, &[]);
        assert!(
            tool_pingback(&vc, &input(), 0).is_err(),
            "VC needs the currency amount"
        );
        let mut i = input();
        i.vc_amount = "150".into();
        assert!(tool_pingback(&vc, &i, 0)
            .unwrap()
            .query_string("s")
            .contains("currency=150"));
        let cart = project(ApiType::Cart, &[]);
        let mut i = input();
        i.goodsid = "a, b".into();
        let q = tool_pingback(&cart, &i, 0).unwrap().query_string("s");
        assert!(
            q.contains("goodsid%5B0%5D=a&goodsid%5B1%5D=b") && q.contains("sign_version=2"),
            "{q}"
        );
        let goods = project(ApiType::DigitalGoods, &[]);
        for bad in [
            ToolInput {
                type_code: 3,
                ..input()
            },
            ToolInput {
                uid: String::new(),
                ..input()
            },
            ToolInput {
                reason: Some(1),
                ..input()
            },
            ToolInput {
                type_code: 2,
                reason: Some(11),
                ..input()
            },
            ToolInput {
                speriod: "fortnight".into(),
                ..input()
            },
            ToolInput {
                goodsid: " ".into(),
                ..input()
            },
            ToolInput {
                amount: "9,99".into(),
                ..input()
            },
        ] {
            assert!(tool_pingback(&goods, &bad, 0).is_err(), "{bad:?}");
        }
        let pb = tool_pingback(
            &goods,
            &ToolInput {
                r#ref: String::new(),
                ..input()
            },
            1_700_000_000_000,
        )
        .unwrap();
        assert_eq!(pb.r#ref, "t1700000000");
    }

    #[test]
    fn ok_bodies() {
        for ok in ["OK", "ok", " OK\n", "\u{feff}OK"] {
            assert!(is_ok_body(ok));
        }
        for bad in ["", "OK thanks", "NOT OK"] {
            assert!(!is_ok_body(bad));
        }
    }
}
