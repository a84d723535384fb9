//! Resending an endpoint's failed webhook deliveries of a time range at once (after a
//! receiver's outage), for the dashboard.
//!
//! The deliveries are queued again for the workers rather than sent inside the request: a
//! range may hold hundreds, each may take up to the webhook timeout, and the workers already
//! send with leases, record every attempt and pace themselves. Each delivery queued again gets
//! its next automatic attempt now: one more try when it had given up (a failure gives up again
//! at once, its schedule being used up), the rest of its schedule when it was still retrying.

use kassa_store::now_ms;
use serde_json::json;

use crate::{Result, Scope, ServiceError, Webhooks};

/// Most deliveries one bulk resend queues again; the rest wait for another call.
pub const BULK_RESEND_MAX: i64 = 500;

/// What a bulk resend did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkResend {
    /// How many deliveries were queued again.
    pub queued: usize,
    /// More failed deliveries in the range are left (more than [`BULK_RESEND_MAX`]).
    pub more: bool,
}

impl Webhooks<'_> {
    /// Queues the endpoint's failed deliveries created in `[from_ms, to_ms)` again for the
    /// workers, at most [`BULK_RESEND_MAX`] (oldest first). Audited as
    /// `webhook_endpoint.bulk_resend`.
    pub async fn bulk_resend_failed(
        &self,
        scope: &Scope,
        endpoint_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<BulkResend> {
        if from_ms >= to_ms {
            return Err(ServiceError::invalid(
                "to",
                "The end of the range must come after its start.",
            ));
        }
        let ep = self.endpoint(scope, endpoint_id).await?;
        // A disabled endpoint gets nothing new; sending it old deliveries would contradict that.
        if ep.status != "enabled" {
            return Err(ServiceError::State(
                "This endpoint is disabled: enable it before resending its deliveries.".into(),
            ));
        }
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let requeued = tx
            .requeue_failed_deliveries(scope, &ep.id, from_ms, to_ms, BULK_RESEND_MAX, now)
            .await?;
        crate::audit::record(
            &mut tx,
            scope,
            "webhook_endpoint.bulk_resend",
            Some(&ep.id),
            &json!({
                "created_from": from_ms / 1000,
                "created_to": to_ms / 1000,
                "queued": requeued.ids.len(),
                "more": requeued.more,
            }),
        )
        .await?;
        tx.commit().await?;
        if !requeued.ids.is_empty() {
            self.notifier.wake();
        }
        Ok(BulkResend {
            queued: requeued.ids.len(),
            more: requeued.more,
        })
    }
}
