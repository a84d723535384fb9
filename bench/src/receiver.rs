//! The in-process webhook receiver: records when `payment_intent.succeeded` arrived for each
//! intent id and answers 200 at once.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[derive(Default)]
pub struct Hooks {
    /// First arrival per intent id.
    arrivals: Mutex<HashMap<String, Instant>>,
    pub total: AtomicU64,
    pub duplicates: AtomicU64,
    /// Deliveries that were not a well-formed `payment_intent.succeeded`.
    pub other: AtomicU64,
}

impl Hooks {
    pub fn arrival(&self, intent_id: &str) -> Option<Instant> {
        self.lock().get(intent_id).copied()
    }

    /// How many of `ids` have not arrived yet.
    pub fn missing<'a>(&self, ids: impl Iterator<Item = &'a str>) -> usize {
        let g = self.lock();
        ids.filter(|id| !g.contains_key(*id)).count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.arrivals.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn hook(State(hooks): State<Arc<Hooks>>, body: Bytes) -> StatusCode {
    let now = Instant::now();
    hooks.total.fetch_add(1, Ordering::Relaxed);
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let id = parsed.as_ref().and_then(|v| {
        if v["type"].as_str() == Some("payment_intent.succeeded") {
            v["data"]["object"]["id"].as_str().map(str::to_string)
        } else {
            None
        }
    });
    match id {
        Some(id) => match hooks.lock().entry(id) {
            Entry::Occupied(_) => {
                hooks.duplicates.fetch_add(1, Ordering::Relaxed);
            }
            Entry::Vacant(v) => {
                v.insert(now);
            }
        },
        None => {
            hooks.other.fetch_add(1, Ordering::Relaxed);
        }
    }
    StatusCode::OK
}

pub struct Receiver {
    pub hooks: Arc<Hooks>,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Listens on 127.0.0.1 on a free port.
    pub async fn start() -> anyhow::Result<Receiver> {
        let hooks = Arc::new(Hooks::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the webhook receiver")?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(hooks.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Receiver {
            hooks,
            addr,
            stop: Some(tx),
            task: Some(task),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take() {
            // Kassa is stopped before this, so no connection should linger; bound it anyway.
            if tokio::time::timeout(std::time::Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
