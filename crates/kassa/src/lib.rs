//! The Kassa server: builds the application from a [`Config`] (binding its port, connecting and
//! migrating the database, starting the outbox workers) separately from running it, so tests can
//! start it on port 0 and learn the port.
#![forbid(unsafe_code)]

pub mod config;
pub mod serve;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use kassa_http::{AppState, HttpMetrics};
use kassa_notify::Notifier;
use kassa_processor::SandboxProcessor;
use kassa_service::{NewMerchant, Services};
use kassa_store::{now_ms, Store};
use prometheus::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Config, Overrides};

pub struct App {
    listener: TcpListener,
    addr: SocketAddr,
    /// The operations listener (`ops_listen`), when configured.
    ops_listener: Option<TcpListener>,
    /// The dashboard's own listener (`dashboard_listen`), when configured; otherwise the
    /// dashboard shares `listener` with the API.
    dashboard_listener: Option<TcpListener>,
    limits: serve::ConnLimits,
    state: AppState,
    notifier: Arc<Notifier>,
    /// How often the Paymentwall scheduler runs.
    scheduler_interval: Duration,
    /// Demo merchant keys, when one exists.
    pub demo: Option<NewMerchant>,
}

/// Connects to the configured database and applies migrations.
pub async fn open_store(cfg: &Config) -> anyhow::Result<Store> {
    let store = Store::connect_with(
        &cfg.database_url,
        cfg.max_connections,
        Duration::from_secs(cfg.database_acquire_timeout_secs),
    )
    .await
    .with_context(|| "connecting to the database".to_string())?;
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

/// Builds the services over an open store (shared by `serve` and the CLI).
pub fn services(
    cfg: &Config,
    store: Store,
    base_url: String,
    registry: &Registry,
) -> anyhow::Result<(Arc<Services>, Arc<Notifier>)> {
    let master = cfg.master_key_bytes()?;
    let store = store.seal_idempotent_responses(kassa_core::secret_box::SecretBox::for_purpose(
        &master,
        "kassa idempotent responses v1",
    ));
    let notifier = Notifier::new(
        store.clone(),
        kassa_core::secret_box::SecretBox::new(&master),
        cfg.notifier(),
        cfg.egress_policy()?,
        registry,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let stripe = kassa_stripe::StripeConnector::new(
        kassa_egress::EgressClient::new(
            cfg.egress_policy()?,
            std::time::Duration::from_secs(cfg.stripe.timeout_secs),
            concat!("Kassa/", env!("CARGO_PKG_VERSION")),
        )?,
        cfg.stripe.connector_config(&base_url)?,
    );
    let connectors = kassa_processor::Connectors::new().register(Arc::new(stripe));
    let mut svc = Services::new(
        store,
        Arc::new(SandboxProcessor),
        notifier.clone(),
        &master,
        base_url,
        registry,
    )?;
    svc.set_connectors(connectors);
    svc.max_webhook_endpoints = cfg.max_webhook_endpoints;
    if cfg.live_mode_allowed() {
        svc.allow_live_mode();
    }
    // The faces follow every core change in its own transaction (pingbacks, Paymob callbacks).
    svc.register_projection(Arc::new(kassa_service::paymentwall::PaymentwallProjection));
    svc.register_projection(Arc::new(kassa_service::paymob::PaymobProjection));
    Ok((Arc::new(svc), notifier))
}

const DEMO_SETTING: &str = "demo_merchant";

impl App {
    pub async fn build(cfg: Config) -> anyhow::Result<App> {
        cfg.validate()?;
        // Read first: a bad path stops the start before anything is bound or written.
        let country_db = match &cfg.country_db {
            Some(path) => {
                let db = kassa_paymentwall::geo::CountryDb::open(path)
                    .map_err(anyhow::Error::msg)
                    .with_context(|| {
                        format!(
                            "opening the country database (country_db = {})",
                            path.display()
                        )
                    })?;
                tracing::info!(path = %path.display(), kind = db.database_type(), "country database loaded");
                Some(Arc::new(db))
            }
            None => None,
        };
        let listener = TcpListener::bind(&cfg.listen)
            .await
            .with_context(|| format!("binding {}", cfg.listen))?;
        let addr = listener.local_addr()?;
        let ops_listener = match &cfg.ops_listen {
            Some(a) => Some(
                TcpListener::bind(a)
                    .await
                    .with_context(|| format!("binding the operations listener {a}"))?,
            ),
            None => None,
        };
        let dashboard_listener = match &cfg.dashboard_listen {
            Some(a) => Some(
                TcpListener::bind(a)
                    .await
                    .with_context(|| format!("binding the dashboard listener {a}"))?,
            ),
            None => None,
        };
        if !cfg.profile.is_production() && !addr.ip().is_loopback() {
            tracing::warn!(
                listen = %addr,
                "the development profile is listening on a non-loopback address: it has a demo \
                 merchant and delivers notifications to loopback addresses. Run with \
                 --profile production (KASSA_PROFILE=production) on any network others can reach"
            );
        }
        let base_url = cfg
            .base_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let store = open_store(&cfg).await?;
        let registry = Registry::new();
        let (svc, notifier) = services(&cfg, store, base_url, &registry)?;
        let demo = if cfg.demo_merchant() {
            Some(ensure_demo_merchant(&svc).await?)
        } else {
            None
        };
        let master = cfg.master_key_bytes()?;
        let state = AppState {
            metrics: HttpMetrics::new(&registry)?,
            csrf_key: kassa_core::secret::derive_key(&master, "checkout csrf v1"),
            country_db,
            client_ip_header: cfg.client_ip_header.clone(),
            guards: kassa_http::guards::Guards {
                hsts: cfg.profile.is_production() && svc.base_url.starts_with("https://"),
                secure_cookies: cfg.profile.is_production(),
                metrics: cfg.metrics_access(),
                limits: Arc::new(kassa_http::guards::RateLimits::new(
                    cfg.rate_limit.settings(),
                )),
            },
            request_timeout: Duration::from_secs(cfg.http.request_timeout_secs),
            registry,
            svc,
        };
        let limits = serve::ConnLimits {
            header_read_timeout: Duration::from_secs(cfg.http.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(cfg.http.idle_timeout_secs),
            max_connections: cfg.http.max_connections,
            drain_timeout: Duration::from_secs(cfg.http.request_timeout_secs),
        };
        Ok(App {
            listener,
            addr,
            ops_listener,
            dashboard_listener,
            limits,
            state,
            notifier,
            scheduler_interval: Duration::from_millis(cfg.scheduler_interval_ms),
            demo,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The operations listener's address, when one is configured.
    pub fn ops_addr(&self) -> Option<SocketAddr> {
        self.ops_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The dashboard's own listener's address, when `dashboard_listen` is configured.
    pub fn dashboard_addr(&self) -> Option<SocketAddr> {
        self.dashboard_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn base_url(&self) -> &str {
        &self.state.svc.base_url
    }

    pub fn services(&self) -> Arc<Services> {
        self.state.svc.clone()
    }

    /// Serves until `shutdown` is cancelled, then finishes in-flight requests and deliveries.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let workers = tokio::spawn(self.notifier.clone().run(shutdown.clone()));
        let janitor = tokio::spawn(janitor(self.state.svc.clone(), shutdown.clone()));
        let scheduler = tokio::spawn(scheduler(
            self.state.svc.clone(),
            self.scheduler_interval,
            shutdown.clone(),
        ));
        let ops = self.ops_listener.map(|l| {
            tokio::spawn(serve::serve(
                l,
                kassa_http::ops_router(self.state.clone()),
                self.limits,
                shutdown.clone(),
            ))
        });
        let dashboard = self.dashboard_listener.map(|l| {
            tokio::spawn(serve::serve(
                l,
                kassa_http::standalone_router(
                    self.state.clone(),
                    kassa_dashboard::routes(),
                    kassa_dashboard::upload_routes(),
                ),
                self.limits,
                shutdown.clone(),
            ))
        });
        // Without a listener of its own the dashboard is served with the API.
        let router = if dashboard.is_some() {
            kassa_http::router(self.state.clone())
        } else {
            kassa_http::router_with(
                self.state.clone(),
                kassa_dashboard::routes(),
                kassa_dashboard::upload_routes(),
            )
        };
        let served = serve::serve(self.listener, router, self.limits, shutdown.clone()).await;
        shutdown.cancel();
        if let Some(ops) = ops {
            let _ = ops.await;
        }
        if let Some(dashboard) = dashboard {
            let _ = dashboard.await;
        }
        let _ = workers.await;
        let _ = janitor.await;
        let _ = scheduler.await;
        self.state.svc.store.close().await;
        served.context("serving HTTP")
    }
}

/// Creates the demo merchant on first start; its keys are kept sealed under the master key so
/// they can be printed on every start.
async fn ensure_demo_merchant(svc: &Services) -> anyhow::Result<NewMerchant> {
    if let Some(stored) = svc.store.setting(DEMO_SETTING).await? {
        if let Some(json) = svc.secrets.open(&stored) {
            if let Ok(m) = serde_json::from_str::<serde_json::Value>(&json) {
                let get = |k: &str| m[k].as_str().unwrap_or_default().to_string();
                return Ok(NewMerchant {
                    id: get("id"),
                    name: get("name"),
                    secret_key: get("secret_key"),
                    publishable_key: get("publishable_key"),
                });
            }
        }
        anyhow::bail!("the demo merchant's keys cannot be read: was the master key changed?");
    }
    let m = svc.create_merchant("Demo Shop").await?;
    let sealed = svc.secrets.seal(&serde_json::to_string(&m)?);
    let mut tx = svc.store.begin().await?;
    tx.put_setting(DEMO_SETTING, &sealed).await?;
    tx.commit().await?;
    Ok(m)
}

/// A payment attempt still `processing` after this long was interrupted (processor calls time
/// out well before). One whose processor answer was lost is asked about sooner, 30 s after the
/// answer was lost (`recover_interrupted` knows it by the note on the attempt).
pub const INTERRUPTED_AFTER_MS: i64 = 5 * 60 * 1000;

/// A refund still without the processor's answer this long after it was created (its answer
/// was lost, or its process died while asking) is asked about again under the same refund id
/// (processor calls time out well before).
pub const UNANSWERED_REFUND_AFTER_MS: i64 = 60 * 1000;

/// How often the janitor runs: its listings scan unindexed columns, so not every scheduler pass.
const JANITOR_INTERVAL: Duration = Duration::from_secs(60);

/// Periodic housekeeping: settles payment attempts interrupted by a crash or whose processor
/// answer was lost, asks again about refunds whose answer was lost, and forgets idempotency
/// keys past their retention.
async fn janitor(svc: Arc<Services>, shutdown: CancellationToken) {
    let mut last_purge: Option<std::time::Instant> = None;
    loop {
        match svc
            .payments()
            .recover_interrupted(INTERRUPTED_AFTER_MS)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::warn!(count = n, "settled interrupted payment attempts"),
            Err(e) => tracing::warn!(error = %e, "settling interrupted payment attempts failed"),
        }
        match svc
            .payments()
            .retry_unanswered_refunds(UNANSWERED_REFUND_AFTER_MS, 100)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::warn!(count = n, "settled refunds whose answer was lost"),
            Err(e) => tracing::warn!(error = %e, "asking again about unanswered refunds failed"),
        }
        if last_purge.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
            let cutoff = now_ms() - 2 * kassa_http::native::IDEMPOTENCY_RETENTION_MS;
            if let Err(e) = svc.store.purge_idempotency_keys(cutoff).await {
                tracing::warn!(error = %e, "purging idempotency keys failed");
            }
            last_purge = Some(std::time::Instant::now());
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(JANITOR_INTERVAL) => {}
        }
    }
}

/// The scheduler: Paymentwall's subscriptions, Paymob's renewals, and the core's risk-review
/// verdicts and release of authorizations whose capture window ran out, one pass every
/// `interval`.
/// Several processes may run it on one database.
async fn scheduler(svc: Arc<Services>, interval: Duration, shutdown: CancellationToken) {
    loop {
        match svc.payments().decide_reviews(50).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(count = n, "risk reviews decided"),
            Err(e) => tracing::warn!(error = %e, "deciding risk reviews failed"),
        }
        match svc.payments().expire_authorizations(50).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                count = n,
                "released authorizations whose capture window ran out"
            ),
            Err(e) => tracing::warn!(error = %e, "releasing expired authorizations failed"),
        }
        match svc.payments().expire_offline_payments(50).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "declined vouchers nobody paid in time"),
            Err(e) => tracing::warn!(error = %e, "declining expired vouchers failed"),
        }
        match svc.billing().run_due_subscriptions(50).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(count = n, "subscription billing steps ran"),
            Err(e) => tracing::warn!(error = %e, "subscription billing pass failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// Crates the integration tests reach through the binary crate.
#[doc(hidden)]
pub mod reexport {
    pub use kassa_service as service;
    pub use kassa_store as store;
    pub use prometheus;
}
