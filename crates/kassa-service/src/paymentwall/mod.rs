//! The Paymentwall dialect: projects, signed payment-page links, pingbacks, subscriptions and
//! the merchant REST APIs, all on top of the core's intents, refunds, events and outbox.

mod apis;
mod keys;
mod orders;
mod pingbacks;
pub mod product;
mod projects;
mod subscriptions;
mod tool;

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
pub use tool::{effective_sign_version, tool_pingback, ToolInput, ToolReport, TOOL_PINGBACK_TYPES};

pub const ORDER_PREFIX: &str = "pwo";

/// The Paymentwall face as a projection of the core: pingbacks for its orders' payments and
/// refunds. Registered when the app is built.
pub struct PaymentwallProjection;

/// The core's key of a Paymentwall order (an order takes one payment: its intent).
pub(crate) fn order_key(order_id: &str) -> String {
    format!("paymentwall:{order_id}")
}

/// Whether `pi` is the payment of a Paymentwall order (the only ones this face renders).
fn is_ours(pi: &kassa_core::intent::PaymentIntent) -> bool {
    pi.order_key
        .as_deref()
        .is_some_and(|k| k.starts_with("paymentwall:"))
}

#[async_trait::async_trait]
impl crate::Projection for PaymentwallProjection {
    async fn intent_changed(
        &self,
        svc: &crate::Services,
        tx: &mut kassa_store::Tx,
        pi: &kassa_core::intent::PaymentIntent,
        events: &[(kassa_core::events::EventType, String)],
        now: i64,
    ) -> crate::Result<()> {
        if !is_ours(pi) {
            return Ok(());
        }
        svc.paymentwall()
            .after_intent_events(tx, pi, events, now)
            .await
    }

    async fn refund_succeeded(
        &self,
        svc: &crate::Services,
        tx: &mut kassa_store::Tx,
        pi: &kassa_core::intent::PaymentIntent,
        refund: &kassa_core::intent::Refund,
        event_id: &str,
        now: i64,
    ) -> crate::Result<()> {
        if !is_ours(pi) {
            return Ok(());
        }
        svc.paymentwall()
            .after_refund(tx, pi, refund, event_id, now)
            .await
    }

    async fn invoice_charge(
        &self,
        svc: &crate::Services,
        tx: &mut kassa_store::Tx,
        sub: &kassa_core::subscription::Subscription,
        _invoice: &kassa_core::invoice::Invoice,
        pi: &mut kassa_core::intent::PaymentIntent,
        _now: i64,
    ) -> crate::Result<()> {
        svc.paymentwall().invoice_charge(tx, sub, pi).await
    }

    async fn invoice_charge_written(
        &self,
        svc: &crate::Services,
        tx: &mut kassa_store::Tx,
        sub: &kassa_core::subscription::Subscription,
        pi: &kassa_core::intent::PaymentIntent,
        now: i64,
    ) -> crate::Result<()> {
        svc.paymentwall().renewal_order(tx, sub, pi, now).await
    }

    async fn subscription_changed(
        &self,
        svc: &crate::Services,
        tx: &mut kassa_store::Tx,
        change: &crate::projection::SubscriptionChange<'_>,
    ) -> crate::Result<()> {
        svc.paymentwall().subscription_changed(tx, change).await
    }
}
