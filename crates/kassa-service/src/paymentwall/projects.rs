//! Paymentwall-compatible projects: keys, API type, pingback settings, widgets, payment systems.

use crate::Paymentwall;
use kassa_core::scope::{Mode, Scope};
use std::collections::BTreeMap;

use kassa_core::ids::new_id;
use kassa_paymentwall::methods::{
    default_country_methods, validate_country_methods, CountryMethods,
};
use kassa_store::{now_ms, PwProject};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::product::{valid_rate, ApiType};
use crate::{Result, ServiceError};

pub const PROJECT_PREFIX: &str = "pwp";

/// Settings kept in the project's `settings` JSON column.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ProjectSettings {
    /// Name of the project's virtual currency (Virtual Currency API).
    pub vc_name: String,
    /// Virtual currency credited per one major unit paid, as a decimal.
    pub vc_rate: String,
    /// How long a payment held for risk review waits for its verdict.
    pub risk_review_delay_seconds: u64,
    /// How long after a failed renewal it is tried again (twice, then the subscription stops).
    pub renewal_retry_seconds: u64,
    /// A link's `timestamp` older than this is refused as expired.
    pub link_max_age_seconds: u64,
    /// Post the client-side events (§7) to the parent window.
    pub client_callbacks: bool,
}

impl Default for ProjectSettings {
    fn default() -> Self {
        ProjectSettings {
            vc_name: "Coins".into(),
            vc_rate: "100".into(),
            risk_review_delay_seconds: 120,
            renewal_retry_seconds: 86_400,
            link_max_age_seconds: 3600,
            client_callbacks: true,
        }
    }
}

/// A project with its settings parsed and its secrets opened, as reached in one mode: the key
/// that signed a link, the secret that called an API, or the mode of the order at hand.
#[derive(Clone)]
pub struct Project {
    pub row: PwProject,
    /// The mode the project was reached in: what [`Project::signing_secret`] and
    /// [`Project::scope`] answer for.
    pub mode: Mode,
    pub api_type: ApiType,
    /// The test secret key.
    pub secret: String,
    /// The live secret key (`None` until the project has a live pair).
    pub live_secret: Option<String>,
    pub widgets: Vec<String>,
    pub payment_systems: CountryMethods,
    pub custom_pingback: Vec<(String, String)>,
    pub settings: ProjectSettings,
}

impl std::fmt::Debug for Project {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Project")
            .field("id", &self.row.id)
            .field("mode", &self.mode)
            .field("api_type", &self.api_type)
            .finish_non_exhaustive()
    }
}

impl Project {
    /// The secret key of the project's mode: it verifies the mode's links and API calls and
    /// signs the mode's pingbacks.
    pub fn signing_secret(&self) -> &str {
        match self.mode {
            Mode::Test => &self.secret,
            Mode::Live => self.live_secret.as_deref().unwrap_or(""),
        }
    }

    /// The merchant and mode of the payments made in the project's mode.
    pub fn scope(&self) -> Scope {
        self.row.scope(self.mode)
    }

    /// The same project in `mode`.
    pub fn in_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Where the pingbacks of the project's mode go: a live order's to `live_pingback_url`
    /// when set, else (as on Paymentwall, whose test and live payments share one URL) to
    /// `pingback_url`.
    pub fn pingback_url(&self) -> Option<&str> {
        match self.mode {
            Mode::Live => self
                .row
                .live_pingback_url
                .as_deref()
                .or(self.row.pingback_url.as_deref()),
            Mode::Test => self.row.pingback_url.as_deref(),
        }
    }

    pub fn sign_version(&self) -> kassa_paymentwall::SignVersion {
        match self.row.pingback_sign_version {
            1 => kassa_paymentwall::SignVersion::V1,
            2 => kassa_paymentwall::SignVersion::V2,
            _ => kassa_paymentwall::SignVersion::V3,
        }
    }

    /// The API representation: both project keys; the secret keys only when `with_secret`
    /// (the answer of create and of a new live pair).
    pub fn to_json(&self, with_secret: bool) -> Value {
        let custom: serde_json::Map<String, Value> = self
            .custom_pingback
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let mut v = json!({
            "id": self.row.id,
            "object": "paymentwall.project",
            "name": self.row.name,
            "project_key": self.row.project_key,
            "live_project_key": self.row.live_project_key,
            "api_type": self.api_type.as_str(),
            "pingback_url": self.row.pingback_url,
            "live_pingback_url": self.row.live_pingback_url,
            "pingback_sign_version": self.row.pingback_sign_version,
            "widgets": self.widgets,
            "payment_systems": self.payment_systems,
            "test_method": self.row.test_method,
            "custom_pingback": custom,
            "frame_ancestors": self.row.frame_ancestors,
            "settings": self.settings,
            "created": self.row.created_at / 1000,
        });
        if with_secret {
            v["secret_key"] = Value::String(self.secret.clone());
            if let Some(live) = &self.live_secret {
                v["live_secret_key"] = Value::String(live.clone());
            }
        }
        v
    }

    /// The API representation with the live secret key alone (the answer of a new live pair).
    pub fn to_json_with_live_secret(&self) -> Value {
        let mut v = self.to_json(false);
        if let Some(live) = &self.live_secret {
            v["live_secret_key"] = Value::String(live.clone());
        }
        v
    }
}

/// Fields of a create or update; `None` keeps the current value (or the default on create).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectInput {
    pub name: Option<String>,
    pub api_type: Option<String>,
    /// `Some("")` clears it.
    pub pingback_url: Option<String>,
    /// Where live orders' pingbacks go instead of `pingback_url`; `Some("")` clears it.
    pub live_pingback_url: Option<String>,
    pub pingback_sign_version: Option<i64>,
    pub widgets: Option<Vec<String>>,
    pub payment_systems: Option<CountryMethods>,
    pub test_method: Option<bool>,
    pub custom_pingback: Option<BTreeMap<String, String>>,
    /// `Some("")` clears it (the page may then be framed by any site).
    pub frame_ancestors: Option<String>,
    pub settings: Option<ProjectSettings>,
}

/// Widget codes: the base code (`p1`, `pw`, `m2`, `p10`…) with an optional numbered variant.
pub fn valid_widget_code(w: &str) -> bool {
    (1..=32).contains(&w.len())
        && w.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && w.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Payment widgets Kassa renders (offerwalls `w*`, `s*`, `mw*` are not payment pages).
pub fn is_payment_widget(w: &str) -> bool {
    let base = w.split('_').next().unwrap_or("");
    matches!(base, "p1" | "p2" | "p4" | "p10" | "m2" | "pw") || base.starts_with("mo")
}

/// How a payment widget lays out its page. The desktop widgets (`p1` unified, `p4`, `p10`
/// customised `p1`, and `pw`, the checkout widget with the merchant's logo) put the order
/// summary beside the form on wide screens; the mobile and single-method widgets (`m2`, `mo*`,
/// `p2` "Uni") keep one column at every width. A numbered variant (`p1_1`) lays out as its base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WidgetLayout {
    OneColumn,
    TwoColumns,
}

impl WidgetLayout {
    pub fn of(widget: &str) -> Self {
        match widget.split('_').next().unwrap_or("") {
            "p1" | "p4" | "p10" | "pw" => WidgetLayout::TwoColumns,
            _ => WidgetLayout::OneColumn,
        }
    }

    /// The class suffix the page's stylesheet knows (`pw-layout-one`, `pw-layout-two`).
    pub fn as_str(self) -> &'static str {
        match self {
            WidgetLayout::OneColumn => "one",
            WidgetLayout::TwoColumns => "two",
        }
    }
}

/// The macros a custom pingback parameter may take as its value (§4.7), besides `OWN`.
pub const CUSTOM_MACROS: &[&str] = &[
    "OWN",
    "CHARGEBACK_REASON",
    "CHARGEBACK_TYPE",
    "COUNTRY_CODE",
    "CURRENCY_CODE",
    "PAYMENT_DATETIME_UTC",
    "PAYMENT_TYPE",
    "PRODUCT_CURRENCY_CODE",
    "PRODUCT_PRICE",
    "RECURRING_PAYMENT",
    "REVENUE",
    "SUBSCRIPTION_ID",
    "UNIQUE_REF",
    "UNIQUE_REF_INITIAL",
    "USER_ID",
];

fn check_pingback_url(param: &str, url: &str) -> Result<()> {
    let parsed = url::Url::parse(url)
        .map_err(|_| ServiceError::invalid(param, format!("{param} must be an absolute URL.")))?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.host_str().is_none()
        || parsed.fragment().is_some()
        || url.len() > 2048
    {
        return Err(ServiceError::invalid(
            param,
            format!(
                "{param} must be an http or https URL without a fragment, at most 2048 characters."
            ),
        ));
    }
    Ok(())
}

fn check_frame_ancestors(v: &str) -> Result<()> {
    let ok = v.len() <= 1000
        && v.split_whitespace().all(|src| {
            src == "'self'"
                || src == "*"
                || ((src.starts_with("https://") || src.starts_with("http://"))
                    && src
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".:/-*_".contains(&b)))
        })
        && !v.trim().is_empty();
    if !ok {
        return Err(ServiceError::invalid(
            "frame_ancestors",
            "frame_ancestors is a space-separated list of origins (https://shop.example, \
             https://*.shop.example), 'self' or *.",
        ));
    }
    Ok(())
}

/// The pingback URLs an input sets, to check against the egress policy.
fn pingback_urls(input: &ProjectInput) -> Vec<(&'static str, String)> {
    [
        ("pingback_url", &input.pingback_url),
        ("live_pingback_url", &input.live_pingback_url),
    ]
    .into_iter()
    .filter_map(|(param, url)| url.clone().filter(|u| !u.is_empty()).map(|u| (param, u)))
    .collect()
}

fn random_hex32() -> String {
    let bytes: [u8; 16] = rand::thread_rng().gen();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Paymentwall<'_> {
    fn open_project(&self, row: PwProject) -> Result<Project> {
        let corrupt = |what: &str| {
            ServiceError::Store(kassa_store::StoreError::Corrupt(format!(
                "project {}: {what}",
                row.id
            )))
        };
        let secret = self
            .secrets
            .open(&row.secret_enc)
            .ok_or_else(|| corrupt("the secret cannot be opened with this master key"))?;
        let live_secret =
            match &row.live_secret_enc {
                Some(enc) => Some(self.secrets.open(enc).ok_or_else(|| {
                    corrupt("the live secret cannot be opened with this master key")
                })?),
                None => None,
            };
        let api_type = ApiType::parse(&row.api_type).ok_or_else(|| corrupt("api_type"))?;
        let widgets = serde_json::from_str(&row.widgets).map_err(|_| corrupt("widgets"))?;
        let payment_systems =
            serde_json::from_str(&row.payment_systems).map_err(|_| corrupt("payment_systems"))?;
        let custom: Vec<(String, String)> =
            serde_json::from_str(&row.custom_pingback).map_err(|_| corrupt("custom_pingback"))?;
        let settings = serde_json::from_str(&row.settings).map_err(|_| corrupt("settings"))?;
        Ok(Project {
            mode: Mode::Test,
            secret,
            live_secret,
            api_type,
            widgets,
            payment_systems,
            custom_pingback: custom,
            settings,
            row,
        })
    }

    /// Applies `input` to `p`, checking every field.
    fn apply_project_input(&self, p: &mut Project, input: ProjectInput) -> Result<()> {
        if let Some(name) = input.name {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 200 {
                return Err(ServiceError::invalid(
                    "name",
                    "name must be 1 to 200 characters.",
                ));
            }
            p.row.name = name.to_string();
        }
        if let Some(t) = input.api_type {
            p.api_type = ApiType::parse(&t).ok_or_else(|| {
                ServiceError::invalid(
                    "api_type",
                    "api_type must be digital_goods, virtual_currency or cart.",
                )
            })?;
        }
        if let Some(url) = input.pingback_url {
            if url.is_empty() {
                p.row.pingback_url = None;
            } else {
                check_pingback_url("pingback_url", &url)?;
                p.row.pingback_url = Some(url);
            }
        }
        if let Some(url) = input.live_pingback_url {
            if url.is_empty() {
                p.row.live_pingback_url = None;
            } else {
                check_pingback_url("live_pingback_url", &url)?;
                p.row.live_pingback_url = Some(url);
            }
        }
        if let Some(v) = input.pingback_sign_version {
            if !(1..=3).contains(&v) {
                return Err(ServiceError::invalid(
                    "pingback_sign_version",
                    "pingback_sign_version must be 1, 2 or 3.",
                ));
            }
            p.row.pingback_sign_version = v;
        }
        if let Some(w) = input.widgets {
            if w.is_empty() || w.len() > 50 {
                return Err(ServiceError::invalid(
                    "widgets",
                    "widgets must list 1 to 50 widget codes.",
                ));
            }
            for code in &w {
                if !valid_widget_code(code) || !is_payment_widget(code) {
                    return Err(ServiceError::invalid(
                        "widgets",
                        format!(
                            "'{}' is not a payment widget code (p1, p2, p4, p10, m2, pw, mo…, with an optional _N variant).",
                            code.chars().take(40).collect::<String>()
                        ),
                    ));
                }
            }
            p.widgets = w;
        }
        if let Some(ps) = input.payment_systems {
            validate_country_methods(&ps)
                .map_err(|m| ServiceError::invalid("payment_systems", m))?;
            p.payment_systems = ps;
        }
        if let Some(t) = input.test_method {
            p.row.test_method = t;
        }
        if let Some(custom) = input.custom_pingback {
            if custom.len() > 20 {
                return Err(ServiceError::invalid(
                    "custom_pingback",
                    "At most 20 custom pingback parameters.",
                ));
            }
            for (name, value) in &custom {
                let name_ok = (1..=64).contains(&name.len())
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                    && !kassa_paymentwall::PINGBACK_PARAMETERS.contains(&name.as_str());
                if !name_ok {
                    return Err(ServiceError::invalid(
                        "custom_pingback",
                        format!(
                            "'{}' cannot be a custom pingback parameter name (letters, digits, _ and -; not a standard pingback parameter).",
                            name.chars().take(64).collect::<String>()
                        ),
                    ));
                }
                if !CUSTOM_MACROS.contains(&value.as_str()) {
                    return Err(ServiceError::invalid(
                        "custom_pingback",
                        format!(
                            "The value of '{name}' must be OWN or one of {}.",
                            CUSTOM_MACROS[1..].join(", ")
                        ),
                    ));
                }
            }
            p.custom_pingback = custom.into_iter().collect();
        }
        if let Some(fa) = input.frame_ancestors {
            if fa.is_empty() {
                p.row.frame_ancestors = None;
            } else {
                check_frame_ancestors(&fa)?;
                p.row.frame_ancestors = Some(fa);
            }
        }
        if let Some(s) = input.settings {
            if s.vc_name.trim().is_empty() || s.vc_name.chars().count() > 40 {
                return Err(ServiceError::invalid(
                    "settings.vc_name",
                    "vc_name must be 1 to 40 characters.",
                ));
            }
            if !valid_rate(&s.vc_rate) {
                return Err(ServiceError::invalid(
                    "settings.vc_rate",
                    "vc_rate must be a positive decimal with at most 6 decimals.",
                ));
            }
            if s.risk_review_delay_seconds > 7 * 86_400
                || s.renewal_retry_seconds == 0
                || s.renewal_retry_seconds > 30 * 86_400
                || s.link_max_age_seconds == 0
                || s.link_max_age_seconds > 30 * 86_400
            {
                return Err(ServiceError::invalid(
                    "settings",
                    "risk_review_delay_seconds ≤ 7 days; renewal_retry_seconds and link_max_age_seconds from 1 s to 30 days.",
                ));
            }
            p.settings = s;
        }
        p.row.widgets = serde_json::to_string(&p.widgets).unwrap_or_default();
        p.row.payment_systems = serde_json::to_string(&p.payment_systems).unwrap_or_default();
        p.row.custom_pingback = serde_json::to_string(&p.custom_pingback).unwrap_or_default();
        p.row.settings = serde_json::to_string(&p.settings).unwrap_or_default();
        p.row.api_type = p.api_type.as_str().to_string();
        Ok(())
    }

    /// Creates a project with two fresh pairs of 32-hex project key and secret key, one for test
    /// and one for live mode. The secrets are returned in the JSON this once; they are stored
    /// encrypted under the master key (and hashed, for the secret-key APIs).
    pub async fn create_project(&self, merchant_id: &str, input: ProjectInput) -> Result<Project> {
        if input.name.is_none() {
            return Err(ServiceError::invalid(
                "name",
                "Missing required param: name.",
            ));
        }
        if input.api_type.is_none() {
            return Err(ServiceError::invalid(
                "api_type",
                "Missing required param: api_type (digital_goods, virtual_currency or cart).",
            ));
        }
        let secret = random_hex32();
        let live_secret = random_hex32();
        let mut p = Project {
            mode: Mode::Test,
            row: PwProject {
                id: new_id(PROJECT_PREFIX),
                merchant_id: merchant_id.to_string(),
                name: String::new(),
                project_key: random_hex32(),
                secret_enc: self.secrets.seal(&secret),
                api_type: String::new(),
                pingback_url: None,
                pingback_sign_version: 3,
                widgets: String::new(),
                payment_systems: String::new(),
                test_method: true,
                custom_pingback: String::new(),
                frame_ancestors: None,
                created_at: now_ms(),
                settings: String::new(),
                secret_hash: Some(kassa_core::secret::hash_api_key(&secret)),
                live_project_key: Some(random_hex32()),
                live_secret_enc: Some(self.secrets.seal(&live_secret)),
                live_secret_hash: Some(kassa_core::secret::hash_api_key(&live_secret)),
                live_pingback_url: None,
            },
            api_type: ApiType::DigitalGoods,
            secret,
            live_secret: Some(live_secret),
            widgets: vec!["p1_1".into(), "pw_1".into(), "m2_1".into(), "p2_1".into()],
            payment_systems: default_country_methods(),
            custom_pingback: Vec::new(),
            settings: ProjectSettings::default(),
        };
        let urls = pingback_urls(&input);
        self.apply_project_input(&mut p, input)?;
        for (param, url) in urls {
            self.check_egress(param, &url).await?;
        }
        if p.api_type == ApiType::Cart && p.row.pingback_sign_version != 2 {
            // Cart pingbacks are always v2 (the SDKs force it); say so in the settings.
            p.row.pingback_sign_version = 2;
        }
        let mut tx = self.store.begin().await?;
        tx.insert_pw_project(&p.row).await?;
        crate::audit::record(
            &mut tx,
            &Scope::test(merchant_id),
            "paymentwall_project.create",
            Some(&p.row.id),
            &p.to_json(false),
        )
        .await?;
        tx.commit().await?;
        Ok(p)
    }

    pub async fn update_project(
        &self,
        merchant_id: &str,
        id: &str,
        input: ProjectInput,
    ) -> Result<Project> {
        let mut p = self.project(merchant_id, id).await?;
        let urls = pingback_urls(&input);
        self.apply_project_input(&mut p, input)?;
        for (param, url) in urls {
            self.check_egress(param, &url).await?;
        }
        if p.api_type == ApiType::Cart {
            p.row.pingback_sign_version = 2;
        }
        let mut tx = self.store.begin().await?;
        tx.update_pw_project(&p.row).await?;
        crate::audit::record(
            &mut tx,
            &Scope::test(merchant_id),
            "paymentwall_project.update",
            Some(&p.row.id),
            &p.to_json(false),
        )
        .await?;
        tx.commit().await?;
        Ok(p)
    }

    /// A project of this merchant.
    pub async fn project(&self, merchant_id: &str, id: &str) -> Result<Project> {
        let row = self
            .store
            .pw_project(merchant_id, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("paymentwall project", id))?;
        self.open_project(row)
    }

    /// A project of this merchant, reached in `scope`'s mode (a project has a key pair for
    /// each mode; what it answers for, orders and subscriptions, is that mode's only).
    pub async fn project_in(&self, scope: &Scope, id: &str) -> Result<Project> {
        let p = self.project(&scope.merchant_id, id).await?;
        Ok(p.in_mode(kassa_core::scope::Mode::from_livemode(scope.livemode)))
    }

    /// Gives a project a live key pair: a new live project key and secret when it has none (a
    /// project made before live keys existed), else a new live secret for the same live key
    /// (the old live secret stops working at once). The answer shows the live secret, once.
    pub async fn new_live_keys(&self, merchant_id: &str, id: &str) -> Result<Project> {
        let mut p = self.project(merchant_id, id).await?;
        let key = p.row.live_project_key.clone().unwrap_or_else(random_hex32);
        let secret = random_hex32();
        let enc = self.secrets.seal(&secret);
        let hash = kassa_core::secret::hash_api_key(&secret);
        let mut tx = self.store.begin().await?;
        if !tx
            .set_pw_project_live_keys(merchant_id, id, &key, &enc, &hash)
            .await?
        {
            return Err(ServiceError::not_found("paymentwall project", id));
        }
        crate::audit::record(
            &mut tx,
            &Scope::live(merchant_id),
            "paymentwall_project.new_live_keys",
            Some(id),
            &serde_json::json!({"live_project_key": key}),
        )
        .await?;
        tx.commit().await?;
        p.row.live_project_key = Some(key);
        p.row.live_secret_enc = Some(enc);
        p.row.live_secret_hash = Some(hash);
        p.live_secret = Some(secret);
        Ok(p)
    }

    pub async fn projects(&self, merchant_id: &str) -> Result<Vec<Project>> {
        let rows = self.store.pw_projects(merchant_id).await?;
        rows.into_iter().map(|r| self.open_project(r)).collect()
    }

    /// The project a public key (its test or its live project key) names, if any, in the
    /// key's mode.
    pub async fn project_by_key(&self, key: &str) -> Result<Option<Project>> {
        if key.len() != 32 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let Some(row) = self.store.pw_project_by_key(key).await? else {
            return Ok(None);
        };
        let Some(mode) = row.mode_of_key(key) else {
            return Ok(None);
        };
        let p = self.open_project(row)?.in_mode(mode);
        // A live key whose secret is missing cannot sign anything.
        Ok((mode == Mode::Test || p.live_secret.is_some()).then_some(p))
    }

    /// The project whose test or live secret key this is (Delivery Confirmation API's
    /// `X-ApiKey`), in that secret's mode.
    pub async fn project_by_secret(&self, secret: &str) -> Result<Option<Project>> {
        if secret.len() != 32 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let hash = kassa_core::secret::hash_api_key(secret);
        let Some(row) = self.store.pw_project_by_secret_hash(&hash).await? else {
            return Ok(None);
        };
        let Some(mode) = row.mode_of_secret_hash(&hash) else {
            return Ok(None);
        };
        let p = self.open_project(row)?.in_mode(mode);
        // The hash found it; the secret itself must match too.
        Ok(
            kassa_core::secret::constant_time_eq(p.signing_secret().as_bytes(), secret.as_bytes())
                .then_some(p),
        )
    }

    /// A project by id, in `mode` (the mode of the order or subscription at hand).
    pub(crate) async fn project_by_id(&self, id: &str, mode: Mode) -> Result<Project> {
        let row = self
            .store
            .pw_project_by_id(id)
            .await?
            .ok_or_else(|| ServiceError::not_found("paymentwall project", id))?;
        Ok(self.open_project(row)?.in_mode(mode))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widget_codes() {
        for ok in ["p1", "p1_1", "pw_1", "m2_1", "p10", "p2", "mo1_1", "p4_2"] {
            assert!(valid_widget_code(ok) && is_payment_widget(ok), "{ok}");
        }
        for offerwall in ["w1", "s1", "mw6"] {
            assert!(valid_widget_code(offerwall) && !is_payment_widget(offerwall));
        }
        for bad in ["", "P1", "p1 ", "1p", "p1;x", &"p".repeat(33)] {
            assert!(!valid_widget_code(bad), "{bad}");
        }
    }

    #[test]
    fn widget_layouts() {
        for two in ["p1", "p1_1", "p4", "p10", "p10_3", "pw", "pw_1"] {
            assert_eq!(WidgetLayout::of(two), WidgetLayout::TwoColumns, "{two}");
        }
        for one in ["p2", "p2_1", "m2", "m2_1", "mo1_1", "mo"] {
            assert_eq!(WidgetLayout::of(one), WidgetLayout::OneColumn, "{one}");
        }
        // A base code is matched whole: `p10` is not `p1`, and `p11` is no desktop widget.
        assert_eq!(WidgetLayout::of("p11"), WidgetLayout::OneColumn);
        assert_eq!(WidgetLayout::TwoColumns.as_str(), "two");
        assert_eq!(WidgetLayout::OneColumn.as_str(), "one");
    }

    #[test]
    fn frame_ancestors_are_origins_only() {
        assert!(check_frame_ancestors("https://shop.example https://*.shop.example").is_ok());
        assert!(check_frame_ancestors("'self'").is_ok());
        assert!(check_frame_ancestors("http://127.0.0.1:8080").is_ok());
        assert!(check_frame_ancestors("https://a.example; script-src *").is_err());
        assert!(check_frame_ancestors("javascript:1").is_err());
        assert!(check_frame_ancestors("  ").is_err());
    }

    #[test]
    fn keys_are_32_lowercase_hex() {
        let k = random_hex32();
        assert_eq!(k.len(), 32);
        assert!(k
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_ne!(k, random_hex32());
    }
}
