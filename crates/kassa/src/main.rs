//! `kassa`: the payment gateway server and its operator commands.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use kassa::{App, Config, Overrides};
use tokio_util::sync::CancellationToken;

mod processor_cmd;
mod test_data_cmd;
mod user_cmd;

#[derive(Parser)]
#[command(
    name = "kassa",
    version,
    about = "Kassa, a self-hosted payment gateway"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Serve(Common),
    /// Apply database migrations and exit.
    Migrate(Common),
    /// Manage merchants.
    #[command(subcommand)]
    Merchant(MerchantCmd),
    /// Manage the Paymentwall dialect.
    #[command(subcommand)]
    Paymentwall(PaymentwallCmd),
    /// Manage the Paymob dialect.
    #[command(subcommand)]
    Paymob(PaymobCmd),
    /// Manage merchants' live processor accounts (where live payments go).
    #[command(subcommand)]
    Processor(processor_cmd::ProcessorCmd),
    /// Delete a merchant's test data (live data and configuration stay).
    #[command(subcommand)]
    TestData(test_data_cmd::TestDataCmd),
    /// Manage dashboard users.
    #[command(subcommand)]
    User(user_cmd::UserCmd),
}

#[derive(Subcommand)]
enum PaymobCmd {
    /// Manage Paymob profiles (accounts with keys and integrations).
    #[command(subcommand)]
    Profile(PaymobProfileCmd),
}

#[derive(Subcommand)]
enum PaymobProfileCmd {
    /// Create a profile for a merchant, with one integration of each kind (card, card_auth,
    /// moto, wallet, kiosk, cash), and print it with its secret key, HMAC secret and legacy API
    /// key (shown only now).
    Create {
        /// The merchant (acct_…).
        #[arg(long)]
        merchant: String,
        /// The company name customers see.
        #[arg(long)]
        name: String,
        /// Country: the keys' prefix and the integrations' currency.
        #[arg(long, default_value = "egy", value_parser = ["egy", "are", "sau", "omn", "pak"])]
        country: String,
        /// Every integration's transaction processed callback (POST).
        #[arg(long)]
        callback_url: Option<String>,
        /// Every integration's transaction response callback (the customer's redirect).
        #[arg(long)]
        redirect_url: Option<String>,
        /// Where the profile's pages may be framed: space-separated origins, 'self' or *
        /// (default 'none').
        #[arg(long)]
        frame_ancestors: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum PaymentwallCmd {
    /// Manage Paymentwall projects.
    #[command(subcommand)]
    Project(ProjectCmd),
}

#[derive(Subcommand)]
enum ProjectCmd {
    /// Create a project for a merchant and print it with its keys (the secret key is shown
    /// only now).
    Create {
        /// The merchant (acct_…).
        #[arg(long)]
        merchant: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["digital_goods", "virtual_currency", "cart"])]
        api_type: String,
        /// Where pingbacks are sent.
        #[arg(long)]
        pingback_url: Option<String>,
        /// Pingback signature version: 1, 2 or 3 [default: 3; Cart is always 2].
        #[arg(long)]
        sign_version: Option<i64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum MerchantCmd {
    /// Create a merchant and print its id and test keys.
    Create {
        #[arg(long)]
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Create a new secret and publishable key pair for a merchant in test or live mode and
    /// print it (shown only now; earlier keys keep working). Live keys work only on a server
    /// in the `production` profile with an https base URL.
    Keys {
        #[arg(long)]
        merchant: String,
        /// `test` or `live`.
        #[arg(long, value_parser = ["test", "live"])]
        mode: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Args, Clone, Default)]
struct Common {
    /// `development` (demo merchant, loopback delivery targets allowed) or `production`
    /// [default: development].
    #[arg(long, env = "KASSA_PROFILE")]
    profile: Option<kassa::config::Profile>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "KASSA_LISTEN")]
    listen: Option<String>,
    /// sqlite://… or postgres://… [default: sqlite://data/kassa.db].
    #[arg(long, env = "KASSA_DATABASE_URL")]
    database_url: Option<String>,
    /// Public base URL for links [default: http://<listen>].
    #[arg(long, env = "KASSA_BASE_URL")]
    base_url: Option<String>,
    /// TOML configuration file.
    #[arg(long, env = "KASSA_CONFIG")]
    config: Option<PathBuf>,
    /// MaxMind-format (.mmdb) IP-to-country database [env: KASSA_COUNTRY_DB].
    #[arg(long)]
    country_db: Option<PathBuf>,
    /// Header a trusted reverse proxy puts the client address in, e.g. x-forwarded-for
    /// [env: KASSA_CLIENT_IP_HEADER].
    #[arg(long)]
    client_ip_header: Option<String>,
    /// Paymentwall scheduler interval in milliseconds [default: 5000; env:
    /// KASSA_SCHEDULER_INTERVAL_MS].
    #[arg(long)]
    scheduler_interval_ms: Option<u64>,
}

impl Common {
    fn load(&self) -> anyhow::Result<Config> {
        Config::load(
            self.config.as_deref(),
            Overrides {
                profile: self.profile,
                listen: self.listen.clone(),
                database_url: self.database_url.clone(),
                base_url: self.base_url.clone(),
                country_db: self.country_db.clone(),
                client_ip_header: self.client_ip_header.clone(),
                scheduler_interval_ms: self.scheduler_interval_ms,
            },
        )
    }
}

/// What an operator command works with: the configured database and the services as
/// `kassa serve` builds them (live mode, connectors and all).
async fn operator_services(
    common: &Common,
) -> anyhow::Result<(
    kassa::reexport::store::Store,
    std::sync::Arc<kassa_service::Services>,
)> {
    let cfg = common.load()?;
    init_logging(&cfg.log_format);
    let store = kassa::open_store(&cfg).await?;
    let registry = prometheus::Registry::new();
    let base = cfg
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", cfg.listen));
    let (svc, _) = kassa::services(&cfg, store.clone(), base, &registry)?;
    Ok((store, svc))
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,hyper=warn,icu_provider=error".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve(Common::default()));
    // What an operator command changes is audited as done at the command line; the server's own
    // requests each name their own actor.
    if matches!(command, Command::Serve(_)) {
        run(command).await
    } else {
        kassa_service::audit::with_actor(kassa_service::audit::Actor::cli(), run(command)).await
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(common) => {
            let cfg = common.load()?;
            init_logging(&cfg.log_format);
            serve(cfg).await
        }
        Command::Migrate(common) => {
            let cfg = common.load()?;
            init_logging(&cfg.log_format);
            let store = kassa::open_store(&cfg).await?;
            store.close().await;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Merchant(MerchantCmd::Create { name, json, common }) => {
            let (store, svc) = crate::operator_services(&common).await?;
            let m = svc.create_merchant(&name).await?;
            store.close().await;
            if json {
                println!("{}", serde_json::to_string_pretty(&m)?);
            } else {
                println!("merchant        {}\nname            {}\nsecret key      {}\npublishable key {}", m.id, m.name, m.secret_key, m.publishable_key);
            }
            Ok(())
        }
        Command::Processor(cmd) => processor_cmd::run(cmd).await,
        Command::TestData(cmd) => test_data_cmd::run(cmd).await,
        Command::User(cmd) => user_cmd::run(cmd).await,
        Command::Merchant(MerchantCmd::Keys {
            merchant,
            mode,
            json,
            common,
        }) => {
            let (store, svc) = crate::operator_services(&common).await?;
            let mode = kassa_service::Mode::parse(&mode)
                .ok_or_else(|| anyhow::anyhow!("--mode is test or live"))?;
            let keys = svc.create_api_keys(&merchant, mode).await;
            store.close().await;
            let keys = keys?;
            if json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                println!(
                    "merchant        {}\nmode            {}\nsecret key      {}\npublishable key {}",
                    keys.merchant, keys.mode, keys.secret_key, keys.publishable_key
                );
            }
            Ok(())
        }
        Command::Paymentwall(PaymentwallCmd::Project(ProjectCmd::Create {
            merchant,
            name,
            api_type,
            pingback_url,
            sign_version,
            json,
            common,
        })) => {
            let (store, svc) = crate::operator_services(&common).await?;
            let created = create_project(
                &svc,
                &merchant,
                kassa_service::paymentwall::ProjectInput {
                    name: Some(name),
                    api_type: Some(api_type),
                    pingback_url,
                    pingback_sign_version: sign_version,
                    ..Default::default()
                },
            )
            .await;
            store.close().await;
            let p = created?;
            if json {
                println!("{}", serde_json::to_string_pretty(&p)?);
            } else {
                let text = |k: &str| p[k].as_str().unwrap_or("-").to_string();
                println!(
                    "project         {}\nname            {}\napi type        {}\nproject key     {}\nsecret key      {}\npingback url    {}\nsign version    {}",
                    text("id"),
                    text("name"),
                    text("api_type"),
                    text("project_key"),
                    text("secret_key"),
                    text("pingback_url"),
                    p["pingback_sign_version"]
                );
            }
            Ok(())
        }
        Command::Paymob(PaymobCmd::Profile(PaymobProfileCmd::Create {
            merchant,
            name,
            country,
            callback_url,
            redirect_url,
            frame_ancestors,
            json,
            common,
        })) => {
            let (store, svc) = crate::operator_services(&common).await?;
            let integrations = ["card", "card_auth", "moto", "wallet", "kiosk", "cash"]
                .iter()
                .map(|k| kassa_service::paymob::IntegrationInput {
                    kind: k.to_string(),
                    processed_callback_url: callback_url.clone(),
                    response_callback_url: redirect_url.clone(),
                    ..Default::default()
                })
                .collect();
            let created = create_paymob_profile(
                &svc,
                &merchant,
                kassa_service::paymob::ProfileInput {
                    name: Some(name),
                    country: Some(country),
                    live: false,
                    integrations,
                    frame_ancestors,
                },
            )
            .await;
            store.close().await;
            let p = created?;
            if json {
                println!("{}", serde_json::to_string_pretty(&p)?);
            } else {
                let text = |k: &str| p[k].as_str().unwrap_or("-").to_string();
                println!(
                    "profile         {}\nname            {}\nsecret key      {}\npublic key      {}\nhmac secret     {}\napi key         {}\niframe id       {}",
                    p["id"],
                    text("name"),
                    text("secret_key"),
                    text("public_key"),
                    text("hmac_secret"),
                    text("api_key"),
                    p["iframe_id"]
                );
                for i in p["integrations"].as_array().into_iter().flatten() {
                    println!(
                        "integration     {} {} ({}, {})",
                        i["id"],
                        i["name"].as_str().unwrap_or_default(),
                        i["kind"].as_str().unwrap_or_default(),
                        i["currency"].as_str().unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
    }
}

/// Creates a Paymob profile for an existing merchant; its JSON with the credentials.
async fn create_paymob_profile(
    svc: &kassa_service::Services,
    merchant: &str,
    input: kassa_service::paymob::ProfileInput,
) -> anyhow::Result<serde_json::Value> {
    if svc.store.merchant(merchant).await?.is_none() {
        anyhow::bail!("no such merchant: {merchant}");
    }
    let p = svc
        .paymob()
        .create_profile(merchant, input)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.body))?;
    let mut out = svc
        .paymob()
        .profile_native_json(&p.profile, &p.integrations);
    out["secret_key"] = p.secret_key.into();
    out["hmac_secret"] = p.hmac_secret.into();
    out["api_key"] = p.api_key.into();
    Ok(out)
}

/// Creates a Paymentwall project for an existing merchant; its JSON with the secret key.
async fn create_project(
    svc: &kassa_service::Services,
    merchant: &str,
    input: kassa_service::paymentwall::ProjectInput,
) -> anyhow::Result<serde_json::Value> {
    if svc.store.merchant(merchant).await?.is_none() {
        anyhow::bail!("no such merchant: {merchant}");
    }
    let p = svc
        .paymentwall()
        .create_project(merchant, input)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(p.to_json(true))
}

async fn serve(cfg: Config) -> anyhow::Result<()> {
    let app = App::build(cfg).await?;
    let base = app.base_url().to_string();
    println!("Kassa is listening on http://{}", app.addr());
    if let Some(m) = &app.demo {
        println!(
            "\nDemo merchant: {} ({})\n  secret key:      {}\n  publishable key: {}\n\n\
             Try it:\n  curl -s {base}/v1/payment_intents -H 'Authorization: Bearer {}' \\\n    \
             -H 'Content-Type: application/json' -d '{{\"amount\":1000,\"currency\":\"usd\",\"return_url\":\"https://example.com/done\"}}'\n\
             Then open the checkout_url it returns and pay with 4242 4242 4242 4242.\n\
             API reference: {base}/v1/openapi.json   Metrics: {base}/metrics\n",
            m.name, m.id, m.secret_key, m.publishable_key, m.secret_key
        );
    }
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: finishing in-flight requests and deliveries");
        signal.cancel();
    });
    app.run_until_stopped(shutdown).await
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("installing SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
