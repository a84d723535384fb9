//! Layered configuration: built-in defaults, then an optional TOML file, then `KASSA_*`
//! environment variables and command-line flags. `kassa serve` runs with nothing set.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;

mod limits;
mod processors;

pub use limits::{HttpConfig, RateLimitConfig};
pub use processors::StripeSettings;

/// What a deployment is for: `development` keeps the conveniences of a machine a developer
/// works on; `production` turns every one of them off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Demo merchant, deliveries to loopback addresses, plain-http base URL (the default).
    #[default]
    Development,
    /// No demo merchant, master key required, no private or loopback delivery targets,
    /// `Secure` cookies, HSTS behind an https base URL, metrics off the public listener.
    Production,
}

impl std::str::FromStr for Profile {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Profile> {
        match s.trim().to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(Profile::Development),
            "production" | "prod" => Ok(Profile::Production),
            other => bail!("profile must be `development` or `production`, not `{other}`"),
        }
    }
}

impl Profile {
    pub fn is_production(self) -> bool {
        self == Profile::Production
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Development => "development",
            Profile::Production => "production",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `development` (default) or `production`.
    pub profile: Profile,
    /// Address to listen on.
    pub listen: String,
    /// `sqlite://path` (embedded default) or `postgres://…`.
    pub database_url: String,
    /// Public base URL used in checkout links; defaults to `http://<listen>`.
    pub base_url: Option<String>,
    /// Master key (at least 32 characters; 64 hex digits recommended). Encrypts stored secrets
    /// and keys card fingerprints. With SQLite and none set, one is generated next to the
    /// database file.
    pub master_key: Option<String>,
    /// `text` or `json`.
    pub log_format: String,
    /// Database connections per process.
    pub max_connections: u32,
    /// Create (on first start) and print a demo merchant [default: on in `development`, and
    /// refused in `production`].
    pub demo_merchant: Option<bool>,
    /// Private address ranges (CIDRs) or host names that outbound notifications may reach
    /// although the egress policy refuses them otherwise.
    pub egress_allow: Vec<String>,
    /// MaxMind-format (`.mmdb`) IP-to-country database for the Paymentwall payment page's
    /// method list (GeoLite2-Country or an `ip-location-db` country file).
    pub country_db: Option<PathBuf>,
    /// Header a trusted reverse proxy puts the client address in (e.g. `x-forwarded-for`).
    /// Set it only behind such a proxy: clients can send the header themselves.
    pub client_ip_header: Option<String>,
    /// How often the Paymentwall scheduler (risk-review verdicts, subscription renewals and
    /// expiry) looks for due work, in milliseconds (at least 50).
    pub scheduler_interval_ms: u64,
    /// How long a query waits for a database connection before the request answers 503.
    pub database_acquire_timeout_secs: u64,
    /// Most webhook endpoints per merchant.
    pub max_webhook_endpoints: i64,
    /// A second address serving only `/healthz`, `/readyz` and `/metrics` (no authentication),
    /// for monitoring on a private network.
    pub ops_listen: Option<String>,
    /// A separate address for the merchant dashboard (`/dashboard`), e.g. on loopback or a VPN,
    /// so it can stay private while the API is public. Without it the dashboard is served on
    /// `listen` with the API.
    pub dashboard_listen: Option<String>,
    /// Bearer token that opens `/metrics` on the public listener.
    pub metrics_token: Option<String>,
    pub webhooks: WebhookConfig,
    pub http: HttpConfig,
    pub rate_limit: RateLimitConfig,
    pub stripe: StripeSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Delays between attempts, e.g. `"5s,5m,30m,2h,5h,10h,10h,24h,24h"`.
    pub retry_schedule: Option<String>,
    /// Add ±10 % jitter to each delay.
    pub jitter: bool,
    /// Receiver timeout in seconds.
    pub timeout_secs: u64,
    /// How often idle workers look for due deliveries, in milliseconds.
    pub poll_interval_ms: u64,
    /// Delays between Paymentwall pingback attempts (default: every 30 min, 72 tries).
    pub pingback_retry_schedule: Option<String>,
    /// Delays between Paymob callback attempts (default: 10 s, 1 min, 5 min, 30 min, 2 h,
    /// 6 h, 24 h).
    pub paymob_retry_schedule: Option<String>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            retry_schedule: None,
            jitter: true,
            timeout_secs: 15,
            poll_interval_ms: 500,
            pingback_retry_schedule: None,
            paymob_retry_schedule: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            database_url: "sqlite://data/kassa.db".into(),
            base_url: None,
            master_key: None,
            log_format: "text".into(),
            max_connections: 10,
            profile: Profile::Development,
            demo_merchant: None,
            egress_allow: Vec::new(),
            country_db: None,
            client_ip_header: None,
            scheduler_interval_ms: 5000,
            database_acquire_timeout_secs: 10,
            max_webhook_endpoints: kassa_service::DEFAULT_MAX_WEBHOOK_ENDPOINTS,
            ops_listen: None,
            dashboard_listen: None,
            metrics_token: None,
            webhooks: WebhookConfig::default(),
            http: HttpConfig::default(),
            rate_limit: RateLimitConfig::default(),
            stripe: StripeSettings::default(),
        }
    }
}

/// Values given on the command line or in the environment; they win over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub profile: Option<Profile>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub base_url: Option<String>,
    pub country_db: Option<PathBuf>,
    pub client_ip_header: Option<String>,
    pub scheduler_interval_ms: Option<u64>,
}

impl Config {
    /// Defaults, then the TOML file (if any), then environment, then `overrides`.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> anyhow::Result<Config> {
        let mut cfg = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("parsing config file {}", path.display()))?
            }
            None => Config::default(),
        };
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(v) = env("KASSA_MASTER_KEY") {
            cfg.master_key = Some(v);
        }
        if let Some(v) = env("KASSA_LOG_FORMAT") {
            cfg.log_format = v;
        }
        if let Some(v) = env("KASSA_MAX_CONNECTIONS") {
            cfg.max_connections = v.parse().context("KASSA_MAX_CONNECTIONS")?;
        }
        if let Some(v) = env("KASSA_PROFILE") {
            cfg.profile = v.parse().context("KASSA_PROFILE")?;
        }
        if let Some(v) = env("KASSA_DEMO_MERCHANT") {
            cfg.demo_merchant = Some(matches!(v.as_str(), "1" | "true" | "yes"));
        }
        if let Some(v) = env("KASSA_EGRESS_ALLOW") {
            cfg.egress_allow = v
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if let Some(v) = env("KASSA_WEBHOOK_RETRY_SCHEDULE") {
            cfg.webhooks.retry_schedule = Some(v);
        }
        if let Some(v) = env("KASSA_PINGBACK_RETRY_SCHEDULE") {
            cfg.webhooks.pingback_retry_schedule = Some(v);
        }
        if let Some(v) = env("KASSA_PAYMOB_RETRY_SCHEDULE") {
            cfg.webhooks.paymob_retry_schedule = Some(v);
        }
        if let Some(v) = env("KASSA_WEBHOOK_JITTER") {
            cfg.webhooks.jitter = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = env("KASSA_WEBHOOK_TIMEOUT_SECS") {
            cfg.webhooks.timeout_secs = v.parse().context("KASSA_WEBHOOK_TIMEOUT_SECS")?;
        }
        if let Some(v) = env("KASSA_WEBHOOK_POLL_INTERVAL_MS") {
            cfg.webhooks.poll_interval_ms = v.parse().context("KASSA_WEBHOOK_POLL_INTERVAL_MS")?;
        }
        if let Some(v) = env("KASSA_COUNTRY_DB") {
            cfg.country_db = Some(PathBuf::from(v));
        }
        if let Some(v) = env("KASSA_CLIENT_IP_HEADER") {
            cfg.client_ip_header = Some(v);
        }
        let num = |k: &str| -> anyhow::Result<Option<u64>> {
            env(k)
                .map(|v| v.parse::<u64>().with_context(|| k.to_string()))
                .transpose()
        };
        if let Some(v) = num("KASSA_DATABASE_ACQUIRE_TIMEOUT_SECS")? {
            cfg.database_acquire_timeout_secs = v;
        }
        if let Some(v) = num("KASSA_MAX_WEBHOOK_ENDPOINTS")? {
            cfg.max_webhook_endpoints = v as i64;
        }
        if let Some(v) = env("KASSA_OPS_LISTEN") {
            cfg.ops_listen = Some(v);
        }
        if let Some(v) = env("KASSA_DASHBOARD_LISTEN") {
            cfg.dashboard_listen = Some(v);
        }
        if let Some(v) = env("KASSA_METRICS_TOKEN") {
            cfg.metrics_token = Some(v);
        }
        cfg.http.apply_env(&env)?;
        cfg.rate_limit.apply_env(&env)?;
        cfg.stripe.apply_env(&env)?;
        if let Some(v) = env("KASSA_SCHEDULER_INTERVAL_MS") {
            cfg.scheduler_interval_ms = v.parse().context("KASSA_SCHEDULER_INTERVAL_MS")?;
        }
        if let Some(v) = overrides.profile {
            cfg.profile = v;
        }
        if let Some(v) = overrides.listen {
            cfg.listen = v;
        }
        if let Some(v) = overrides.database_url {
            cfg.database_url = v;
        }
        if let Some(v) = overrides.base_url {
            cfg.base_url = Some(v);
        }
        if let Some(v) = overrides.country_db {
            cfg.country_db = Some(v);
        }
        if let Some(v) = overrides.client_ip_header {
            cfg.client_ip_header = Some(v);
        }
        if let Some(v) = overrides.scheduler_interval_ms {
            cfg.scheduler_interval_ms = v;
        }
        cfg.normalize();
        cfg.validate()?;
        Ok(cfg)
    }

    /// Header names are case-insensitive: kept lowercase; an empty one (or an empty database
    /// path) means none.
    fn normalize(&mut self) {
        self.client_ip_header = self
            .client_ip_header
            .take()
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty());
        self.country_db = self.country_db.take().filter(|p| !p.as_os_str().is_empty());
        self.ops_listen = self.ops_listen.take().filter(|v| !v.trim().is_empty());
        self.dashboard_listen = self
            .dashboard_listen
            .take()
            .filter(|v| !v.trim().is_empty());
        self.metrics_token = self.metrics_token.take().filter(|v| !v.is_empty());
    }

    /// Who may read `/metrics` on the public listener: anyone in development (unless a token
    /// is set), the token holder, or nobody in production without a token.
    pub fn metrics_access(&self) -> kassa_http::guards::MetricsAccess {
        use kassa_http::guards::MetricsAccess;
        match (&self.metrics_token, self.profile) {
            (Some(t), _) => MetricsAccess::Token(t.clone()),
            (None, Profile::Development) => MetricsAccess::Public,
            (None, Profile::Production) => MetricsAccess::Hidden,
        }
    }

    /// Whether to create and print the demo merchant.
    pub fn demo_merchant(&self) -> bool {
        self.demo_merchant
            .unwrap_or(self.profile == Profile::Development)
    }

    /// Checks the settings together (run by [`Config::load`] and by `App::build`).
    /// Whether live keys may work: only in the `production` profile behind an https base URL
    /// (live card data and live notifications never travel over plain http).
    pub fn live_mode_allowed(&self) -> bool {
        self.profile.is_production()
            && self
                .base_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.egress_policy()?;
        self.stripe.connector_config("https://kassa.invalid")?;
        if self.profile.is_production() {
            if self.demo_merchant == Some(true) {
                bail!("the production profile has no demo merchant: remove demo_merchant (KASSA_DEMO_MERCHANT)");
            }
            if self.master_key.is_none() {
                bail!("the production profile needs a master key: set KASSA_MASTER_KEY (or master_key in the config file) to 64 random hex digits, and keep it with your backups");
            }
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!("log_format must be `text` or `json`");
        }
        if let Some(k) = &self.master_key {
            if k.len() < 32 {
                bail!("the master key must be at least 32 characters (64 hex digits recommended)");
            }
        }
        if self.max_connections == 0 {
            bail!("max_connections must be at least 1");
        }
        if self.scheduler_interval_ms < 50 {
            bail!("scheduler_interval_ms must be at least 50");
        }
        if let Some(h) = &self.client_ip_header {
            if axum::http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                bail!("client_ip_header `{h}` is not a valid HTTP header name");
            }
        }
        if self.database_acquire_timeout_secs == 0 {
            bail!("database_acquire_timeout_secs must be at least 1");
        }
        if self.max_webhook_endpoints < 1 {
            bail!("max_webhook_endpoints must be at least 1");
        }
        self.http.validate()?;
        if let Some(t) = &self.metrics_token {
            if t.len() < 16 {
                bail!("metrics_token must be at least 16 characters");
            }
        }
        if self.webhooks.timeout_secs == 0 {
            bail!("webhooks.timeout_secs must be at least 1");
        }
        for (what, schedule) in [
            ("webhook retry schedule", &self.webhooks.retry_schedule),
            (
                "pingback retry schedule",
                &self.webhooks.pingback_retry_schedule,
            ),
            (
                "paymob retry schedule",
                &self.webhooks.paymob_retry_schedule,
            ),
        ] {
            if let Some(s) = schedule {
                kassa_notify::parse_schedule(s).map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
            }
        }
        Ok(())
    }

    /// Which addresses Kassa may reach when it calls a merchant (webhooks, pingbacks, Paymob
    /// callbacks, the Test Pingback Tool) and which URLs it accepts for them: public addresses;
    /// loopback too in `development`; plus what `egress_allow` lists (CIDRs, addresses, host
    /// names, `*.domain`). Link-local and cloud metadata addresses are never reachable.
    pub fn egress_policy(&self) -> anyhow::Result<kassa_egress::EgressPolicy> {
        kassa_egress::EgressPolicy::new(!self.profile.is_production(), &self.egress_allow)
            .map_err(|e| anyhow::anyhow!("{e} (egress_allow, KASSA_EGRESS_ALLOW)"))
    }

    pub fn notifier(&self) -> kassa_notify::NotifierConfig {
        let mut n = kassa_notify::NotifierConfig {
            timeout: Duration::from_secs(self.webhooks.timeout_secs),
            poll_interval: Duration::from_millis(self.webhooks.poll_interval_ms.max(10)),
            ..Default::default()
        };
        if let Some(s) = &self.webhooks.retry_schedule {
            let delays = kassa_notify::parse_schedule(s).unwrap_or_default();
            n.schedule = kassa_notify::RetrySchedule::new(delays, self.webhooks.jitter);
        }
        if let Some(s) = &self.webhooks.pingback_retry_schedule {
            // Pingbacks are resent byte for byte on a fixed cadence; no jitter.
            let delays = kassa_notify::parse_schedule(s).unwrap_or_default();
            n.pingback_schedule = kassa_notify::RetrySchedule::new(delays, false);
        }
        if let Some(s) = &self.webhooks.paymob_retry_schedule {
            let delays = kassa_notify::parse_schedule(s).unwrap_or_default();
            n.paymob_schedule = kassa_notify::RetrySchedule::new(delays, self.webhooks.jitter);
        }
        n
    }

    /// The master key bytes: configured, or (SQLite only) read from / created at
    /// `<database dir>/master.key`.
    pub fn master_key_bytes(&self) -> anyhow::Result<Vec<u8>> {
        if let Some(k) = &self.master_key {
            return Ok(k.as_bytes().to_vec());
        }
        if self.profile.is_production() {
            bail!("the production profile needs a master key: set KASSA_MASTER_KEY (or master_key in the config file)");
        }
        let Some(path) = self.sqlite_path() else {
            bail!("set KASSA_MASTER_KEY (or master_key in the config file) when using PostgreSQL; every process sharing the database needs the same key");
        };
        let key_path = path
            .parent()
            .map(|p| p.join("master.key"))
            .unwrap_or_else(|| PathBuf::from("master.key"));
        if let Ok(existing) = std::fs::read_to_string(&key_path) {
            let k = existing.trim().to_string();
            if k.len() >= 32 {
                return Ok(k.into_bytes());
            }
            bail!("{} is too short to be a master key", key_path.display());
        }
        if let Some(dir) = key_path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let key = hex::encode(rand::random::<[u8; 32]>());
        write_private(&key_path, &key)?;
        tracing::warn!(path = %key_path.display(), "generated a new master key; keep it with the database");
        Ok(key.into_bytes())
    }

    fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self
            .database_url
            .strip_prefix("sqlite://")
            .or_else(|| self.database_url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or(rest);
        (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
    }
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(content.as_bytes())?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    std::fs::write(path, content).with_context(|| format!("creating {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_sets_values_and_overrides_win_over_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kassa.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\nbase_url = \"https://pay.example\"\n[webhooks]\ntimeout_secs = 5\n",
        )
        .unwrap();
        let cfg = Config::load(Some(&path), Overrides::default()).unwrap();
        assert_eq!(cfg.listen, "127.0.0.1:9000");
        assert_eq!(cfg.webhooks.timeout_secs, 5);
        let cfg = Config::load(
            Some(&path),
            Overrides {
                listen: Some("127.0.0.1:1".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(cfg.listen, "127.0.0.1:1");
        assert_eq!(cfg.base_url.as_deref(), Some("https://pay.example"));
    }

    #[test]
    fn each_channel_has_its_own_retry_schedule_and_a_bad_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kassa.toml");
        std::fs::write(
            &path,
            "[webhooks]\npaymob_retry_schedule = \"1s,2s\"\npingback_retry_schedule = \"3s\"\n",
        )
        .unwrap();
        let n = Config::load(Some(&path), Overrides::default())
            .unwrap()
            .notifier();
        assert_eq!(n.paymob_schedule.span(), Duration::from_secs(3));
        assert_eq!(n.pingback_schedule.span(), Duration::from_secs(3));
        let defaults = Config::load(None, Overrides::default()).unwrap().notifier();
        assert_eq!(
            defaults.paymob_schedule,
            kassa_notify::RetrySchedule::paymob()
        );
        assert_ne!(defaults.paymob_schedule, defaults.schedule);
        for key in [
            "retry_schedule",
            "pingback_retry_schedule",
            "paymob_retry_schedule",
        ] {
            std::fs::write(&path, format!("[webhooks]\n{key} = \"soon\"\n")).unwrap();
            let err = Config::load(Some(&path), Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("retry schedule"), "{key}: {err}");
        }
    }

    #[test]
    fn paymentwall_settings_have_defaults_and_are_checked() {
        let cfg = Config::load(None, Overrides::default()).unwrap();
        assert_eq!(cfg.scheduler_interval_ms, 5000);
        assert!(cfg.country_db.is_none());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kassa.toml");
        std::fs::write(
            &path,
            "country_db = \"/var/lib/kassa/country.mmdb\"\nclient_ip_header = \" X-Forwarded-For \"\nscheduler_interval_ms = 250\n",
        )
        .unwrap();
        let cfg = Config::load(Some(&path), Overrides::default()).unwrap();
        assert_eq!(
            cfg.country_db.as_deref(),
            Some(Path::new("/var/lib/kassa/country.mmdb"))
        );
        assert_eq!(cfg.client_ip_header.as_deref(), Some("x-forwarded-for"));
        assert_eq!(cfg.scheduler_interval_ms, 250);
        let cfg = Config::load(
            Some(&path),
            Overrides {
                client_ip_header: Some("".into()),
                scheduler_interval_ms: Some(60),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(cfg.client_ip_header, None);
        assert_eq!(cfg.scheduler_interval_ms, 60);
        for bad in [
            Overrides {
                scheduler_interval_ms: Some(49),
                ..Default::default()
            },
            Overrides {
                client_ip_header: Some("x forwarded".into()),
                ..Default::default()
            },
        ] {
            assert!(Config::load(None, bad).is_err());
        }
    }

    #[test]
    fn unknown_keys_in_the_file_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kassa.toml");
        std::fs::write(&path, "lissen = \"x\"\n").unwrap();
        let err = Config::load(Some(&path), Overrides::default()).unwrap_err();
        assert!(format!("{err:#}").contains("lissen"));
    }

    #[test]
    fn a_sqlite_setup_without_a_master_key_generates_and_reuses_one() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config {
            database_url: format!("sqlite://{}/db/kassa.db", dir.path().display()),
            ..Config::default()
        };
        let a = cfg.master_key_bytes().unwrap();
        let b = cfg.master_key_bytes().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        let pg = Config {
            database_url: "postgres://x/y".into(),
            ..Config::default()
        };
        assert!(pg.master_key_bytes().is_err());
    }
}
