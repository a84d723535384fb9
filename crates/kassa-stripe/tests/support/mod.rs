//! One localstripe server per test binary, and the small servers the tests put around it.
//!
//! localstripe (`<repo>/.venv/bin/localstripe`, pinned in `tests/interop/requirements.txt`)
//! runs as a child process on a free port with `--from-scratch`. It is shared by the tests of
//! the binary, which stay independent because each uses its own attempt ids and objects. A
//! watchdog shell kills it when the test process ends (a static is never dropped). Without the
//! binary the tests print a skip message and pass, unless `KASSA_REQUIRE_INTEROP=1`.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use kassa_core::card::{CardNumber, Expiry};
use kassa_core::ids::new_id;
use kassa_core::money::{Currency, Money};
use kassa_egress::{EgressClient, EgressPolicy};
use kassa_processor::{AuthorizeRequest, PaymentMethodInput};
use kassa_stripe::client::{Form, StripeClient};
use kassa_stripe::{Compat, StripeConfig, StripeProcessor};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const KEY: &str = "sk_test_kassa_interop";
pub const WEBHOOK_SECRET: &str = "whsec_kassa_interop";

pub struct Server {
    pub addr: SocketAddr,
    _child: Mutex<Child>,
}

fn localstripe_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/localstripe")
}

fn start() -> Option<Server> {
    let bin = localstripe_bin();
    if !bin.exists() {
        if std::env::var("KASSA_REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!(
                "KASSA_REQUIRE_INTEROP=1 but {} is missing: python3 -m venv .venv && \
                 .venv/bin/pip install -r tests/interop/requirements.txt",
                bin.display()
            );
        }
        eprintln!(
            "SKIP: {} not found; the localstripe interop tests need the venv of tests/interop",
            bin.display()
        );
        return None;
    }
    let port = StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    // The watchdog ends localstripe once this process is gone.
    let script = r#"parent=$1; shift; "$@" & child=$!
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.2; done
kill "$child" 2>/dev/null; wait "$child" 2>/dev/null"#;
    let child = Command::new("sh")
        .args(["-c", script, "watchdog"])
        .arg(std::process::id().to_string())
        .arg(&bin)
        .args(["--port", &port.to_string(), "--from-scratch"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start localstripe");
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(30);
    while StdStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "localstripe did not start on {addr}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(Server {
        addr,
        _child: Mutex::new(child),
    })
}

/// The shared server, or `None` (after a skip message) when localstripe is not installed.
pub fn server() -> Option<&'static Server> {
    static SERVER: OnceLock<Option<Server>> = OnceLock::new();
    SERVER.get_or_init(start).as_ref()
}

pub fn egress() -> EgressClient {
    // localstripe listens on loopback, which only the development policy reaches.
    EgressClient::new(
        EgressPolicy::with_loopback(),
        Duration::from_secs(10),
        "kassa-test",
    )
    .unwrap()
}

pub fn config(base: SocketAddr, timeout: Duration) -> StripeConfig {
    StripeConfig {
        base_url: format!("http://{base}"),
        compat: Compat::Localstripe,
        timeout,
        ..StripeConfig::default()
    }
}

pub fn processor_at(base: SocketAddr, timeout: Duration) -> StripeProcessor {
    StripeProcessor::new(
        egress(),
        config(base, timeout),
        KEY,
        Some(WEBHOOK_SECRET),
        false,
    )
}

pub fn processor(server: &Server) -> StripeProcessor {
    processor_at(server.addr, Duration::from_secs(10))
}

/// A raw client for reading what localstripe holds.
pub fn raw(server: &Server) -> StripeClient {
    StripeClient::new(
        egress(),
        &format!("http://{}", server.addr),
        KEY,
        Duration::from_secs(10),
    )
}

pub async fn get(server: &Server, path: &str) -> serde_json::Value {
    raw(server).get(path, &Form::new()).await.unwrap()
}

pub fn usd(amount: i64) -> Money {
    Money::new(amount, Currency::parse("usd").unwrap()).unwrap()
}

pub fn card(number: &str) -> PaymentMethodInput {
    PaymentMethodInput::Card {
        number: CardNumber::parse(number).unwrap(),
        expiry: Expiry {
            month: 12,
            year: 2034,
        },
        cvc: "123".into(),
        holder_name: Some("Ada Lovelace".into()),
    }
}

pub fn attempt() -> String {
    new_id("pa")
}

pub fn request<'a>(
    attempt_id: &'a str,
    method: &'a PaymentMethodInput,
    amount: i64,
    capture: bool,
) -> AuthorizeRequest<'a> {
    AuthorizeRequest {
        attempt_id,
        amount: usd(amount),
        method,
        capture,
        three_d_secure: false,
        save_method: false,
        fingerprint_key: b"interop",
        now_year: 2026,
        now_month: 1,
    }
}

/// A TCP proxy to `upstream` that passes every exchange through, except that once a request
/// line starting with `swallow` goes up, nothing more comes back on that connection: the
/// request reaches localstripe, which acts on it, and the answer is lost.
pub async fn lossy_proxy(upstream: SocketAddr, swallow: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(relay(client, upstream, swallow));
        }
    });
    addr
}

async fn relay(client: TcpStream, upstream: SocketAddr, swallow: &'static str) {
    let Ok(up) = TcpStream::connect(upstream).await else {
        return;
    };
    let lost = Arc::new(AtomicBool::new(false));
    let (mut client_read, mut client_write) = client.into_split();
    let (mut up_read, mut up_write) = up.into_split();
    let lost_up = lost.clone();
    let upward = async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = client_read.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if buf[..n].starts_with(swallow.as_bytes()) {
                lost_up.store(true, Ordering::SeqCst);
            }
            if up_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let downward = async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = up_read.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if !lost.load(Ordering::SeqCst) && client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        // Keep the client's side open: it must time out, not see a closed connection.
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = upward => {}
        _ = downward => {}
    }
}

/// What the webhook receiver got: the headers and the raw body of each request.
pub type Received = Arc<Mutex<Vec<(http::HeaderMap, Vec<u8>)>>>;

/// A receiver for localstripe's webhooks on a free loopback port; answers 200 to every POST.
pub async fn webhook_receiver() -> (SocketAddr, Received) {
    let received: Received = Arc::default();
    let store = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: http::HeaderMap, body: axum::body::Bytes| async move {
                store.lock().unwrap().push((headers, body.to_vec()));
                "ok"
            },
        ),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, received)
}

/// Registers a webhook endpoint at localstripe (its `_config` API, not Stripe's).
pub async fn register_webhook(server: &Server, id: &str, url: &str, events: &[&str]) {
    let mut form = Form::new().set("url", url).set("secret", WEBHOOK_SECRET);
    for e in events {
        form = form.set("events[]", *e);
    }
    let resp = raw(server)
        .post::<serde_json::Value>(&format!("/_config/webhooks/{id}"), &form, None)
        .await;
    // localstripe answers 200 with an empty body, which is not JSON.
    assert!(
        matches!(resp, Err(kassa_stripe::client::CallError::Malformed(_))) || resp.is_ok(),
        "{resp:?}"
    );
}
