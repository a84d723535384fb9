//! Delivery of notifications from the outbox.
//!
//! Invariants: a delivery is only sent by the worker that holds its lease, and the attempt is
//! recorded (status, latency, response excerpt) only while that lease is still held, so several
//! processes sharing one database never send the same attempt twice. Retries are rows with a
//! `next_attempt_at`, not sleeps: a restart or `kill -9` loses nothing, a delivery whose lease
//! ran out is simply due again.
#![forbid(unsafe_code)]

mod schedule;

use std::sync::Arc;
use std::time::{Duration, Instant};

use kassa_core::ids::{new_id, prefix};
use kassa_core::secret_box::SecretBox;
use kassa_core::webhook_signature;
use kassa_egress::{EgressClient, EgressPolicy, SendError};
use kassa_store::{
    now_ms, Channel, Delivery, DeliveryAttempt, DeliveryOutcome, Store, WebhookEndpoint,
};
use prometheus::{IntCounterVec, Opts, Registry};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use schedule::{parse_schedule, RetrySchedule};

#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// Native webhooks.
    pub schedule: RetrySchedule,
    /// Paymentwall pingbacks: every 30 minutes, 72 tries (36 hours) by default.
    pub pingback_schedule: RetrySchedule,
    /// Paymob callbacks: [`RetrySchedule::paymob`] unless configured.
    pub paymob_schedule: RetrySchedule,
    pub timeout: Duration,
    /// How often to look for due work when nothing woke the worker.
    pub poll_interval: Duration,
    pub batch: i64,
    pub lease: Duration,
    pub max_in_flight: usize,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        NotifierConfig {
            schedule: RetrySchedule::default(),
            pingback_schedule: RetrySchedule::new(vec![Duration::from_secs(1800); 71], false),
            paymob_schedule: RetrySchedule::paymob(),
            timeout: Duration::from_secs(15),
            poll_interval: Duration::from_millis(500),
            batch: 32,
            lease: Duration::from_secs(60),
            max_in_flight: 32,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] kassa_store::StoreError),
    #[error("no such delivery")]
    NotFound,
}

pub struct Notifier {
    store: Store,
    secrets: SecretBox,
    http: EgressClient,
    cfg: NotifierConfig,
    owner: String,
    wake: Notify,
    outcomes: IntCounterVec,
}

/// What one HTTP attempt produced.
struct Sent {
    /// `host[:port]` of the target, for the log (never the path or query: pingback and
    /// callback URLs carry their signature there).
    host: Option<String>,
    status: Option<u16>,
    excerpt: Option<String>,
    error: Option<String>,
    latency_ms: i64,
}

impl Notifier {
    /// Every request goes through one [`EgressClient`] under `egress`: a target the policy
    /// refuses gets the attempt error `refused by egress policy` and no response excerpt.
    pub fn new(
        store: Store,
        secrets: SecretBox,
        cfg: NotifierConfig,
        egress: EgressPolicy,
        registry: &Registry,
    ) -> anyhow_free::Result<Arc<Self>> {
        let http = EgressClient::new(
            egress,
            cfg.timeout,
            concat!("Kassa-Webhooks/", env!("CARGO_PKG_VERSION")),
        )
        .map_err(|e| anyhow_free::Error(e.to_string()))?;
        let outcomes = IntCounterVec::new(
            Opts::new(
                "kassa_deliveries_total",
                "Notification delivery attempts by channel and outcome",
            ),
            &["channel", "outcome"],
        )
        .map_err(|e| anyhow_free::Error(e.to_string()))?;
        registry
            .register(Box::new(outcomes.clone()))
            .map_err(|e| anyhow_free::Error(e.to_string()))?;
        Ok(Arc::new(Notifier {
            store,
            secrets,
            http,
            cfg,
            owner: new_id("worker"),
            wake: Notify::new(),
            outcomes,
        }))
    }

    /// The outbound client (and its egress policy) every request to a merchant goes through,
    /// for the faces that send one now (the Test Pingback Tool) and check URLs when saved.
    pub fn egress(&self) -> &EgressClient {
        &self.http
    }

    /// Asks the worker to look for due work now (called after a commit that added deliveries).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs until `shutdown`, then waits for the deliveries in flight to finish.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut in_flight: JoinSet<()> = JoinSet::new();
        loop {
            while in_flight.try_join_next().is_some() {}
            let room = self.cfg.max_in_flight.saturating_sub(in_flight.len()) as i64;
            let mut claimed = 0;
            if room > 0 {
                let now = now_ms();
                let lease_until = now + self.cfg.lease.as_millis() as i64;
                match self
                    .store
                    .claim_deliveries(&self.owner, now, lease_until, room.min(self.cfg.batch))
                    .await
                {
                    Ok(mut batch) => {
                        claimed = batch.len();
                        batch.sort_by_key(|d| (d.next_attempt_at, d.created_at));
                        // Deliveries of one event to one target go out one after the other,
                        // in the order they are due (a Paymob TOKEN callback after its
                        // TRANSACTION callback); everything else in parallel.
                        let mut chains: Vec<Vec<Delivery>> = Vec::new();
                        for d in batch {
                            match chains.iter_mut().find(|c| {
                                c[0].event_id == d.event_id && c[0].endpoint_id == d.endpoint_id
                            }) {
                                Some(chain) => chain.push(d),
                                None => chains.push(vec![d]),
                            }
                        }
                        for chain in chains {
                            let me = self.clone();
                            in_flight.spawn(async move {
                                for d in chain {
                                    me.deliver_claimed(d).await;
                                }
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "claiming deliveries failed"),
                }
            }
            if claimed > 0 && (claimed as i64) == room.min(self.cfg.batch) {
                // A full batch: there may be more due right away.
                if shutdown.is_cancelled() {
                    break;
                }
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.cfg.poll_interval) => {}
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            }
        }
        while in_flight.join_next().await.is_some() {}
    }

    async fn deliver_claimed(&self, d: Delivery) {
        let attempt_number = d.attempt_count + 1;
        let sent = self.send(&d).await;
        let ok = accepted(d.channel, &sent);
        let schedule = match d.channel {
            Channel::Webhook => &self.cfg.schedule,
            Channel::Pingback => &self.cfg.pingback_schedule,
            Channel::PaymobCallback => &self.cfg.paymob_schedule,
        };
        let outcome = if ok {
            DeliveryOutcome::Succeeded
        } else {
            match schedule.delay_after(attempt_number) {
                Some(delay) => DeliveryOutcome::Retry {
                    at: now_ms() + delay.as_millis() as i64,
                },
                None => DeliveryOutcome::GaveUp,
            }
        };
        if !ok {
            let next = match outcome {
                DeliveryOutcome::Retry { at } => {
                    let ms = (at - now_ms()).max(0);
                    format!("retry in {}.{} s", ms / 1000, (ms % 1000) / 100)
                }
                _ => "gave up".to_string(),
            };
            log_failure(&d, &sent, attempt_number, "automatic", &next);
        }
        let attempt = self.attempt_row(&d, attempt_number, "automatic", sent);
        match self
            .store
            .record_attempt(&self.owner, &attempt, outcome)
            .await
        {
            Ok(true) => {
                let label = match outcome {
                    DeliveryOutcome::Succeeded => "succeeded",
                    DeliveryOutcome::Retry { .. } => "retry",
                    DeliveryOutcome::GaveUp => "failed",
                };
                self.outcomes
                    .with_label_values(&[d.channel.as_str(), label])
                    .inc();
            }
            Ok(false) => {
                tracing::warn!(delivery = %d.id, "lease lost before the attempt was recorded")
            }
            Err(e) => {
                tracing::error!(delivery = %d.id, error = %e, "recording a delivery attempt failed")
            }
        }
    }

    /// Sends a delivery again now, at the merchant's request, outside the automatic schedule.
    pub async fn resend(
        &self,
        scope: &kassa_store::Scope,
        delivery_id: &str,
    ) -> Result<DeliveryAttempt, NotifyError> {
        let d = self
            .store
            .delivery(scope, delivery_id)
            .await?
            .ok_or(NotifyError::NotFound)?;
        let sent = self.send(&d).await;
        let ok = accepted(d.channel, &sent);
        if !ok {
            let n = d.attempt_count + 1;
            log_failure(&d, &sent, n, "manual", "no automatic retry from a resend");
        }
        let attempt = self.attempt_row(&d, 0, "manual", sent);
        self.store.record_manual_attempt(&attempt, ok).await?;
        self.outcomes
            .with_label_values(&[
                d.channel.as_str(),
                if ok { "succeeded" } else { "manual_failed" },
            ])
            .inc();
        let attempts = self.store.delivery_attempts(&d.id).await?;
        Ok(attempts.into_iter().last().unwrap_or(attempt))
    }

    fn attempt_row(&self, d: &Delivery, n: i64, trigger: &str, sent: Sent) -> DeliveryAttempt {
        DeliveryAttempt {
            id: new_id(prefix::DELIVERY_ATTEMPT),
            delivery_id: d.id.clone(),
            attempt_number: n,
            trigger: trigger.into(),
            started_at: now_ms(),
            status_code: sent.status.map(i64::from),
            latency_ms: sent.latency_ms,
            response_excerpt: sent.excerpt,
            error: sent.error,
        }
    }

    async fn send(&self, d: &Delivery) -> Sent {
        match d.channel {
            Channel::Webhook => self.send_webhook(d).await,
            Channel::Pingback => match &d.request_url {
                Some(url) => self.send_get(url).await,
                None => Sent {
                    host: None,
                    status: None,
                    excerpt: None,
                    error: Some("pingback without a rendered request".into()),
                    latency_ms: 0,
                },
            },
            Channel::PaymobCallback => match (&d.request_url, d.request_body.as_deref()) {
                // A body with a secret in it (a saved card's token) is stored sealed.
                (Some(url), Some(body)) if SecretBox::looks_sealed(body) => {
                    match self.secrets.open(body) {
                        Some(plain) => self.send_post_json(url, &plain).await,
                        None => Sent {
                            host: None,
                            status: None,
                            excerpt: None,
                            error: Some("callback body could not be opened".into()),
                            latency_ms: 0,
                        },
                    }
                }
                (Some(url), Some(body)) => self.send_post_json(url, body).await,
                _ => Sent {
                    host: None,
                    status: None,
                    excerpt: None,
                    error: Some("callback without a rendered request".into()),
                    latency_ms: 0,
                },
            },
        }
    }

    async fn send_webhook(&self, d: &Delivery) -> Sent {
        let fail = |msg: String| Sent {
            host: None,
            status: None,
            excerpt: None,
            error: Some(msg),
            latency_ms: 0,
        };
        let endpoint = match self.store.endpoint_by_id(&d.endpoint_id).await {
            Ok(Some(ep)) => ep,
            Ok(None) => return fail("endpoint no longer exists".into()),
            Err(e) => return fail(format!("store: {e}")),
        };
        let event = match self.store.event(&d.scope(), &d.event_id).await {
            Ok(Some(ev)) => ev,
            Ok(None) => return fail("event no longer exists".into()),
            Err(e) => return fail(format!("store: {e}")),
        };
        let body = event.to_json().to_string();
        let ts = now_ms() / 1000;
        let Some(signature) = self.signature_header(&endpoint, &event.id, ts, body.as_bytes())
        else {
            return fail("endpoint secret cannot be read (wrong master key?)".into());
        };
        let started = Instant::now();
        let result = self
            .http
            .post(&endpoint.url)
            .header("content-type", "application/json")
            .header("webhook-id", &event.id)
            .header("webhook-timestamp", &ts.to_string())
            .header("webhook-signature", &signature)
            .body(body)
            .send()
            .await;
        match result {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let excerpt = read_excerpt(resp).await;
                Sent {
                    host: target_host(&endpoint.url),
                    status: Some(status),
                    excerpt: Some(excerpt),
                    error: None,
                    latency_ms: started.elapsed().as_millis() as i64,
                }
            }
            Err(e) => Sent {
                host: target_host(&endpoint.url),
                status: None,
                excerpt: None,
                error: Some(transport_error(e, self.cfg.timeout)),
                latency_ms: started.elapsed().as_millis() as i64,
            },
        }
    }

    /// POSTs a pre-rendered JSON body (Paymob callbacks: the `hmac` is in the URL or the body,
    /// computed when queued, so every retry is byte-identical).
    async fn send_post_json(&self, url: &str, body: &str) -> Sent {
        let started = Instant::now();
        match self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("user-agent", "Kassa Callback")
            .body(body.to_string())
            .send()
            .await
        {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let excerpt = read_excerpt(resp).await;
                Sent {
                    host: target_host(url),
                    status: Some(status),
                    excerpt: Some(excerpt),
                    error: None,
                    latency_ms: started.elapsed().as_millis() as i64,
                }
            }
            Err(e) => Sent {
                host: target_host(url),
                status: None,
                excerpt: None,
                error: Some(transport_error(e, self.cfg.timeout)),
                latency_ms: started.elapsed().as_millis() as i64,
            },
        }
    }

    /// Sends a pre-rendered GET request (the query is exactly what was signed when queued).
    async fn send_get(&self, url: &str) -> Sent {
        let started = Instant::now();
        match self
            .http
            .get(url)
            .header("user-agent", "Kassa Pingback")
            .send()
            .await
        {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let excerpt = read_excerpt(resp).await;
                Sent {
                    host: target_host(url),
                    status: Some(status),
                    excerpt: Some(excerpt),
                    error: None,
                    latency_ms: started.elapsed().as_millis() as i64,
                }
            }
            Err(e) => Sent {
                host: target_host(url),
                status: None,
                excerpt: None,
                error: Some(transport_error(e, self.cfg.timeout)),
                latency_ms: started.elapsed().as_millis() as i64,
            },
        }
    }

    /// `v1,<sig>` under the current secret, plus the previous one while it is still valid, so a
    /// receiver mid-rotation accepts either.
    fn signature_header(
        &self,
        ep: &WebhookEndpoint,
        msg_id: &str,
        ts: i64,
        body: &[u8],
    ) -> Option<String> {
        let current = self.secrets.open(&ep.secret_enc)?;
        let mut header = webhook_signature::sign(&current, msg_id, ts, body)?;
        if let (Some(prev), Some(until)) = (&ep.previous_secret_enc, ep.previous_secret_expires_at)
        {
            if until > now_ms() {
                if let Some(prev) = self.secrets.open(prev) {
                    if let Some(sig) = webhook_signature::sign(&prev, msg_id, ts, body) {
                        header.push(' ');
                        header.push_str(&sig);
                    }
                }
            }
        }
        Some(header)
    }
}

/// The attempt's error text: the neutral `refused by egress policy` for a refused target
/// (never a network diagnosis), else what went wrong on the way.
fn transport_error(e: SendError, timeout: Duration) -> String {
    match e {
        SendError::Refused => kassa_egress::REFUSED.into(),
        SendError::Timeout => format!("timed out after {} s", timeout.as_secs()),
        SendError::Connect => "could not connect".into(),
        SendError::Other => "request failed".into(),
    }
}

/// `host[:port]` of a target URL: what the log may say about where a notification went.
fn target_host(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    let host = u.host_str()?;
    Some(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

/// Why an attempt failed, in a few words: `HTTP 500`, `HTTP 200 without the body OK` (a
/// pingback), or the transport error class (`refused by egress policy`, `timed out after 15 s`,
/// `could not connect`). Never the response excerpt.
fn failure_reason(channel: Channel, sent: &Sent) -> String {
    match (sent.status, &sent.error) {
        (Some(200), _) if channel == Channel::Pingback => "HTTP 200 without the body OK".into(),
        (Some(s), _) => format!("HTTP {s}"),
        (None, Some(e)) => e.clone(),
        (None, None) => "request failed".into(),
    }
}

/// One WARN line per failed attempt, automatic or manual: where (host only), which channel,
/// why, which attempt, and the delivery and event ids. No body, excerpt, URL path or query,
/// signature or secret.
fn log_failure(d: &Delivery, sent: &Sent, attempt: i64, trigger: &str, next: &str) {
    tracing::warn!(
        channel = %d.channel,
        host = %sent.host.as_deref().unwrap_or("-"),
        status = sent.status,
        reason = %failure_reason(d.channel, sent),
        attempt,
        trigger = %trigger,
        delivery = %d.id,
        event = %d.event_id,
        next = %next,
        "notification delivery attempt failed"
    );
}

/// Each channel's rule for a delivered notification: any 2xx for webhooks and Paymob
/// callbacks; for Paymentwall pingbacks HTTP 200 with the body `OK` (whitespace, a BOM and
/// case tolerated).
fn accepted(channel: Channel, sent: &Sent) -> bool {
    match channel {
        Channel::Pingback => {
            sent.status == Some(200)
                && sent.excerpt.as_deref().is_some_and(|b| {
                    b.trim_start_matches('\u{feff}')
                        .trim()
                        .eq_ignore_ascii_case("ok")
                })
        }
        Channel::Webhook | Channel::PaymobCallback => {
            sent.status.is_some_and(|s| (200..300).contains(&s))
        }
    }
}

const EXCERPT_BYTES: usize = 1024;

async fn read_excerpt(mut resp: reqwest::Response) -> String {
    let mut buf: Vec<u8> = Vec::new();
    while buf.len() < EXCERPT_BYTES {
        match resp.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            _ => break,
        }
    }
    buf.truncate(EXCERPT_BYTES);
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(status: u16, body: &str) -> Sent {
        Sent {
            host: None,
            status: Some(status),
            excerpt: Some(body.into()),
            error: None,
            latency_ms: 1,
        }
    }

    #[test]
    fn a_pingback_counts_only_with_status_200_and_the_body_ok() {
        assert!(accepted(Channel::Pingback, &sent(200, "OK")));
        assert!(accepted(Channel::Pingback, &sent(200, " ok\n")));
        assert!(accepted(Channel::Pingback, &sent(200, "\u{feff}OK")));
        assert!(!accepted(Channel::Pingback, &sent(200, "")));
        assert!(!accepted(Channel::Pingback, &sent(200, "OK thanks")));
        assert!(!accepted(Channel::Pingback, &sent(201, "OK")));
        assert!(!accepted(Channel::Pingback, &sent(500, "OK")));
    }

    #[test]
    fn the_log_names_the_host_and_the_reason_only() {
        assert_eq!(
            target_host("https://shop.example/pingback?sig=abc&uid=1").as_deref(),
            Some("shop.example")
        );
        assert_eq!(
            target_host("http://127.0.0.1:9000/cb?hmac=f00").as_deref(),
            Some("127.0.0.1:9000")
        );
        assert_eq!(target_host("not a url"), None);
        assert_eq!(
            failure_reason(Channel::Webhook, &sent(500, "secret")),
            "HTTP 500"
        );
        assert_eq!(
            failure_reason(Channel::Pingback, &sent(200, "nope")),
            "HTTP 200 without the body OK"
        );
        let refused = Sent {
            host: None,
            status: None,
            excerpt: None,
            error: Some(kassa_egress::REFUSED.into()),
            latency_ms: 0,
        };
        assert_eq!(
            failure_reason(Channel::PaymobCallback, &refused),
            kassa_egress::REFUSED
        );
    }

    #[test]
    fn a_webhook_counts_with_any_2xx() {
        assert!(accepted(Channel::Webhook, &sent(204, "")));
        assert!(!accepted(Channel::Webhook, &sent(301, "")));
    }
}

/// A tiny error type so this crate needs no `anyhow`.
pub mod anyhow_free {
    #[derive(Debug)]
    pub struct Error(pub String);
    impl std::fmt::Display for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl std::error::Error for Error {}
    pub type Result<T> = std::result::Result<T, Error>;
}
