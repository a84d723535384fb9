//! `kassa test-data purge`: deletes a merchant's test data from the command line (Stripe's
//! "delete all test data"). Live data and configuration stay.

use clap::Subcommand;

use crate::Common;

#[derive(Subcommand)]
pub enum TestDataCmd {
    /// Delete the merchant's test data: test-mode payments, refunds, events and their
    /// deliveries, customers, payment methods, subscriptions, invoices, test clocks, idempotency
    /// keys, Paymentwall orders and subscriptions, and the objects of test Paymob profiles. The
    /// merchant, API keys, webhook endpoints, Paymentwall projects, Paymob profiles and plans,
    /// brandings, processor accounts and all live data stay. Asks no confirmation.
    Purge {
        /// The merchant (acct_…).
        #[arg(long)]
        merchant: String,
        /// Print the counts as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
}

pub async fn run(cmd: TestDataCmd) -> anyhow::Result<()> {
    let TestDataCmd::Purge {
        merchant,
        json,
        common,
    } = cmd;
    let (store, svc) = crate::operator_services(&common).await?;
    let result = svc.purge_test_data(&merchant).await;
    store.close().await;
    let counts = result.map_err(|e| anyhow::anyhow!("{e}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&counts)?);
    } else {
        println!(
            "deleted the test data of {merchant}: {} rows",
            counts.total()
        );
        for (kind, n) in counts.entries() {
            println!("{kind:<26} {n}");
        }
    }
    Ok(())
}
