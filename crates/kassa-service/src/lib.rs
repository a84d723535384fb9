//! Kassa's commands. Each command reads what it needs, asks the core whether the change is
//! legal, and writes the change, its events and their deliveries in one transaction. No
//! transaction is held open while the processor is asked: a confirmation first claims the intent
//! (`processing`), which is what stops a second confirmation from charging twice.
#![forbid(unsafe_code)]
#![recursion_limit = "256"]

mod billing;
mod billing_run;
pub mod branding;
mod confirm;
mod customers;
mod deadlines;
mod egress;
mod endpoints;
mod error;
mod payment_methods;
mod payments;
pub mod paymentwall;
pub mod paymob;
pub mod projection;
mod refunds;
mod test_clocks;

use std::sync::Arc;

use kassa_core::ids::{new_id, prefix, random_token};
use kassa_core::secret::hash_api_key;
use kassa_core::secret_box::SecretBox;
use kassa_notify::Notifier;
use kassa_processor::Processor;
use kassa_store::{now_ms, Merchant, Store};
use prometheus::{IntCounterVec, Opts, Registry};

pub use billing::{BillingChange, ItemParams, SubscriptionParams, SubscriptionUpdate};
pub use customers::CustomerParams;
pub use endpoints::{delivery_json, endpoint_json, EndpointParams, EndpointUpdate};
pub use error::{declined_body, is_unavailable, ServiceError, RETRY_AFTER_SECS};
pub use payment_methods::{is_saved_method_id, PayWith};
pub use payments::{
    check_return_url, year_month, ConfirmParams, CreateIntentParams, CreateRefundParams, SaveChoice,
};
pub use projection::Projection;
pub use test_clocks::{clock_json, deleted_clock_json};

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
    pub merchant_id: String,
    pub key: String,
}

pub struct Services {
    pub store: Store,
    pub processor: Arc<dyn Processor>,
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

/// Recently authenticated API keys (by hash), so a request does not cost a database round trip
/// just to learn who is calling. Entries expire after [`KEY_CACHE_TTL`]; a key revoked in the
/// database stops working within that time.
#[derive(Default)]
struct KeyCache(
    std::sync::Mutex<std::collections::HashMap<String, (Merchant, KeyKind, std::time::Instant)>>,
);

pub const KEY_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(30);
const KEY_CACHE_MAX: usize = 10_000;

impl KeyCache {
    fn get(&self, hash: &str) -> Option<(Merchant, KeyKind)> {
        let map = self.0.lock().ok()?;
        let (m, k, at) = map.get(hash)?;
        (at.elapsed() < KEY_CACHE_TTL).then(|| (m.clone(), *k))
    }

    fn put(&self, hash: String, m: &Merchant, k: KeyKind) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= KEY_CACHE_MAX {
                map.retain(|_, (_, _, at)| at.elapsed() < KEY_CACHE_TTL);
                if map.len() >= KEY_CACHE_MAX {
                    map.clear();
                }
            }
            map.insert(hash, (m.clone(), k, std::time::Instant::now()));
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

impl Services {
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
        Ok(Services {
            store,
            processor,
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

    pub(crate) fn count_payment(&self, outcome: &str) {
        self.payments.with_label_values(&[outcome]).inc();
    }

    /// Creates a merchant with a fresh secret and publishable test key.
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
        let secret_key = format!("sk_test_{}", random_token(32));
        let publishable_key = format!("pk_test_{}", random_token(32));
        let mut tx = self.store.begin().await?;
        tx.insert_merchant(&merchant).await?;
        let sk_display = format!("sk_test_…{}", &secret_key[secret_key.len() - 4..]);
        tx.insert_api_key(
            &merchant.id,
            &hash_api_key(&secret_key),
            "secret",
            &sk_display,
            now,
        )
        .await?;
        tx.insert_api_key(
            &merchant.id,
            &hash_api_key(&publishable_key),
            "publishable",
            &publishable_key,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(NewMerchant {
            id: merchant.id,
            name: merchant.name,
            secret_key,
            publishable_key,
        })
    }

    /// The merchant and key kind (`secret` or `publishable`) an API key belongs to.
    pub async fn authenticate(&self, api_key: &str) -> Result<Option<(Merchant, KeyKind)>> {
        if !(api_key.starts_with("sk_test_") || api_key.starts_with("pk_test_"))
            || api_key.len() > 200
        {
            return Ok(None);
        }
        let hash = hash_api_key(api_key);
        if let Some(hit) = self.keys.get(&hash) {
            return Ok(Some(hit));
        }
        let found = self
            .store
            .merchant_by_key_hash(&hash)
            .await?
            .map(|(m, kind)| {
                let kind = if kind == "secret" {
                    KeyKind::Secret
                } else {
                    KeyKind::Publishable
                };
                (m, kind)
            });
        if let Some((m, k)) = &found {
            self.keys.put(hash, m, *k);
        }
        Ok(found)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Secret,
    Publishable,
}
