//! Test kit: starts Kassa on a random port with a fresh database (SQLite file or a new
//! PostgreSQL database), and a webhook receiver that records what it gets.
#![allow(dead_code)]

pub mod dashboard;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use kassa::{App, Config};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

pub const MASTER_KEY: &str = "test-master-key-0123456789abcdef0123456789";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Runs `$scenario(app)` once on SQLite and once on PostgreSQL (when configured).
#[macro_export]
macro_rules! on_both {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::common::TestApp::spawn($crate::common::Db::Sqlite).await.unwrap();
                super::$scenario(&app).await;
                app.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::common::TestApp::spawn($crate::common::Db::Postgres).await {
                    super::$scenario(&app).await;
                    app.stop().await;
                }
            }
        }
    )*};
}

/// Runs `$scenario(db)` once with `Db::Sqlite` and once with `Db::Postgres`, for scenarios that
/// start their own servers (the scenario skips itself when PostgreSQL is not configured).
#[macro_export]
macro_rules! for_both_databases {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$scenario($crate::common::Db::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$scenario($crate::common::Db::Postgres).await;
            }
        }
    )*};
}

/// The PostgreSQL server to test against, from `KASSA_TEST_POSTGRES_URL`. Unset: PostgreSQL
/// variants are skipped (CI sets it, so there they always run).
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("KASSA_TEST_POSTGRES_URL")
        .ok()
        .filter(|v| !v.is_empty())
}

/// A fresh database URL of the given kind; the guard removes it.
pub async fn fresh_database(db: Db) -> Option<(String, DbGuard)> {
    match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}/kassa.db", dir.path().display());
            Some((url, DbGuard::Sqlite(dir)))
        }
        Db::Postgres => {
            let Some(admin) = postgres_admin_url() else {
                eprintln!("KASSA_TEST_POSTGRES_URL is not set: skipping the PostgreSQL variant");
                return None;
            };
            sqlx::any::install_default_drivers();
            let name = format!(
                "kassa_t_{}",
                kassa_core::ids::random_token(12).to_lowercase()
            );
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
                .await
                .expect("KASSA_TEST_POSTGRES_URL is set but PostgreSQL is unreachable");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .unwrap();
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
            Some((format!("{base}/{name}"), DbGuard::Postgres { admin, name }))
        }
    }
}

pub enum DbGuard {
    Sqlite(tempfile::TempDir),
    Postgres { admin: String, name: String },
}

impl DbGuard {
    pub async fn drop_database(self) {
        if let DbGuard::Postgres { admin, name } = self {
            if let Ok(mut conn) = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            }
        }
    }
}

pub fn test_config(database_url: &str) -> Config {
    let mut cfg = Config {
        listen: "127.0.0.1:0".into(),
        database_url: database_url.to_string(),
        master_key: Some(MASTER_KEY.into()),
        max_connections: 5,
        ..Config::default()
    };
    cfg.webhooks.retry_schedule = Some("200ms,300ms,400ms".into());
    cfg.webhooks.paymob_retry_schedule = Some("200ms,300ms,400ms".into());
    cfg.webhooks.jitter = false;
    cfg.webhooks.timeout_secs = 3;
    cfg.webhooks.poll_interval_ms = 50;
    cfg
}

pub struct TestApp {
    pub db: Db,
    pub base: String,
    /// The operations listener, when the configuration has one.
    pub ops_base: Option<String>,
    /// The dashboard's own listener, when the configuration has one.
    pub dashboard_base: Option<String>,
    pub database_url: String,
    pub http: reqwest::Client,
    pub merchant_id: String,
    pub sk: String,
    pub pk: String,
    /// The running server's services, for tests that stage what HTTP cannot (a crash).
    pub svc: std::sync::Arc<kassa::reexport::service::Services>,
    shutdown: CancellationToken,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
    guard: Option<DbGuard>,
}

impl TestApp {
    /// The demo merchant's test-mode scope (what its `sk_test_` key works in).
    #[allow(dead_code)]
    pub fn scope(&self) -> kassa::reexport::service::Scope {
        kassa::reexport::service::Scope::test(&self.merchant_id)
    }

    pub async fn spawn(db: Db) -> Option<TestApp> {
        let (url, guard) = fresh_database(db).await?;
        let mut app = TestApp::start(db, test_config(&url)).await;
        app.guard = Some(guard);
        Some(app)
    }

    /// A fresh database and a server in the `production` profile (no demo merchant: the test
    /// merchant is created through the services, as `kassa merchant create` does).
    pub async fn spawn_production(db: Db, edit: impl FnOnce(&mut Config)) -> Option<TestApp> {
        TestApp::spawn_with(db, |cfg| {
            cfg.profile = kassa::config::Profile::Production;
            edit(cfg);
        })
        .await
    }

    /// A fresh database and a server whose test configuration `edit` changed first.
    pub async fn spawn_with(db: Db, edit: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let (url, guard) = fresh_database(db).await?;
        let mut cfg = test_config(&url);
        edit(&mut cfg);
        let mut app = TestApp::start(db, cfg).await;
        app.guard = Some(guard);
        Some(app)
    }

    /// Starts a server with this configuration (several may share one database). Without a
    /// demo merchant (production profile), a merchant is created for the test.
    pub async fn start(db: Db, cfg: Config) -> TestApp {
        let database_url = cfg.database_url.clone();
        let app = App::build(cfg).await.expect("building the app");
        let svc = app.services();
        let demo = match app.demo.clone() {
            Some(d) => d,
            None => svc
                .create_merchant("Test Shop")
                .await
                .expect("creating the test merchant"),
        };
        let base = format!("http://{}", app.addr());
        let ops_base = app.ops_addr().map(|a| format!("http://{a}"));
        let dashboard_base = app.dashboard_addr().map(|a| format!("http://{a}"));
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        TestApp {
            db,
            base,
            ops_base,
            dashboard_base,
            database_url,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            merchant_id: demo.id,
            sk: demo.secret_key,
            pk: demo.publishable_key,
            svc,
            shutdown,
            handle,
            guard: None,
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(20), self.handle).await;
        if let Some(g) = self.guard {
            g.drop_database().await;
        }
    }

    /// Stops the server but keeps the database (for restart tests).
    pub async fn stop_keep_db(mut self) -> Option<DbGuard> {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(20), self.handle).await;
        self.guard.take()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.post_as(&self.sk, path, body, None).await
    }

    pub async fn post_as(
        &self,
        key: &str,
        path: &str,
        body: Value,
        idem: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.post(self.url(path)).bearer_auth(key).json(&body);
        if let Some(k) = idem {
            req = req.header("Idempotency-Key", k);
        }
        let resp = req.send().await.unwrap();
        let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.get_as(&self.sk, path).await
    }

    pub async fn get_as(&self, key: &str, path: &str) -> (StatusCode, Value) {
        let resp = self
            .http
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn create_intent(&self, amount: i64, extra: Value) -> Value {
        let mut body = json!({"amount": amount, "currency": "usd"});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let (status, pi) = self.post("/v1/payment_intents", body).await;
        assert_eq!(status, StatusCode::OK, "{pi}");
        pi
    }

    pub async fn paid_intent(&self, amount: i64) -> Value {
        let pi = self.create_intent(amount, json!({})).await;
        let (status, pi) = self
            .post(
                &format!("/v1/payment_intents/{}/confirm", pi["id"].as_str().unwrap()),
                json!({"payment_method": "pm_card_visa"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{pi}");
        assert_eq!(pi["status"], "succeeded");
        pi
    }

    /// Waits until this app's outbox is drained: no delivery due now, none being sent. See
    /// [`wait_drained`].
    pub async fn drained(&self) {
        wait_drained(&self.database_url).await
    }

    /// Waits until this app's outbox is settled: every delivery has succeeded or given up,
    /// retries scheduled for later included. See [`wait_settled`].
    pub async fn settled(&self) {
        wait_settled(&self.database_url).await
    }

    /// A second merchant on the same server, through the CLI's code path.
    pub async fn other_merchant_key(&self) -> String {
        let store = kassa_store_for(&self.database_url).await;
        let registry = prometheus_free_registry();
        let cfg = test_config(&self.database_url);
        let (svc, _) = kassa::services(&cfg, store.clone(), self.base.clone(), &registry).unwrap();
        let m = svc.create_merchant("Other Shop").await.unwrap();
        store.close().await;
        m.secret_key
    }
}

/// How long [`wait_drained`] and [`wait_settled`] wait before they fail the test: far longer
/// than any delivery takes on a loaded machine (the test configuration polls every 50 ms and
/// gives up on a request after 3 s).
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits until the outbox in the database at `database_url` is **drained**: no notification
/// (webhook, Paymentwall pingback, Paymob callback) is pending and due now, and none is
/// claimed by a worker (being sent, or sent and not yet recorded). Every attempt that was due
/// when this was called has then been made and recorded, so a test can assert what the
/// receiver got, and that nothing more arrived, right after it.
///
/// A claim left by a process that was killed counts as in flight until its lease (60 s by
/// default) runs out, longer than [`DRAIN_TIMEOUT`]: wait after a kill only once another
/// process could have taken the work over.
///
/// A delivery whose retry is scheduled for later does not count: it is not due. A test that
/// needs the retries too uses [`wait_settled`]. Work not yet in the outbox does not count
/// either: call this after the request (or service call) that queues the notifications has
/// answered; a background task (the scheduler, deadlines) that queues more later is not waited
/// for.
///
/// It reads the `deliveries` table directly, through its own connection: Kassa has no API
/// listing the outbox (only one event's deliveries, per merchant). It works for any process
/// on that database, a `kassa serve` child included. Panics after [`DRAIN_TIMEOUT`], listing
/// what is still due or claimed.
pub async fn wait_drained(database_url: &str) {
    wait_outbox(database_url, false).await
}

/// Waits until the outbox at `database_url` is **settled**: no delivery is pending at all,
/// retries scheduled for later included; every one has succeeded or given up. For tests about
/// the retry schedule (nothing after the success, nothing after giving up). Only for
/// deliveries whose retry schedule is short (the test configuration's webhook and Paymob
/// schedules are 200 ms, 300 ms, 400 ms; Paymentwall pingbacks retry every 30 minutes unless
/// the test configures them). Panics after [`DRAIN_TIMEOUT`].
pub async fn wait_settled(database_url: &str) {
    wait_outbox(database_url, true).await
}

async fn wait_outbox(database_url: &str, with_retries: bool) {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(database_url)
        .await
        .expect("connecting to the test's database to watch the outbox");
    let (what, sql) = if with_retries {
        (
            "settled (nothing pending)",
            "SELECT id, channel, attempt_count, next_attempt_at, lease_owner FROM deliveries \
             WHERE status = 'pending' ORDER BY id",
        )
    } else {
        (
            "drained (nothing due or being sent)",
            "SELECT id, channel, attempt_count, next_attempt_at, lease_owner FROM deliveries \
             WHERE status = 'pending' \
             AND (next_attempt_at <= $1 OR lease_owner IS NOT NULL) ORDER BY id",
        )
    };
    let deadline = std::time::Instant::now() + DRAIN_TIMEOUT;
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let query = sqlx::query(sql);
        let query = if with_retries { query } else { query.bind(now) };
        let rows = query
            .fetch_all(&mut conn)
            .await
            .expect("reading the outbox");
        if rows.is_empty() {
            let _ = sqlx::Connection::close(conn).await;
            return;
        }
        if std::time::Instant::now() >= deadline {
            let left: Vec<String> = rows
                .iter()
                .map(|r| {
                    let id: String = r.get(0);
                    let channel: String = r.get(1);
                    let attempts: i64 = r.get(2);
                    let due_in = r.get::<i64, _>(3) - now;
                    let lease: Option<String> = r.get(4);
                    format!(
                        "{id} ({channel}, {attempts} attempts, due in {due_in} ms, claimed by {})",
                        lease.as_deref().unwrap_or("nobody")
                    )
                })
                .collect();
            panic!(
                "the outbox was not {what} after {DRAIN_TIMEOUT:?}: {} deliveries left: {left:#?}",
                left.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn kassa_store_for(url: &str) -> kassa_store_reexport::Store {
    kassa_store_reexport::Store::connect(url, 2).await.unwrap()
}

fn prometheus_free_registry() -> prometheus_reexport::Registry {
    prometheus_reexport::Registry::new()
}

pub use kassa::reexport::prometheus as prometheus_reexport;
pub use kassa::reexport::store as kassa_store_reexport;

/// One request the receiver got, recorded when it arrived (before any delay it was told to
/// add).
#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, without the `?`; empty when there was none.
    pub query: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Received {
    /// The body as JSON; panics when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
    /// The body as JSON, or `null` when it is not JSON.
    pub fn json_or_null(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

/// What the receiver answers a request with.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn new(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// What the receiver was told to answer.
struct Script {
    /// The answer once the failures are used up.
    answer: Answer,
    /// How many of the next requests get `failure` instead.
    fail_next: usize,
    failure: Answer,
    /// How long to wait before answering (the request is recorded at once).
    delay: Duration,
}

/// The one test receiver for every notification Kassa sends (webhooks, Paymentwall pingbacks,
/// Paymob callbacks): an HTTP server on a random local port that records every request, on any
/// method and path (method, path, query, headers, body), and answers what it is told: `200
/// thanks` unless told otherwise ([`Receiver::respond`]), `500 not now` for the next N
/// ([`Receiver::fail_next`]), after a delay ([`Receiver::set_delay`]).
#[derive(Clone)]
pub struct Receiver {
    /// The URL to give Kassa: `/hook` on the receiver unless started with another path.
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Script>>,
}

impl Receiver {
    /// A receiver whose URL is `http://127.0.0.1:<port>/hook`.
    pub async fn start() -> Receiver {
        Self::start_on(0).await
    }

    /// A receiver on a known port (0: any free one).
    pub async fn start_on(port: u16) -> Receiver {
        Self::bind(port, "/hook").await
    }

    /// A receiver whose URL has this path (it records requests on every path all the same).
    pub async fn start_at(path: &str) -> Receiver {
        Self::bind(0, path).await
    }

    /// A Paymentwall pingback URL (`/pingback`): answers `200 OK`, the answer Paymentwall
    /// counts as delivered.
    pub async fn pingbacks() -> Receiver {
        let rx = Self::start_at("/pingback").await;
        rx.respond(200, "OK");
        rx
    }

    async fn bind(port: u16, path: &str) -> Receiver {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let url = format!("http://{}{path}", listener.local_addr().unwrap());
        let r = Receiver {
            url,
            got: Arc::default(),
            script: Arc::new(Mutex::new(Script {
                answer: Answer::new(200, "thanks"),
                fail_next: 0,
                failure: Answer::new(500, "not now"),
                delay: Duration::ZERO,
            })),
        };
        let state = r.clone();
        let router = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: axum::body::Bytes| {
                let state = state.clone();
                async move {
                    state.got.lock().unwrap().push(Received {
                        method,
                        path: uri.path().to_string(),
                        query: uri.query().unwrap_or_default().to_string(),
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    let (answer, delay) = {
                        let mut script = state.script.lock().unwrap();
                        let answer = if script.fail_next > 0 {
                            script.fail_next -= 1;
                            script.failure.clone()
                        } else {
                            script.answer.clone()
                        };
                        (answer, script.delay)
                    };
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let mut resp =
                        axum::response::Response::new(axum::body::Body::from(answer.body));
                    *resp.status_mut() = StatusCode::from_u16(answer.status).unwrap();
                    for (k, v) in answer.headers {
                        resp.headers_mut().append(
                            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                            axum::http::HeaderValue::from_str(&v).unwrap(),
                        );
                    }
                    resp
                }
            },
        );
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        r
    }

    /// Answer every request (after any failures still to come) with `status` and `body`.
    pub fn respond(&self, status: u16, body: &str) {
        self.respond_with(Answer::new(status, body));
    }

    pub fn respond_with(&self, answer: Answer) {
        self.script.lock().unwrap().answer = answer;
    }

    /// Answer the next `n` requests with `500 not now` (0: none).
    pub fn fail_next(&self, n: usize) {
        self.fail_next_with(n, Answer::new(500, "not now"));
    }

    /// Answer the next `n` requests with `failure`.
    pub fn fail_next_with(&self, n: usize, failure: Answer) {
        let mut script = self.script.lock().unwrap();
        script.fail_next = n;
        script.failure = failure;
    }

    /// Wait this long before answering each request (it is recorded when it arrives).
    pub fn set_delay(&self, d: Duration) {
        self.script.lock().unwrap().delay = d;
    }

    pub fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }

    /// Waits until `pred` holds over what was received (at most 10 s).
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        for _ in 0..200 {
            let got = self.all();
            if pred(&got) {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "timed out waiting for {what}; got {:?}",
            self.all()
                .iter()
                .map(|r| format!("{} {}?{} {}", r.method, r.path, r.query, r.body))
                .collect::<Vec<_>>()
        );
    }

    /// Waits until at least `n` requests arrived (at most 10 s); returns all of them.
    pub async fn wait_for_count(&self, n: usize) -> Vec<Received> {
        self.wait_for(&format!("{n} requests"), |g| g.len() >= n)
            .await
    }

    /// Waits until some request satisfies `pred` (at most 10 s); returns the first that does.
    pub async fn wait_for_one(&self, what: &str, pred: impl Fn(&Received) -> bool) -> Received {
        let got = self.wait_for(what, |g| g.iter().any(&pred)).await;
        got.into_iter().find(|r| pred(r)).unwrap()
    }

    pub fn of_type(&self, ty: &str) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|r| r.json()["type"] == ty)
            .collect()
    }
}

/// Reads the demo merchant's secret key from a `kassa serve` child's stdout, then keeps draining
/// stdout so the child never blocks on a full pipe.
pub fn read_secret_key(child: &mut std::process::Child) -> String {
    use std::io::BufRead;
    let out = child.stdout.take().expect("stdout is piped");
    let mut lines = std::io::BufReader::new(out).lines();
    let mut sk = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.trim().strip_prefix("secret key:") {
            sk = Some(rest.trim().to_string());
        }
        if line.starts_with("API reference") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    sk.expect("the server prints the demo merchant's secret key")
}

/// The value of the hidden (or any) form field `name` in a page; panics when there is none.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in page"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// The text directly inside the element with `id` (up to its first child tag), trimmed.
pub fn element_text(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\"");
    let at = html.find(&marker)?;
    let after = &html[at..];
    let start = after.find('>')? + 1;
    Some(after[start..].split('<').next()?.trim().to_string())
}
