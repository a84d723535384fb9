//! `kassa user create`: the first dashboard user of a merchant, from the command line. It
//! prints a single-use link where the user sets their own password, so no password ever
//! appears on a command line or in a shell history.

use clap::Subcommand;

use crate::Common;

#[derive(Subcommand)]
pub enum UserCmd {
    /// Create a dashboard user and print the single-use link (valid 24 hours) where they set
    /// their password.
    Create {
        /// The merchant (acct_…).
        #[arg(long)]
        merchant: String,
        #[arg(long)]
        email: String,
        /// owner, admin, developer, support or viewer.
        #[arg(long, default_value = "owner")]
        role: String,
        /// Print the user and link as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
}

pub async fn run(cmd: UserCmd) -> anyhow::Result<()> {
    let UserCmd::Create {
        merchant,
        email,
        role,
        json,
        common,
    } = cmd;
    let cfg = common.load()?;
    let (store, svc) = crate::operator_services(&common).await?;
    let result = async {
        let role = kassa_service::users::parse_role(&role)?;
        svc.users().create_user(&merchant, &email, role).await
    }
    .await;
    store.close().await;
    let new = result.map_err(|e| anyhow::anyhow!("{e}"))?;
    let base = dashboard_base(&cfg, &svc.base_url);
    let link = format!("{base}/dashboard/setup/{}", new.link_token);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "id": new.user.id,
                "merchant": new.user.merchant_id,
                "email": new.user.email,
                "role": new.user.role,
                "setup_link": link,
                "expires_in_hours": kassa_service::users::LINK_TTL_MS / 3_600_000,
            }))?
        );
    } else {
        println!(
            "created {} ({}) for {}",
            new.user.email, new.user.role, new.user.merchant_id
        );
        println!("set-up link (works once, for 24 hours):\n{link}");
    }
    Ok(())
}

/// Where the dashboard is reached: its own listener when configured, else the public base URL.
fn dashboard_base(cfg: &kassa::Config, base_url: &str) -> String {
    match &cfg.dashboard_listen {
        Some(addr) => format!("http://{addr}"),
        None => base_url.trim_end_matches('/').to_string(),
    }
}
