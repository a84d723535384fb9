//! A localstripe server for tests (this crate's and the gateway's black-box tests): one per
//! test process, started on first use. Not used by Kassa itself.
//!
//! localstripe (`<repo>/.venv/bin/localstripe`, pinned in `tests/interop/requirements.txt`)
//! runs as a child process on a free loopback port with `--from-scratch`. Tests sharing it stay
//! independent because each uses its own ids and objects. A watchdog shell kills it when the
//! test process ends (a static is never dropped). Without the binary, [`server`] prints a skip
//! message and answers `None`, unless `KASSA_REQUIRE_INTEROP=1`, when it panics.

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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

/// Registers a webhook endpoint at localstripe (its own `_config` API, not Stripe's): every
/// event of `events` is POSTed to `url`, signed with `secret`, about a second later.
pub async fn register_webhook(server: &Server, id: &str, url: &str, secret: &str, events: &[&str]) {
    let mut form: Vec<(&str, &str)> = vec![("url", url), ("secret", secret)];
    for e in events {
        form.push(("events[]", e));
    }
    let resp = reqwest::Client::new()
        .post(format!("http://{}/_config/webhooks/{id}", server.addr))
        .form(&form)
        .send()
        .await
        .expect("localstripe answers");
    assert!(resp.status().is_success(), "{}", resp.status());
}
