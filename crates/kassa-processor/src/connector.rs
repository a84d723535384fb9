//! The connector framework around [`Processor`]: what a processor can do
//! ([`Capabilities`]), which credentials it needs ([`CredentialField`]), how one
//! is built from credentials by name ([`Connectors`]), and what its webhooks
//! turn into ([`ProcessorEvent`]).
//!
//! A connector is the factory of one kind of processor (`"sandbox"`,
//! `"stripe"`): it declares a credential schema that a dashboard can render as
//! a form, and builds an `Arc<dyn Processor>` from a [`Credentials`] map once
//! [`validate_credentials`] accepted it. Credentials are never shown: their
//! `Debug` prints field names only, and no error repeats a value.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::{Decline, Processor, SandboxProcessor};

/// Where a processor's 3-D Secure (or other customer challenge) happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreeDsStyle {
    /// The processor never asks the customer to authenticate.
    None,
    /// On a page Kassa hosts (the sandbox's simulated issuer page, or a page
    /// that finishes the challenge through the processor's API).
    KassaHosted,
    /// At the processor: the customer is redirected to the URL carried in the
    /// challenge state ([`crate::ChallengeStep::Redirect`]) and comes back to
    /// Kassa, which then asks the processor how it ended.
    ProcessorRedirect,
}

/// Which currencies a processor accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Currencies {
    /// Every currency Kassa knows.
    Any,
    /// Only these ISO 4217 codes (upper case).
    Only(&'static [&'static str]),
}

impl Currencies {
    /// Whether `code` (any case) is accepted.
    pub fn accepts(&self, code: &str) -> bool {
        match self {
            Currencies::Any => true,
            Currencies::Only(list) => list.iter().any(|c| c.eq_ignore_ascii_case(code)),
        }
    }
}

/// What a processor can do, so Kassa (and a dashboard) can refuse early what it cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Kinds of [`crate::PaymentMethodInput`] accepted, as [`crate::PaymentMethodDetails`]
    /// names them: `"card"`, `"wallet"`, `"bank_redirect"`, `"voucher"`, `"test"`.
    pub methods: &'static [&'static str],
    /// Authorize now, capture later ([`Processor::capture`]).
    pub manual_capture: bool,
    /// Capture less than was authorized.
    pub partial_capture: bool,
    /// Refund part of a captured payment, possibly several times.
    pub partial_refund: bool,
    /// Release an uncaptured authorization ([`Processor::void`]).
    pub void: bool,
    /// Where 3-D Secure happens.
    pub three_d_secure: ThreeDsStyle,
    /// Charge a saved method without the customer ([`Processor::charge_stored`]).
    pub saved_cards: bool,
    /// A refund may answer [`crate::RefundOutcome::Pending`] and finish through a webhook.
    pub async_refunds: bool,
    /// [`Processor::handle_webhook`] is implemented.
    pub webhooks: bool,
    /// Currencies accepted.
    pub currencies: Currencies,
}

impl Capabilities {
    /// The least a processor can do: automatic capture and full refunds, in any currency.
    pub const MINIMAL: Capabilities = Capabilities {
        methods: &["card"],
        manual_capture: false,
        partial_capture: false,
        partial_refund: false,
        void: false,
        three_d_secure: ThreeDsStyle::None,
        saved_cards: false,
        async_refunds: false,
        webhooks: false,
        currencies: Currencies::Any,
    };
}

/// One credential a connector needs, for validation and for a dashboard form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialField {
    /// The key in the credentials map, e.g. `"secret_key"`.
    pub name: &'static str,
    /// What a person is shown, e.g. `"Secret key"`.
    pub label: &'static str,
    /// A secret is stored sealed, never shown back and never logged.
    pub secret: bool,
    /// Whether the field must be present.
    pub required: bool,
    /// The value must start with this (e.g. `"sk_"`); `""` for no rule.
    pub prefix: &'static str,
}

impl CredentialField {
    fn expectation(&self) -> String {
        if self.prefix.is_empty() {
            format!("`{}`", self.name)
        } else {
            format!("`{}` starting with {}", self.name, self.prefix)
        }
    }
}

/// A connector's credentials: field name to value. `Debug` shows the names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials(BTreeMap<String, String>);

impl Credentials {
    pub fn new() -> Self {
        Credentials::default()
    }

    /// Adds (or replaces) one field.
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.0.insert(name.to_string(), value.to_string());
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

impl FromIterator<(String, String)> for Credentials {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Credentials(iter.into_iter().collect())
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

/// Why a connector could not be built. The texts name fields, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    #[error("no connector named `{name}` (known: {known})")]
    UnknownConnector { name: String, known: String },
    /// A required field is absent or empty.
    #[error("{connector} needs {expected}")]
    Missing {
        connector: &'static str,
        expected: String,
    },
    /// A field breaks its rule.
    #[error("{connector} needs {expected}")]
    Invalid {
        connector: &'static str,
        expected: String,
    },
    #[error("{connector} has no credential `{field}`")]
    Unexpected {
        connector: &'static str,
        field: String,
    },
    /// The connector's own configuration check failed (a live key in test mode, …).
    #[error("{connector}: {message}")]
    Config {
        connector: &'static str,
        message: String,
    },
}

/// Checks `creds` against `schema`: required fields present and non-empty, prefixes kept, no
/// field the schema does not name.
pub fn validate_credentials(
    connector: &'static str,
    schema: &[CredentialField],
    creds: &Credentials,
) -> Result<(), ConnectorError> {
    if let Some(extra) = creds.names().find(|n| !schema.iter().any(|f| f.name == *n)) {
        return Err(ConnectorError::Unexpected {
            connector,
            field: extra.to_string(),
        });
    }
    for field in schema {
        match creds.get(field.name) {
            None | Some("") if field.required => {
                return Err(ConnectorError::Missing {
                    connector,
                    expected: field.expectation(),
                })
            }
            Some(v) if !v.is_empty() && !v.starts_with(field.prefix) => {
                return Err(ConnectorError::Invalid {
                    connector,
                    expected: field.expectation(),
                })
            }
            _ => {}
        }
    }
    Ok(())
}

/// What a connector is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectorEnv {
    /// Live mode moves real money; test mode must never.
    pub livemode: bool,
}

/// The factory of one kind of processor.
pub trait Connector: Send + Sync + 'static {
    /// The name credentials are stored under, e.g. `"stripe"`.
    fn name(&self) -> &'static str;
    /// The credentials it needs.
    fn credential_schema(&self) -> &'static [CredentialField];
    /// What the processors it builds can do.
    fn capabilities(&self) -> Capabilities;
    /// Builds a processor; `creds` already passed [`validate_credentials`].
    fn build(
        &self,
        creds: &Credentials,
        env: ConnectorEnv,
    ) -> Result<Arc<dyn Processor>, ConnectorError>;
}

/// The sandbox as a connector: no credentials, test mode only.
struct SandboxConnector;

impl Connector for SandboxConnector {
    fn name(&self) -> &'static str {
        "sandbox"
    }
    fn credential_schema(&self) -> &'static [CredentialField] {
        &[]
    }
    fn capabilities(&self) -> Capabilities {
        SandboxProcessor.capabilities()
    }
    fn build(
        &self,
        _creds: &Credentials,
        env: ConnectorEnv,
    ) -> Result<Arc<dyn Processor>, ConnectorError> {
        if env.livemode {
            return Err(ConnectorError::Config {
                connector: "sandbox",
                message: "the sandbox never moves money, so it cannot serve live mode".into(),
            });
        }
        Ok(Arc::new(SandboxProcessor))
    }
}

/// The registry of connectors by name; the sandbox is always there.
#[derive(Clone)]
pub struct Connectors {
    list: Vec<Arc<dyn Connector>>,
}

impl Default for Connectors {
    fn default() -> Self {
        Connectors {
            list: vec![Arc::new(SandboxConnector)],
        }
    }
}

impl fmt::Debug for Connectors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Connectors {
    /// The registry with the sandbox only.
    pub fn new() -> Self {
        Connectors::default()
    }

    /// Adds a connector, replacing one of the same name.
    pub fn register(mut self, connector: Arc<dyn Connector>) -> Self {
        self.list.retain(|c| c.name() != connector.name());
        self.list.push(connector);
        self
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.list.iter().map(|c| c.name()).collect()
    }

    pub fn get(&self, name: &str) -> Result<&Arc<dyn Connector>, ConnectorError> {
        self.list.iter().find(|c| c.name() == name).ok_or_else(|| {
            ConnectorError::UnknownConnector {
                name: name.chars().take(40).collect(),
                known: self.names().join(", "),
            }
        })
    }

    /// Validates `creds` against the named connector's schema and builds its processor.
    pub fn build(
        &self,
        name: &str,
        creds: &Credentials,
        env: ConnectorEnv,
    ) -> Result<Arc<dyn Processor>, ConnectorError> {
        let connector = self.get(name)?;
        validate_credentials(connector.name(), connector.credential_schema(), creds)?;
        connector.build(creds, env)
    }
}

/// What a verified processor webhook says happened. Payment events name the payment by the
/// processor's reference and, when the processor echoes it, Kassa's attempt id (so a payment
/// whose answer was lost, which has no reference yet, is found too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessorEvent {
    /// The payment behind `processor_ref` is paid (captured).
    PaymentSucceeded {
        processor_ref: String,
        attempt_id: Option<String>,
    },
    /// The payment behind `processor_ref` is authorized and waits for capture.
    PaymentAuthorized {
        processor_ref: String,
        attempt_id: Option<String>,
    },
    /// The payment behind `processor_ref` failed.
    PaymentFailed {
        processor_ref: String,
        attempt_id: Option<String>,
        decline: Decline,
    },
    /// The authorization behind `processor_ref` was released.
    PaymentCanceled {
        processor_ref: String,
        attempt_id: Option<String>,
    },
    /// A refund that answered pending went through.
    RefundSucceeded { refund_ref: String },
    /// A refund that answered pending failed; the money stays with the merchant.
    RefundFailed { refund_ref: String },
    /// A genuine event Kassa has no use for (its type, for the log).
    Ignored { event_type: String },
}

/// Why a processor webhook was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("this processor sends no webhooks Kassa understands")]
    Unsupported,
    #[error("no webhook signing secret is configured")]
    NotConfigured,
    #[error("the signature header is missing")]
    MissingSignature,
    #[error("the signature header is malformed")]
    MalformedSignature,
    #[error("no signature matches")]
    BadSignature,
    /// Signed too long ago (or too far in the future): a replay.
    #[error("the signature's timestamp is {age_secs} s away from now, beyond the tolerance")]
    Expired { age_secs: i64 },
    #[error("the body is not a webhook event: {0}")]
    Malformed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &[CredentialField] = &[
        CredentialField {
            name: "secret_key",
            label: "Secret key",
            secret: true,
            required: true,
            prefix: "sk_",
        },
        CredentialField {
            name: "note",
            label: "Note",
            secret: false,
            required: false,
            prefix: "",
        },
    ];

    #[test]
    fn validation_names_the_field_and_its_rule_never_the_value() {
        let missing = validate_credentials("stripe", SCHEMA, &Credentials::new()).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "stripe needs `secret_key` starting with sk_"
        );
        let empty = Credentials::new().with("secret_key", "");
        assert!(matches!(
            validate_credentials("stripe", SCHEMA, &empty),
            Err(ConnectorError::Missing { .. })
        ));
        let wrong = Credentials::new().with("secret_key", "pk_live_abc");
        let err = validate_credentials("stripe", SCHEMA, &wrong).unwrap_err();
        assert!(matches!(err, ConnectorError::Invalid { .. }));
        assert!(!err.to_string().contains("pk_live_abc"), "{err}");
        let extra = Credentials::new()
            .with("secret_key", "sk_test_1")
            .with("password", "hunter2");
        assert_eq!(
            validate_credentials("stripe", SCHEMA, &extra)
                .unwrap_err()
                .to_string(),
            "stripe has no credential `password`"
        );
        let good = Credentials::new().with("secret_key", "sk_test_1");
        validate_credentials("stripe", SCHEMA, &good).unwrap();
    }

    #[test]
    fn credentials_debug_shows_names_only() {
        let creds = Credentials::new().with("secret_key", "sk_test_very_secret");
        let shown = format!("{creds:?}");
        assert!(shown.contains("secret_key"));
        assert!(!shown.contains("very_secret"), "{shown}");
    }

    #[test]
    fn the_registry_builds_the_sandbox_in_test_mode_only() {
        let registry = Connectors::new();
        assert_eq!(registry.names(), vec!["sandbox"]);
        let test = ConnectorEnv { livemode: false };
        let p = registry
            .build("sandbox", &Credentials::new(), test)
            .unwrap();
        assert_eq!(p.name(), "sandbox");
        assert!(p.credential_schema().is_empty());
        let live = ConnectorEnv { livemode: true };
        assert!(matches!(
            registry.build("sandbox", &Credentials::new(), live),
            Err(ConnectorError::Config { .. })
        ));
        let creds = Credentials::new().with("secret_key", "sk_test_1");
        assert_eq!(
            registry
                .build("sandbox", &creds, test)
                .err()
                .unwrap()
                .to_string(),
            "sandbox has no credential `secret_key`"
        );
        assert_eq!(
            registry
                .build("adyen", &creds, test)
                .err()
                .unwrap()
                .to_string(),
            "no connector named `adyen` (known: sandbox)"
        );
    }

    #[test]
    fn currencies_accept_by_code_in_any_case() {
        assert!(Currencies::Any.accepts("xyz"));
        let only = Currencies::Only(&["USD", "EUR"]);
        assert!(only.accepts("usd"));
        assert!(!only.accepts("JPY"));
    }
}
