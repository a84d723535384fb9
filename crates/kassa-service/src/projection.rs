//! Faces as projections of the core: each dialect turns core changes into its own wire objects
//! and notifications, inside the change's own transaction.

use std::sync::Arc;

use async_trait::async_trait;
use kassa_core::events::EventType;
use kassa_core::intent::{PaymentIntent, Refund};
use kassa_core::invoice::Invoice;
use kassa_core::subscription::Subscription;
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

    /// Before the engine writes `pi`, the payment of `invoice` of `sub`: a face that made the
    /// subscription shapes the payment (description, metadata naming its own objects, review
    /// delay) and may write its own objects for it, in the same transaction.
    async fn invoice_charge(
        &self,
        _svc: &Services,
        _tx: &mut Tx,
        _sub: &Subscription,
        _invoice: &Invoice,
        _pi: &mut PaymentIntent,
        _now: i64,
    ) -> Result<()> {
        Ok(())
    }

    /// After the engine wrote `pi`, the payment of `invoice` of `sub`, in the same transaction:
    /// for a face's objects that refer to the payment.
    async fn invoice_charge_written(
        &self,
        _svc: &Services,
        _tx: &mut Tx,
        _sub: &Subscription,
        _pi: &PaymentIntent,
        _now: i64,
    ) -> Result<()> {
        Ok(())
    }

    /// After a subscription changed (a step of the engine, or a merchant's change) and the core
    /// wrote its events.
    async fn subscription_changed(
        &self,
        _svc: &Services,
        _tx: &mut Tx,
        _change: &SubscriptionChange<'_>,
    ) -> Result<()> {
        Ok(())
    }
}

/// A subscription's change as the core wrote it.
pub struct SubscriptionChange<'a> {
    pub before: &'a Subscription,
    pub after: &'a Subscription,
    /// The latest invoice, when the change was its payment's outcome (`invoice.paid` or
    /// `invoice.payment_failed`).
    pub invoice: Option<(&'a Invoice, EventType)>,
    /// The events written, `(type, event id)`, in order.
    pub events: &'a [(EventType, String)],
    /// The subscription's own time (its test clock's, or the wall clock's).
    pub now: i64,
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
