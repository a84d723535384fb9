//! The Paymentwall dialect: projects, signed payment-page links, pingbacks, subscriptions and
//! the merchant REST APIs, all on top of the core's intents, refunds, events and outbox.

mod apis;
mod orders;
mod pingbacks;
pub mod product;
mod projects;
mod subscriptions;

pub use apis::{ApiError, PaymentStatus, TicketOutcome};
pub use orders::{
    LinkError, LinkPath, LinkRefusal, OrderView, PendingVoucher, VOUCHER_VALIDITY_MS,
};
pub use pingbacks::{datetime_utc, test_pingback, TestPingback};
pub use product::{ApiType, Product};
pub use projects::{
    Project, ProjectInput, ProjectSettings, WidgetLayout, CUSTOM_MACROS, PROJECT_PREFIX,
};
pub use subscriptions::{subscription_json, RENEWAL_ATTEMPTS};

pub const ORDER_PREFIX: &str = "pwo";
/// Refund metadata key carrying a Paymentwall `reason` other than 9 (the chargeback helper).
pub const CHARGEBACK_REASON_KEY: &str = "paymentwall_reason";
