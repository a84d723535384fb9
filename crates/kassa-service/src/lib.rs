//! Kassa's commands. Each command reads what it needs, asks the core whether the change is
//! legal, and writes the change, its events and their deliveries in one transaction. No
//! transaction is held open while the processor is asked: a confirmation first claims the intent
//! (`processing`), which is what stops a second confirmation from charging twice.
#![forbid(unsafe_code)]
#![recursion_limit = "256"]

mod api_keys;
pub mod audit;
mod billing;
mod billing_run;
pub mod branding;
mod confirm;
mod customers;
mod deadlines;
mod delivery_replay;
mod egress;
mod endpoints;
mod error;
mod metered;
mod payment_methods;
mod payments;
pub mod paymentwall;
pub mod paymob;
pub mod processor_webhooks;
pub mod processors;
pub mod projection;
mod purge;
mod refunds;
mod test_clocks;
pub mod users;

use std::sync::Arc;

use kassa_core::ids::{new_id, prefix, random_token};
use kassa_core::secret::hash_api_key;
use kassa_core::secret_box::SecretBox;
use kassa_notify::Notifier;
use kassa_processor::Processor;
use kassa_store::{now_ms, Merchant, Store};

pub use kassa_core::scope::{Mode, Scope};
use prometheus::{IntCounterVec, Opts, Registry};

pub use api_keys::CreatedKey;
pub use billing::{BillingChange, ItemParams, SubscriptionParams, SubscriptionUpdate};
pub use customers::CustomerParams;
pub use delivery_replay::{BulkResend, BULK_RESEND_MAX};
pub use endpoints::{delivery_json, endpoint_json, EndpointParams, EndpointUpdate};
pub use error::{declined_body, is_unavailable, ServiceError, RETRY_AFTER_SECS};
pub use payment_methods::{is_saved_method_id, PayWith};
pub use payments::{
    check_return_url, year_month, ConfirmParams, CreateIntentParams, CreateRefundParams, SaveChoice,
};
pub use projection::Projection;
pub use test_clocks::{clock_json, deleted_clock_json};
pub use users::{NewSession, NewUser, TotpEnrolment};

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// An aggregate's commands: a view of [`Services`] that holds the commands of one aggregate
/// (`svc.payments().create_intent(…)`). The shared machinery (store, processor, events,
/// projections) stays on `Services`, which the view dereferences to.
macro_rules! aggregate {
    ($(#[$doc:meta])* $name:ident, $accessor:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $name<'a>(&'a Services);

        impl std::ops::Deref for $name<'_> {
            type Target = Services;
            fn deref(&self) -> &Services {
                self.0
            }
        }

        impl Services {
            $(#[$doc])*
            pub fn $accessor(&self) -> $name<'_> {
                $name(self)
            }
        }
    };
}

aggregate!(
    /// Payment intents (create, confirm, capture, cancel), their challenges, refunds and the
    /// deadlines the scheduler runs (authorisation expiry, reviews, offline payments).
    Payments,
    payments
);
aggregate!(
    /// Customers and their saved payment methods.
    Customers,
    customers
);
aggregate!(
    /// Subscriptions, invoices, the engine's due steps and test clocks.
    Billing,
    billing
);
aggregate!(
    /// Webhook endpoints, events and deliveries.
    Webhooks,
    webhooks
);
aggregate!(
    /// The merchant's and each face account's look on payer pages.
    Brandings,
    branding
);
aggregate!(
    /// Dashboard users, their second factor and sessions.
    Users,
    users
);
aggregate!(
    /// Processor accounts: where live payments go.
    Processors,
    processors
);
aggregate!(
    /// The Paymentwall face: projects, signed links and order pages, its APIs, subscriptions.
    Paymentwall,
    paymentwall
);
aggregate!(
    /// The Paymob face: profiles and integrations, intentions and orders, paying, operations,
    /// plans and subscriptions, its pages.
    Paymob,
    paymob
);

/// An idempotency key the caller holds; a command that takes one stores its response in the
/// same transaction as its effect.
#[derive(Debug, Clone)]
pub struct Idem {
    pub scope: Scope,
    pub key: String,
}

pub struct Services {
    pub store: Store,
    /// The processor of test mode: always the sandbox. Commands ask
    /// [`Services::route`] and [`Services::processor_of`], which pick by the payment's mode.
    sandbox: Arc<dyn Processor>,
    /// Why live mode is off on this server, or `None` when it may run (see
    /// [`Services::allow_live_mode`]).
    live_mode_off: Option<String>,
    /// The connectors processor accounts may name (the sandbox, Stripe, …).
    connectors: kassa_processor::Connectors,
    processor_cache: processors::ProcessorCache,
    processor_metrics: metered::ProcessorMetrics,
    pub notifier: Arc<Notifier>,
    pub secrets: SecretBox,
    pub fingerprint_key: [u8; 32],
    pub base_url: String,
    /// Most webhook endpoints one merchant may register (setting `max_webhook_endpoints`).
    pub max_webhook_endpoints: i64,
    payments: IntCounterVec,
    keys: KeyCache,
    projections: projection::Projections,
}

/// Default for [`Services::max_webhook_endpoints`].
pub const DEFAULT_MAX_WEBHOOK_ENDPOINTS: i64 = 16;

/// Why live mode is off until the server allows it.
pub const LIVE_MODE_OFF: &str = "Live mode is off on this server: it runs only in the \
    `production` profile with an https base_url. Use your test keys, or ask the operator.";

/// Recently authenticated API keys (by hash), so a request does not cost a database round trip
/// just to learn who is calling. Entries expire after [`KEY_CACHE_TTL`]; a key revoked in the
/// database stops working within that time.
#[derive(Default)]
struct KeyCache(
    std::sync::Mutex<std::collections::HashMap<String, (KeyOwner, std::time::Instant)>>,
);

pub const KEY_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(30);
const KEY_CACHE_MAX: usize = 10_000;

impl KeyCache {
    fn get(&self, hash: &str) -> Option<KeyOwner> {
        let map = self.0.lock().ok()?;
        let (owner, at) = map.get(hash)?;
        let fresh = at.elapsed() < KEY_CACHE_TTL && owner.expires_at.is_none_or(|e| e > now_ms());
        fresh.then(|| owner.clone())
    }

    fn forget(&self, hash: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(hash);
        }
    }

    fn put(&self, hash: String, owner: &KeyOwner) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= KEY_CACHE_MAX {
                map.retain(|_, (_, at)| at.elapsed() < KEY_CACHE_TTL);
                if map.len() >= KEY_CACHE_MAX {
                    map.clear();
                }
            }
            map.insert(hash, (owner.clone(), std::time::Instant::now()));
        }
    }
}

/// A new merchant's keys, shown once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewMerchant {
    pub id: String,
    pub name: String,
    pub secret_key: String,
    pub publishable_key: String,
}

/// A new secret and publishable key pair of one mode, shown once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewKeys {
    pub merchant: String,
    pub mode: &'static str,
    pub secret_key: String,
    pub publishable_key: String,
}

/// Who an API key belongs to: the merchant, the key's kind and the scope (merchant and mode)
/// every request made with it works in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwner {
    pub merchant: Merchant,
    pub kind: KeyKind,
    pub scope: Scope,
    /// The key's id (`key_…`) and how it is shown (`sk_test_…abcd`), for the audit log.
    pub key_id: String,
    pub display: String,
    /// When a rolled key stops working.
    pub expires_at: Option<i64>,
}

impl Services {
    /// Forgets a key this process has cached (it was rolled or revoked here).
    pub(crate) fn forget_key(&self, hash: &str) {
        self.keys.forget(hash);
    }

    pub fn new(
        store: Store,
        processor: Arc<dyn Processor>,
        notifier: Arc<Notifier>,
        master_key: &[u8],
        base_url: String,
        registry: &Registry,
    ) -> Result<Self, prometheus::Error> {
        let payments = IntCounterVec::new(
            Opts::new(
                "kassa_payments_total",
                "Payment attempts by outcome (succeeded, requires_capture, requires_action, failed)",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(payments.clone()))?;
        let processor_metrics = metered::ProcessorMetrics::new(registry)?;
        Ok(Services {
            store,
            sandbox: processor_metrics.wrap(processor),
            live_mode_off: Some(LIVE_MODE_OFF.into()),
            connectors: kassa_processor::Connectors::new(),
            processor_cache: Default::default(),
            processor_metrics,
            notifier,
            secrets: SecretBox::new(master_key),
            fingerprint_key: kassa_core::secret::derive_key(master_key, "card fingerprint v1"),
            base_url: base_url.trim_end_matches('/').to_string(),
            max_webhook_endpoints: DEFAULT_MAX_WEBHOOK_ENDPOINTS,
            payments,
            keys: KeyCache::default(),
            projections: Default::default(),
        })
    }

    /// Registers a face's projection: from now on it follows every core change (see
    /// [`Projection`]). Done once, when the app is built.
    pub fn register_projection(&mut self, p: Arc<dyn Projection>) {
        self.projections.push(p);
    }

    /// Lets live keys work: the operator runs the `production` profile behind an https base
    /// URL. Until this is called every live key, live Paymob profile and live payment is
    /// refused with [`ServiceError::LiveMode`].
    pub fn allow_live_mode(&mut self) {
        self.live_mode_off = None;
    }

    /// The connectors processor accounts may name (the sandbox alone until this is called).
    pub fn set_connectors(&mut self, connectors: kassa_processor::Connectors) {
        self.connectors = connectors;
    }

    /// `Ok` when work in `mode` may run on this server.
    pub fn check_mode(&self, mode: Mode) -> Result<()> {
        match (&self.live_mode_off, mode) {
            (Some(why), Mode::Live) => Err(ServiceError::LiveMode {
                code: "livemode_disabled",
                message: why.clone(),
            }),
            _ => Ok(()),
        }
    }

    pub(crate) fn count_payment(&self, outcome: &str) {
        self.payments.with_label_values(&[outcome]).inc();
    }

    /// Creates a merchant with a fresh secret and publishable test key. Live keys come from
    /// [`Services::create_api_keys`].
    pub async fn create_merchant(&self, name: &str) -> Result<NewMerchant> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(ServiceError::invalid(
                "name",
                "A merchant name of 1 to 200 characters is required.",
            ));
        }
        let now = now_ms();
        let merchant = Merchant {
            id: new_id(prefix::MERCHANT),
            name: name.to_string(),
            created_at: now,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_merchant(&merchant).await?;
        let keys = insert_key_pair(&mut tx, &Scope::test(&merchant.id), now).await?;
        tx.commit().await?;
        Ok(NewMerchant {
            id: merchant.id,
            name: merchant.name,
            secret_key: keys.secret_key,
            publishable_key: keys.publishable_key,
        })
    }

    /// Creates a fresh secret and publishable key pair for the merchant in `mode`
    /// (`sk_live_…`/`pk_live_…` or `sk_test_…`/`pk_test_…`); earlier keys keep working.
    pub async fn create_api_keys(&self, merchant_id: &str, mode: Mode) -> Result<NewKeys> {
        if self.store.merchant(merchant_id).await?.is_none() {
            return Err(ServiceError::not_found("merchant", merchant_id));
        }
        let scope = Scope::new(merchant_id, mode);
        let mut tx = self.store.begin().await?;
        let keys = insert_key_pair(&mut tx, &scope, now_ms()).await?;
        audit::record(
            &mut tx,
            &scope,
            "api_key.create",
            None,
            &serde_json::json!({"kind": "secret and publishable pair",
                                "publishable_key": keys.publishable_key}),
        )
        .await?;
        tx.commit().await?;
        Ok(keys)
    }

    /// Who an API key belongs to: merchant, kind (`secret` or `publishable`) and mode. The
    /// mode is the one the key was created in; its prefix must agree (`sk_live_…` is live).
    pub async fn authenticate(&self, api_key: &str) -> Result<Option<KeyOwner>> {
        let Some((prefix_mode, _)) = kassa_core::scope::mode_of_api_key(api_key) else {
            return Ok(None);
        };
        if api_key.len() > 200 {
            return Ok(None);
        }
        let hash = hash_api_key(api_key);
        if let Some(hit) = self.keys.get(&hash) {
            self.check_mode(hit.scope.mode())?;
            return Ok(Some(hit));
        }
        if prefix_mode == Mode::Live {
            self.check_mode(Mode::Live)?;
        }
        let found = self
            .store
            .api_key_by_hash(&hash, now_ms())
            .await?
            .filter(|k| k.mode == prefix_mode)
            .map(|k| KeyOwner {
                kind: if k.kind == "secret" {
                    KeyKind::Secret
                } else {
                    KeyKind::Publishable
                },
                scope: Scope::new(&k.merchant.id, k.mode),
                merchant: k.merchant,
                key_id: k.id,
                display: k.display,
                expires_at: k.expires_at,
            });
        if found.is_some() {
            // At most once per cache period per key: not a write per request.
            if let Err(e) = self.store.touch_api_key(&hash, now_ms()).await {
                tracing::debug!(error = %e, "recording a key's last use failed");
            }
        }
        if let Some(owner) = &found {
            self.keys.put(hash, owner);
        }
        Ok(found)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Secret,
    Publishable,
}

/// Writes a fresh secret and publishable key pair of the scope's mode and returns it.
async fn insert_key_pair(tx: &mut kassa_store::Tx, scope: &Scope, now: i64) -> Result<NewKeys> {
    let mode = scope.mode().as_str();
    let secret_key = format!("sk_{mode}_{}", random_token(32));
    let publishable_key = format!("pk_{mode}_{}", random_token(32));
    let sk_display = format!("sk_{mode}_…{}", &secret_key[secret_key.len() - 4..]);
    tx.insert_api_key(
        scope,
        &hash_api_key(&secret_key),
        "secret",
        &sk_display,
        now,
    )
    .await?;
    tx.insert_api_key(
        scope,
        &hash_api_key(&publishable_key),
        "publishable",
        &publishable_key,
        now,
    )
    .await?;
    Ok(NewKeys {
        merchant: scope.merchant_id.clone(),
        mode,
        secret_key,
        publishable_key,
    })
}
