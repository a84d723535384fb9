//! Load generation: the HTTP client for Kassa's native API and the closed- and open-loop drivers.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
// reqwest's `Response::bytes` returns `bytes::Bytes`, which axum re-exports.
use axum::body::Bytes;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::stats::Latency;

const CREATE_BODY: &str = r#"{"amount":1000,"currency":"usd"}"#;
const CONFIRM_BODY: &str = r#"{"payment_method":"pm_card_visa"}"#;

/// Per-request timeout; it also bounds how long a phase can overrun its duration.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Error tallies keyed by a short description ("HTTP 500 api_error", "timeout", ...).
pub type Errors = BTreeMap<String, u64>;

pub fn error_total(e: &Errors) -> u64 {
    e.values().sum()
}

/// A client for one merchant's secret key; only ever talks to the Kassa base URL it was given.
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: Arc<str>,
    auth: HeaderValue,
}

/// A client that never uses a proxy, so benchmark traffic stays on 127.0.0.1.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("building the HTTP client")
}

fn transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect error".into()
    } else if e.is_body() || e.is_decode() {
        "error reading response body".into()
    } else {
        "transport error".into()
    }
}

impl Api {
    pub fn new(client: reqwest::Client, base: &str, secret_key: &str) -> anyhow::Result<Api> {
        Ok(Api {
            client,
            base: base.trim_end_matches('/').into(),
            auth: HeaderValue::from_str(&format!("Bearer {secret_key}"))
                .context("secret key is not a valid header value")?,
        })
    }

    pub(crate) async fn post(&self, path: &str, body: &'static str) -> Result<Bytes, String> {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .header(AUTHORIZATION, self.auth.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| transport_error(&e))?;
        if !status.is_success() {
            // Kassa's error body: {"error":{"type":…,"code":…,"message":…}}.
            let kind = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| {
                    let e = &v["error"];
                    e["code"]
                        .as_str()
                        .or_else(|| e["type"].as_str())
                        .map(str::to_string)
                })
                .unwrap_or_default();
            return Err(format!("HTTP {} {kind}", status.as_u16())
                .trim_end()
                .to_string());
        }
        Ok(bytes)
    }

    /// `POST /v1/payment_intents`; only the status is checked.
    pub async fn create_intent(&self) -> Result<(), String> {
        self.post("/v1/payment_intents", CREATE_BODY)
            .await
            .map(|_| ())
    }

    /// `POST /v1/payment_intents`, returning the intent as JSON.
    pub async fn create_intent_json(&self) -> Result<Value, String> {
        let b = self.post("/v1/payment_intents", CREATE_BODY).await?;
        serde_json::from_slice(&b).map_err(|_| "create: response is not JSON".to_string())
    }

    /// Creates an intent and confirms it with `pm_card_visa`. Returns the intent id and the
    /// instant the confirm response was fully read.
    pub async fn create_and_confirm(&self) -> Result<(String, Instant), String> {
        self.create_and_confirm_with(CONFIRM_BODY).await
    }

    /// Creates an intent and confirms it with `confirm_body`; the confirm must succeed.
    pub async fn create_and_confirm_with(
        &self,
        confirm_body: &'static str,
    ) -> Result<(String, Instant), String> {
        let b = self.post("/v1/payment_intents", CREATE_BODY).await?;
        let v: Value =
            serde_json::from_slice(&b).map_err(|_| "create: response is not JSON".to_string())?;
        let id = v["id"]
            .as_str()
            .ok_or_else(|| "create: response has no id".to_string())?
            .to_string();
        let b = self
            .post(&format!("/v1/payment_intents/{id}/confirm"), confirm_body)
            .await
            .map_err(|e| format!("confirm: {e}"))?;
        let done = Instant::now();
        let v: Value =
            serde_json::from_slice(&b).map_err(|_| "confirm: response is not JSON".to_string())?;
        match v["status"].as_str() {
            Some("succeeded") => Ok((id, done)),
            other => Err(format!("confirm: status {}", other.unwrap_or("missing"))),
        }
    }

    /// Saves a card for a new customer (a first payment with `setup_future_usage:
    /// off_session`); returns the body of an off-session renewal charging it, as the
    /// subscription engine sends one.
    pub async fn saved_card_renewal_body(&self) -> anyhow::Result<&'static str> {
        let b = self
            .post("/v1/customers", r#"{"email":"bench@example.com"}"#)
            .await
            .map_err(|e| anyhow!("creating the customer: {e}"))?;
        let customer: Value = serde_json::from_slice(&b).context("customer response")?;
        let cus = customer["id"].as_str().unwrap_or_default();
        let first = serde_json::json!({"amount": 1000, "currency": "usd", "customer": cus,
            "setup_future_usage": "off_session", "confirm": true, "payment_method": "pm_card_visa"});
        let b = self
            .post("/v1/payment_intents", leak(first.to_string()))
            .await
            .map_err(|e| anyhow!("saving the card: {e}"))?;
        let paid: Value = serde_json::from_slice(&b).context("first payment response")?;
        let pm = paid["payment_method"]["id"]
            .as_str()
            .ok_or_else(|| anyhow!("the first payment saved no card: {paid}"))?;
        let renewal = serde_json::json!({"amount": 1000, "currency": "usd", "customer": cus,
            "payment_method": pm, "off_session": true, "confirm": true});
        Ok(leak(renewal.to_string()))
    }

    /// One off-session charge of a saved card, created and confirmed in one request (`body`
    /// from [`Api::saved_card_renewal_body`]); it must succeed.
    pub async fn renew(&self, body: &'static str) -> Result<(), String> {
        let b = self.post("/v1/payment_intents", body).await?;
        let v: Value =
            serde_json::from_slice(&b).map_err(|_| "renewal: response is not JSON".to_string())?;
        match v["status"].as_str() {
            Some("succeeded") => Ok(()),
            other => Err(format!("renewal: status {}", other.unwrap_or("missing"))),
        }
    }

    /// Registers a webhook endpoint; returns its id.
    pub async fn register_webhook(&self, url: &str, events: &[&str]) -> anyhow::Result<String> {
        let resp = self
            .client
            .post(format!("{}/v1/webhook_endpoints", self.base))
            .header(AUTHORIZATION, self.auth.clone())
            .json(&serde_json::json!({ "url": url, "enabled_events": events }))
            .send()
            .await
            .context("registering the webhook endpoint")?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("registering the webhook endpoint: HTTP {status}: {text}");
        }
        let v: Value = serde_json::from_str(&text).context("webhook endpoint response")?;
        Ok(v["id"].as_str().unwrap_or_default().to_string())
    }
}

/// A request body made once per run and kept for the whole process (the bench's requests take
/// `&'static str` bodies so a worker never copies one).
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// What a closed-loop run measured. Only operations that *completed* inside the measurement
/// window (after the warm-up, before the end) count.
pub struct ClosedRun<T> {
    pub latencies_us: Vec<i64>,
    /// Completion time of each measured operation, in microseconds after the warm-up.
    pub completions_us: Vec<i64>,
    pub outputs: Vec<T>,
    pub errors: Errors,
    pub warmup_errors: u64,
    pub window: Duration,
    /// Every operation that finished, warm-up and overrun included (for CPU per operation).
    pub total_ops: u64,
}

impl<T> ClosedRun<T> {
    pub fn ok(&self) -> usize {
        self.latencies_us.len()
    }

    pub fn throughput(&self) -> f64 {
        self.ok() as f64 / self.window.as_secs_f64()
    }

    /// Successful completions in each whole second of the window.
    pub fn per_second(&self) -> Vec<u64> {
        let secs = self.window.as_secs().max(1) as usize;
        let mut v = vec![0u64; secs];
        for &c in &self.completions_us {
            let i = (c / 1_000_000).clamp(0, secs as i64 - 1) as usize;
            v[i] += 1;
        }
        v
    }

    /// The longest time in the window without a single successful completion, in ms.
    pub fn longest_gap_ms(&self) -> f64 {
        let mut c = self.completions_us.clone();
        c.sort_unstable();
        let end = self.window.as_micros() as i64;
        let mut prev = 0i64;
        let mut gap = 0i64;
        for &t in c.iter().chain(std::iter::once(&end)) {
            gap = gap.max(t - prev);
            prev = t;
        }
        gap as f64 / 1000.0
    }
}

struct WorkerOut<T> {
    latencies_us: Vec<i64>,
    completions_us: Vec<i64>,
    total_ops: u64,
    outputs: Vec<T>,
    errors: Errors,
    warmup_errors: u64,
}

/// `workers` tasks each issue `op` back to back for `warmup + window`.
pub async fn closed_loop<T, F, Fut>(
    workers: usize,
    warmup: Duration,
    window: Duration,
    op: F,
) -> ClosedRun<T>
where
    T: Send + 'static,
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, String>> + Send + 'static,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let warm_end = start + warmup;
    let end = warm_end + window;
    let mut set = JoinSet::new();
    for _ in 0..workers {
        let op = op.clone();
        set.spawn(async move {
            let mut out = WorkerOut {
                latencies_us: Vec::new(),
                completions_us: Vec::new(),
                total_ops: 0,
                outputs: Vec::new(),
                errors: Errors::new(),
                warmup_errors: 0,
            };
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let r = op().await;
                let t1 = Instant::now();
                let in_window = t1 >= warm_end && t1 <= end;
                out.total_ops += 1;
                match r {
                    Ok(v) => {
                        if in_window {
                            out.latencies_us.push((t1 - t0).as_micros() as i64);
                            out.completions_us.push((t1 - warm_end).as_micros() as i64);
                            out.outputs.push(v);
                        }
                    }
                    Err(e) => {
                        if in_window {
                            *out.errors.entry(e).or_default() += 1;
                        } else if t1 < warm_end {
                            out.warmup_errors += 1;
                        }
                        // Do not spin on a failing server.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
            out
        });
    }
    let mut run = ClosedRun {
        latencies_us: Vec::new(),
        completions_us: Vec::new(),
        outputs: Vec::new(),
        errors: Errors::new(),
        warmup_errors: 0,
        window,
        total_ops: 0,
    };
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(out) => {
                run.latencies_us.extend(out.latencies_us);
                run.completions_us.extend(out.completions_us);
                run.total_ops += out.total_ops;
                run.outputs.extend(out.outputs);
                for (k, v) in out.errors {
                    *run.errors.entry(k).or_default() += v;
                }
                run.warmup_errors += out.warmup_errors;
            }
            Err(_) => *run.errors.entry("worker panicked".into()).or_default() += 1,
        }
    }
    run
}

/// What an open-loop run measured. Latency is from each request's *scheduled* send time, so a
/// stall delays (and is charged to) every request that should have been sent meanwhile.
pub struct OpenRun {
    pub rate: f64,
    pub window: Duration,
    pub scheduled: u64,
    pub latencies_us: Vec<i64>,
    pub errors: Errors,
    /// Largest delay between a scheduled send time and the actual dispatch.
    pub max_dispatch_lag_us: i64,
    pub max_in_flight: usize,
    /// Requests sent, warm-up included.
    pub total_ops: u64,
}

impl OpenRun {
    pub fn latency(&self) -> Latency {
        Latency::from_us(self.latencies_us.clone())
    }

    pub fn achieved_rate(&self) -> f64 {
        self.latencies_us.len() as f64 / self.window.as_secs_f64()
    }
}

/// Sends `op` at a constant `rate` per second for `warmup + window`; at most `cap` requests are
/// in flight (beyond that, sends are late and the lateness is counted in their latency).
pub async fn open_loop<F, Fut>(
    rate: f64,
    warmup: Duration,
    window: Duration,
    cap: usize,
    op: F,
) -> OpenRun
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let rate = rate.max(1.0);
    let interval = 1.0 / rate;
    let start = Instant::now() + Duration::from_millis(10);
    let warm_end = start + warmup;
    let end = warm_end + window;
    let results: Arc<Mutex<(Vec<i64>, Errors)>> = Arc::new(Mutex::new((Vec::new(), Errors::new())));
    let sem = Arc::new(Semaphore::new(cap));
    let mut set = JoinSet::new();
    let mut max_lag: i64 = 0;
    let mut max_in_flight = 0usize;
    let mut scheduled = 0u64;
    let mut total_ops = 0u64;
    for i in 0u64.. {
        let at = start + Duration::from_secs_f64(i as f64 * interval);
        if at >= end {
            break;
        }
        tokio::time::sleep_until(at.into()).await;
        let Ok(permit) = sem.clone().acquire_owned().await else {
            break;
        };
        max_in_flight = max_in_flight.max(cap - sem.available_permits());
        let lag = (Instant::now() - at).as_micros() as i64;
        let measured = at >= warm_end;
        if measured {
            max_lag = max_lag.max(lag);
            scheduled += 1;
        }
        total_ops += 1;
        let fut = op();
        let results = results.clone();
        set.spawn(async move {
            let r = fut.await;
            let done = Instant::now();
            drop(permit);
            if measured {
                let mut g = results.lock().unwrap_or_else(|p| p.into_inner());
                match r {
                    Ok(()) => g.0.push((done - at).as_micros() as i64),
                    Err(e) => *g.1.entry(e).or_default() += 1,
                }
            }
        });
        while set.try_join_next().is_some() {}
    }
    // Every request carries its own timeout; this only guards against the unexpected.
    let drained = tokio::time::timeout(REQUEST_TIMEOUT + Duration::from_secs(5), async {
        while set.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        let left = set.len() as u64;
        set.abort_all();
        let mut g = results.lock().unwrap_or_else(|p| p.into_inner());
        *g.1.entry("unfinished at the end".into()).or_default() += left;
    }
    let (latencies_us, errors) = {
        let mut g = results.lock().unwrap_or_else(|p| p.into_inner());
        (std::mem::take(&mut g.0), std::mem::take(&mut g.1))
    };
    OpenRun {
        rate,
        window,
        scheduled,
        latencies_us,
        errors,
        max_dispatch_lag_us: max_lag,
        max_in_flight,
        total_ops,
    }
}
