//! `kassa`: the payment gateway server and its operator commands.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use kassa::{App, Config, Overrides};
use tokio_util::sync::CancellationToken;

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
}

#[derive(Args, Clone, Default)]
struct Common {
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
}

impl Common {
    fn load(&self) -> anyhow::Result<Config> {
        Config::load(
            self.config.as_deref(),
            Overrides {
                listen: self.listen.clone(),
                database_url: self.database_url.clone(),
                base_url: self.base_url.clone(),
            },
        )
    }
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,hyper=warn".into());
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
    match cli.command.unwrap_or(Command::Serve(Common::default())) {
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
            let cfg = common.load()?;
            init_logging(&cfg.log_format);
            let store = kassa::open_store(&cfg).await?;
            let registry = prometheus::Registry::new();
            let base = cfg
                .base_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", cfg.listen));
            let (svc, _) = kassa::services(&cfg, store.clone(), base, &registry)?;
            let m = svc.create_merchant(&name).await?;
            store.close().await;
            if json {
                println!("{}", serde_json::to_string_pretty(&m)?);
            } else {
                println!("merchant        {}\nname            {}\nsecret key      {}\npublishable key {}", m.id, m.name, m.secret_key, m.publishable_key);
            }
            Ok(())
        }
    }
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
