//! How Kassa reaches the processors behind its connectors (the `[stripe]` section).

use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;

/// Where the Stripe connector sends its requests. Merchants' credentials are not here: they
/// come with each processor account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StripeSettings {
    /// Stripe's API [default: `https://api.stripe.com`].
    pub api_base: String,
    /// `stripe` (default) or `localstripe`: bridges the fake Stripe the test suite runs
    /// (accepted only with a loopback `api_base`, so it can never point at Stripe itself).
    pub compat: String,
    /// How long one request to Stripe may take before its outcome counts as unknown (then
    /// settled later by looking the payment up).
    pub timeout_secs: u64,
}

impl Default for StripeSettings {
    fn default() -> Self {
        StripeSettings {
            api_base: kassa_stripe::STRIPE_API.into(),
            compat: "stripe".into(),
            timeout_secs: 30,
        }
    }
}

impl StripeSettings {
    pub(crate) fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(v) = env("KASSA_STRIPE_API_BASE") {
            self.api_base = v;
        }
        if let Some(v) = env("KASSA_STRIPE_COMPAT") {
            self.compat = v;
        }
        if let Some(v) = env("KASSA_STRIPE_TIMEOUT_SECS") {
            self.timeout_secs = v.parse().context("KASSA_STRIPE_TIMEOUT_SECS")?;
        }
        Ok(())
    }

    /// The connector's configuration; `base_url` is Kassa's public base URL (Stripe sends the
    /// customer back there after 3-D Secure).
    pub fn connector_config(&self, base_url: &str) -> anyhow::Result<kassa_stripe::StripeConfig> {
        let compat = match self.compat.as_str() {
            "stripe" => kassa_stripe::Compat::Stripe,
            "localstripe" => kassa_stripe::Compat::Localstripe,
            other => bail!("stripe.compat must be `stripe` or `localstripe`, not `{other}`"),
        };
        if !(1..=120).contains(&self.timeout_secs) {
            bail!("stripe.timeout_secs must be 1 to 120");
        }
        Ok(kassa_stripe::StripeConfig {
            base_url: self.api_base.trim_end_matches('/').to_string(),
            compat,
            return_url: Some(format!(
                "{}/checkout/processor_return/{{attempt_id}}",
                base_url.trim_end_matches('/')
            )),
            timeout: Duration::from_secs(self.timeout_secs),
            ..kassa_stripe::StripeConfig::default()
        })
    }
}
