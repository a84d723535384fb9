//! A Stripe connector for Kassa: Stripe's PaymentIntents API behind Kassa's [`Processor`]
//! interface, over a small hand-written client ([`client`]) whose every request goes through
//! the egress guard ([`kassa_egress::EgressClient`]).
//!
//! Flows: a card becomes a PaymentMethod, then a PaymentIntent confirmed at once
//! (`capture_method` manual or automatic) carrying Kassa's attempt id in
//! `metadata[kassa_attempt_id]`; capture (also partial, `amount_to_capture`), cancel (void),
//! refunds (`metadata[kassa_refund_id]`; a `pending` refund answers
//! [`kassa_processor::RefundOutcome::Pending`] and a `refund.updated` webhook settles it),
//! 3-D Secure (`requires_action`: Stripe's `redirect_to_url` becomes a
//! [`kassa_processor::ChallengeStep::Redirect`]), saved cards for off-session renewals (a
//! customer and `setup_future_usage=off_session` at the first payment, `off_session=true`
//! with the same customer and payment method for each renewal), signed webhooks ([`webhook`])
//! and Stripe's error codes mapped to Kassa's declines ([`decline`]). Every request that moves
//! money carries an `Idempotency-Key` derived from Kassa's attempt or refund id, so a retry
//! never charges twice; a lost answer is [`kassa_processor::ProcessorError::Unknown`] and
//! [`Processor::lookup`] finds the PaymentIntent by its attempt id later.
//!
//! # What a live Stripe account needs
//!
//! * **Raw card data access.** Kassa hosts its own checkout page, so the card number reaches
//!   Kassa and is sent to Stripe's API (`POST /v1/payment_methods`). Stripe refuses that
//!   unless the account has been granted raw card data access, which Stripe gives only to
//!   businesses that prove PCI DSS compliance for handling card data themselves: for the
//!   operator that means **SAQ D** (or a QSA's Report on Compliance), not the light SAQ A of a
//!   Stripe-hosted page — the whole Kassa host, its network and its people are in PCI scope.
//!   Test mode against real Stripe avoids raw numbers for the sandbox's test cards by sending
//!   Stripe's matching test tokens (`pm_card_visa`, …).
//! * **A webhook endpoint** in the Stripe dashboard pointing at Kassa's processor-webhook URL
//!   for this account, sending `payment_intent.*` and `refund.updated`/`refund.failed`; its
//!   signing secret (`whsec_…`) goes in the `webhook_secret` credential.
//! * **A secret key** of the right mode: `sk_live_…` in live mode, `sk_test_…` in test mode;
//!   the connector refuses a key of the other mode.
//! * **A return URL** ([`StripeConfig::return_url`]): where Stripe sends the customer back
//!   after 3-D Secure.
//!
//! # Testing against localstripe
//!
//! The integration tests run against `localstripe` (a fake Stripe, pinned in
//! `tests/interop/requirements.txt`). Where it differs from Stripe, one setting,
//! [`Compat::Localstripe`], adapts the connector. It is accepted only with a `base_url` on the
//! loopback interface (a fake running beside Kassa), so it can never be pointed at Stripe
//! itself; that is also what lets the test suite run Kassa's live mode against localstripe
//! without moving money. See [`Compat`] for the differences.

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::Duration;

use kassa_egress::EgressClient;
use kassa_processor::{
    Capabilities, Connector, ConnectorEnv, ConnectorError, CredentialField, Credentials,
    Currencies, Processor, ThreeDsStyle,
};

mod authorize;
pub mod client;
pub mod decline;
mod processor;
pub mod types;
pub mod webhook;

pub use processor::StripeProcessor;

/// The connector's name, as credentials are stored under it.
pub const NAME: &str = "stripe";

/// Stripe's API.
pub const STRIPE_API: &str = "https://api.stripe.com";

/// The credentials a Stripe account needs.
pub const CREDENTIAL_SCHEMA: &[CredentialField] = &[
    CredentialField {
        name: "secret_key",
        label: "Secret key",
        secret: true,
        required: true,
        prefix: "sk_",
    },
    CredentialField {
        name: "webhook_secret",
        label: "Webhook signing secret",
        secret: true,
        required: false,
        prefix: "whsec_",
    },
];

/// What the connector can do at Stripe.
pub const CAPABILITIES: Capabilities = Capabilities {
    methods: &["card"],
    manual_capture: true,
    partial_capture: true,
    partial_refund: true,
    void: true,
    three_d_secure: ThreeDsStyle::ProcessorRedirect,
    saved_cards: true,
    async_refunds: true,
    webhooks: true,
    currencies: Currencies::Any,
};

/// Differences of a fake Stripe the connector must bridge. **For tests only:** accepted only
/// with a loopback `base_url`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Compat {
    /// Real Stripe.
    #[default]
    Stripe,
    /// localstripe 1.15: it rejects `return_url`, `setup_future_usage`,
    /// `payment_method_types` and `created` list filters (`Unexpected …`); its 3-D Secure is
    /// `use_stripe_sdk` only, finished through its own
    /// `POST /v1/payment_intents/{id}/_authenticate` (so the challenge is Kassa-hosted);
    /// a card is saved by attaching it to a customer; test tokens other than `pm_card_visa`
    /// are sent as their public test card numbers; it ignores `Idempotency-Key` and accepts
    /// over-refunds (Kassa's core refuses those before asking); plain `http` is allowed.
    Localstripe,
}

/// How the connector reaches Stripe.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// `https://api.stripe.com`, or a fake's URL under [`Compat::Localstripe`].
    pub base_url: String,
    pub compat: Compat,
    /// Where Stripe sends the customer back after 3-D Secure; `{attempt_id}` is replaced by
    /// Kassa's attempt id. Required with [`Compat::Stripe`].
    pub return_url: Option<String>,
    /// How long one request may take before its outcome is unknown.
    pub timeout: Duration,
    /// How far back [`Processor::lookup`] searches for a PaymentIntent (Stripe's idempotency
    /// keys live 24 hours, so recovery must happen within that anyway).
    pub lookup_window: Duration,
}

impl Default for StripeConfig {
    fn default() -> Self {
        StripeConfig {
            base_url: STRIPE_API.into(),
            compat: Compat::Stripe,
            return_url: None,
            timeout: Duration::from_secs(30),
            lookup_window: Duration::from_secs(48 * 3600),
        }
    }
}

/// The Stripe connector: builds a [`StripeProcessor`] per account from its credentials.
#[derive(Debug, Clone)]
pub struct StripeConnector {
    egress: EgressClient,
    config: StripeConfig,
}

impl StripeConnector {
    pub fn new(egress: EgressClient, config: StripeConfig) -> Self {
        StripeConnector { egress, config }
    }
}

fn config_error(message: impl Into<String>) -> ConnectorError {
    ConnectorError::Config {
        connector: NAME,
        message: message.into(),
    }
}

impl Connector for StripeConnector {
    fn name(&self) -> &'static str {
        NAME
    }

    fn credential_schema(&self) -> &'static [CredentialField] {
        CREDENTIAL_SCHEMA
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn build(
        &self,
        creds: &Credentials,
        env: ConnectorEnv,
    ) -> Result<Arc<dyn Processor>, ConnectorError> {
        let key = creds.get("secret_key").unwrap_or_default();
        if env.livemode && !key.starts_with("sk_live_") {
            return Err(config_error(
                "live mode needs a live secret key (sk_live_…)",
            ));
        }
        if !env.livemode && !key.starts_with("sk_test_") {
            return Err(config_error(
                "test mode needs a test secret key (sk_test_…)",
            ));
        }
        match self.config.compat {
            Compat::Localstripe if !is_loopback_url(&self.config.base_url) => {
                return Err(config_error(
                    "the localstripe compatibility setting needs a loopback base_url (a local fake)",
                ))
            }
            Compat::Localstripe => {}
            Compat::Stripe => {
                if !self.config.base_url.starts_with("https://") {
                    return Err(config_error("base_url must be https"));
                }
                if self.config.return_url.is_none() {
                    return Err(config_error(
                        "a return_url is needed for 3-D Secure redirects",
                    ));
                }
            }
        }
        Ok(Arc::new(StripeProcessor::new(
            self.egress.clone(),
            self.config.clone(),
            key,
            creds.get("webhook_secret"),
            env.livemode,
        )))
    }
}

/// Whether `url` is an http(s) URL on the loopback interface.
fn is_loopback_url(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    if !matches!(u.scheme(), "http" | "https") {
        return false;
    }
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

#[doc(hidden)]
pub mod testing;

#[cfg(test)]
mod tests;
