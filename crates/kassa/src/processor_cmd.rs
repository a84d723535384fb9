//! `kassa processor add|list|remove`: a merchant's live processor accounts from the command line.

use std::collections::BTreeMap;

use clap::Subcommand;
use kassa_service::processors::AccountParams;
use kassa_service::{Mode, Scope};

use crate::Common;

#[derive(Subcommand)]
pub enum ProcessorCmd {
    /// Add the merchant's live processor account (one is active at a time). Credentials are
    /// checked by the connector, stored encrypted under the master key and never shown again.
    Add {
        #[arg(long)]
        merchant: String,
        /// The connector, e.g. `stripe`.
        #[arg(long)]
        connector: String,
        /// `name=value`, or `name=env:VARIABLE` to read the value from the environment (keeps
        /// secrets out of the process list and shell history). Repeat for each credential.
        #[arg(long = "credential", value_name = "NAME=VALUE")]
        credentials: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
    /// List the merchant's live processor accounts (credentials masked).
    List {
        #[arg(long)]
        merchant: String,
        #[command(flatten)]
        common: Common,
    },
    /// Remove a processor account: new live payments are refused until another is added.
    Remove {
        #[arg(long)]
        merchant: String,
        /// The account (`pa_…`).
        #[arg(long)]
        id: String,
        #[command(flatten)]
        common: Common,
    },
}

/// `name=value` or `name=env:VAR` → (name, value).
fn credential(arg: &str, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<(String, String)> {
    let (name, value) = arg
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("--credential takes NAME=VALUE (or NAME=env:VARIABLE)"))?;
    let value = match value.strip_prefix("env:") {
        Some(var) => env(var).ok_or_else(|| anyhow::anyhow!("{var} is not set"))?,
        None => value.to_string(),
    };
    Ok((name.trim().to_string(), value))
}

pub async fn run(cmd: ProcessorCmd) -> anyhow::Result<()> {
    let (common, merchant) = match &cmd {
        ProcessorCmd::Add {
            common, merchant, ..
        }
        | ProcessorCmd::List { common, merchant }
        | ProcessorCmd::Remove {
            common, merchant, ..
        } => (common.clone(), merchant.clone()),
    };
    let (store, svc) = crate::operator_services(&common).await?;
    let scope = Scope::new(merchant, Mode::Live);
    let result = async {
        match cmd {
            ProcessorCmd::Add {
                connector,
                credentials,
                json,
                ..
            } => {
                let env = |k: &str| std::env::var(k).ok();
                let credentials = credentials
                    .iter()
                    .map(|c| credential(c, &env))
                    .collect::<anyhow::Result<BTreeMap<_, _>>>()?;
                let a = svc
                    .processors()
                    .add_account(
                        &scope,
                        AccountParams {
                            connector,
                            credentials,
                        },
                    )
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&a)?);
                } else {
                    println!(
                        "processor account {}\nconnector         {}\nwebhook URL       {}",
                        a["id"].as_str().unwrap_or_default(),
                        a["connector"].as_str().unwrap_or_default(),
                        a["webhook_url"].as_str().unwrap_or_default()
                    );
                }
            }
            ProcessorCmd::List { .. } => {
                let all = svc
                    .processors()
                    .accounts(&scope)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("{}", serde_json::to_string_pretty(&all)?);
            }
            ProcessorCmd::Remove { id, .. } => {
                let a = svc
                    .processors()
                    .remove_account(&scope, &id)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("removed {}", a["id"].as_str().unwrap_or_default());
            }
        }
        anyhow::Ok(())
    }
    .await;
    store.close().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_is_a_pair_or_read_from_the_environment() {
        let env = |k: &str| (k == "STRIPE_KEY").then(|| "sk_live_x".to_string());
        assert_eq!(
            credential("secret_key=sk_live_y", &env).unwrap(),
            ("secret_key".into(), "sk_live_y".into())
        );
        assert_eq!(
            credential("secret_key=env:STRIPE_KEY", &env).unwrap(),
            ("secret_key".into(), "sk_live_x".into())
        );
        assert!(credential("secret_key=env:NOPE", &env).is_err());
        assert!(credential("secret_key", &env).is_err());
    }
}
