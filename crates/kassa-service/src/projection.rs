//! Faces as projections of the core: each dialect turns core changes into its own wire objects
//! and notifications, inside the change's own transaction.

use std::sync::Arc;

use async_trait::async_trait;
use kassa_core::events::EventType;
use kassa_core::intent::{PaymentIntent, Refund};
use kassa_store::Tx;

use crate::{Result, Services};

/// A face that follows the core's changes: Paymentwall queues pingbacks, Paymob renders its
/// transaction objects and queues its callbacks. The core commands call every registered
/// projection and name none; a projection leaves alone the payments its face did not make.
/// Both calls run inside the change's transaction, so a notification is queued exactly when the
/// change commits.
#[async_trait]
pub trait Projection: Send + Sync {
    /// After `pi` changed and the core wrote its events (`(type, event id)`, in order).
    async fn intent_changed(
        &self,
        svc: &Services,
        tx: &mut Tx,
        pi: &PaymentIntent,
        events: &[(EventType, String)],
        now: i64,
    ) -> Result<()>;

    /// After `refund` of `pi` succeeded and the core wrote its event (`event_id`). `pi` is the
    /// payment as it was before the refund.
    async fn refund_succeeded(
        &self,
        svc: &Services,
        tx: &mut Tx,
        pi: &PaymentIntent,
        refund: &Refund,
        event_id: &str,
        now: i64,
    ) -> Result<()>;
}

/// The projections the core calls, in registration order.
#[derive(Default, Clone)]
pub(crate) struct Projections(Vec<Arc<dyn Projection>>);

impl Projections {
    pub(crate) fn push(&mut self, p: Arc<dyn Projection>) {
        self.0.push(p);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<dyn Projection>> {
        self.0.iter()
    }
}
