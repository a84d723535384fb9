//! Metrics per connector: every call Kassa makes to a processor is timed and counted by
//! connector, operation and outcome (`kassa_processor_request_duration_seconds`,
//! `kassa_processor_requests_total`), so an operator sees a slow or failing processor apart from
//! the others. The labels never carry an account, a reference or an amount.

use std::sync::Arc;
use std::time::Instant;

use kassa_core::money::Money;
use kassa_processor::{
    AuthorizeOutcome, AuthorizeRequest, AuthorizeResult, Capabilities, ChallengeResult,
    CredentialField, Processor, ProcessorError, ProcessorEvent, RefundOutcome, WebhookError,
};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// The metric families, registered once per registry.
#[derive(Clone)]
pub(crate) struct ProcessorMetrics {
    latency: HistogramVec,
    outcomes: IntCounterVec,
}

impl ProcessorMetrics {
    pub(crate) fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "kassa_processor_request_duration_seconds",
                "Time of each call to a payment processor, by connector and operation",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
            &["connector", "operation"],
        )?;
        let outcomes = IntCounterVec::new(
            Opts::new(
                "kassa_processor_requests_total",
                "Calls to a payment processor by connector, operation and outcome (approved, \
                 declined, challenge, review, ok, pending, unknown, unavailable, rejected, error)",
            ),
            &["connector", "operation", "outcome"],
        )?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(outcomes.clone()))?;
        Ok(ProcessorMetrics { latency, outcomes })
    }

    /// `inner`, with every call measured.
    pub(crate) fn wrap(&self, inner: Arc<dyn Processor>) -> Arc<dyn Processor> {
        Arc::new(Metered {
            inner,
            metrics: self.clone(),
        })
    }

    fn record(&self, connector: &str, operation: &str, started: Instant, outcome: &str) {
        self.latency
            .with_label_values(&[connector, operation])
            .observe(started.elapsed().as_secs_f64());
        self.outcomes
            .with_label_values(&[connector, operation, outcome])
            .inc();
    }
}

struct Metered {
    inner: Arc<dyn Processor>,
    metrics: ProcessorMetrics,
}

fn error_outcome(e: &ProcessorError) -> &'static str {
    match e {
        ProcessorError::Unknown(_) => "unknown",
        ProcessorError::Unavailable(_) => "unavailable",
        ProcessorError::Rejected(_) => "rejected",
        _ => "error",
    }
}

fn authorize_outcome(o: &AuthorizeOutcome) -> &'static str {
    match o {
        AuthorizeOutcome::Approved { .. } => "approved",
        AuthorizeOutcome::Declined(_) => "declined",
        AuthorizeOutcome::ChallengeRequired { .. } => "challenge",
        AuthorizeOutcome::UnderReview { .. } => "review",
    }
}

impl Metered {
    fn done<T>(
        &self,
        operation: &str,
        started: Instant,
        result: &Result<T, ProcessorError>,
        ok: impl FnOnce(&T) -> &'static str,
    ) {
        let outcome = match result {
            Ok(v) => ok(v),
            Err(e) => error_outcome(e),
        };
        self.metrics
            .record(self.inner.name(), operation, started, outcome);
    }
}

#[async_trait::async_trait]
impl Processor for Metered {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn credential_schema(&self) -> &'static [CredentialField] {
        self.inner.credential_schema()
    }

    async fn handle_webhook(
        &self,
        headers: &http::HeaderMap,
        raw_body: &[u8],
        now_unix: i64,
    ) -> Result<ProcessorEvent, WebhookError> {
        let started = Instant::now();
        let r = self.inner.handle_webhook(headers, raw_body, now_unix).await;
        let outcome = if r.is_ok() { "ok" } else { "rejected" };
        self.metrics
            .record(self.inner.name(), "webhook", started, outcome);
        r
    }

    async fn authorize(
        &self,
        req: AuthorizeRequest<'_>,
    ) -> Result<AuthorizeResult, ProcessorError> {
        let started = Instant::now();
        let r = self.inner.authorize(req).await;
        self.done("authorize", started, &r, |v| authorize_outcome(&v.outcome));
        r
    }

    async fn complete_challenge(
        &self,
        processor_ref: &str,
        challenge_state: &str,
        result: ChallengeResult,
        amount: Money,
        capture: bool,
    ) -> Result<AuthorizeOutcome, ProcessorError> {
        let started = Instant::now();
        let r = self
            .inner
            .complete_challenge(processor_ref, challenge_state, result, amount, capture)
            .await;
        self.done("complete_challenge", started, &r, authorize_outcome);
        r
    }

    async fn review_verdict(&self, processor_ref: &str) -> Result<Option<bool>, ProcessorError> {
        let started = Instant::now();
        let r = self.inner.review_verdict(processor_ref).await;
        self.done("review_verdict", started, &r, |v| match v {
            Some(true) => "approved",
            Some(false) => "declined",
            None => "pending",
        });
        r
    }

    async fn charge_stored(
        &self,
        original_ref: &str,
        attempt_id: &str,
        amount: Money,
    ) -> Result<AuthorizeOutcome, ProcessorError> {
        let started = Instant::now();
        let r = self
            .inner
            .charge_stored(original_ref, attempt_id, amount)
            .await;
        self.done("charge_stored", started, &r, authorize_outcome);
        r
    }

    async fn capture(&self, processor_ref: &str, amount: Money) -> Result<(), ProcessorError> {
        let started = Instant::now();
        let r = self.inner.capture(processor_ref, amount).await;
        self.done("capture", started, &r, |_| "ok");
        r
    }

    async fn void(&self, processor_ref: &str) -> Result<(), ProcessorError> {
        let started = Instant::now();
        let r = self.inner.void(processor_ref).await;
        self.done("void", started, &r, |_| "ok");
        r
    }

    async fn refund(
        &self,
        processor_ref: &str,
        refund_id: &str,
        amount: Money,
    ) -> Result<RefundOutcome, ProcessorError> {
        let started = Instant::now();
        let r = self.inner.refund(processor_ref, refund_id, amount).await;
        self.done("refund", started, &r, |v| match v {
            RefundOutcome::Succeeded(_) => "ok",
            RefundOutcome::Pending(_) => "pending",
        });
        r
    }

    async fn lookup(&self, attempt_id: &str) -> Result<Option<AuthorizeOutcome>, ProcessorError> {
        let started = Instant::now();
        let r = self.inner.lookup(attempt_id).await;
        self.done("lookup", started, &r, |v| match v {
            Some(o) => authorize_outcome(o),
            None => "not_found",
        });
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kassa_core::money::Currency;
    use kassa_processor::{PaymentMethodInput, SandboxProcessor};

    #[tokio::test]
    async fn each_call_is_counted_by_connector_operation_and_outcome() {
        let registry = Registry::new();
        let m = ProcessorMetrics::new(&registry).unwrap();
        let p = m.wrap(Arc::new(SandboxProcessor));
        let amount = Money {
            amount: 500,
            currency: Currency::parse("usd").unwrap(),
        };
        for token in ["pm_card_visa", "pm_card_chargeDeclined"] {
            let method = PaymentMethodInput::TestToken(token.into());
            p.authorize(AuthorizeRequest {
                attempt_id: "pa_1",
                amount,
                method: &method,
                capture: true,
                three_d_secure: false,
                save_method: false,
                fingerprint_key: b"k",
                now_year: 2026,
                now_month: 1,
            })
            .await
            .unwrap();
        }
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .unwrap();
        for line in [
            r#"kassa_processor_requests_total{connector="sandbox",operation="authorize",outcome="approved"} 1"#,
            r#"kassa_processor_requests_total{connector="sandbox",operation="authorize",outcome="declined"} 1"#,
            r#"kassa_processor_request_duration_seconds_count{connector="sandbox",operation="authorize"} 2"#,
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(!text.contains("pa_1"), "no attempt id in a label");
    }
}
