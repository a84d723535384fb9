//! The operator interface: `kassa migrate`, `kassa merchant create --json`, live keys and
//! processor accounts (`kassa merchant keys`, `kassa processor add|list|remove`), and graceful
//! shutdown on SIGTERM that finishes a delivery in flight.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Db, Receiver};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_kassa");

fn kassa(args: &[&str], url: &str) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .args(["--database-url", url])
        .env("KASSA_MASTER_KEY", common::MASTER_KEY)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

async fn migrate_and_create_a_merchant_from_the_command_line(db: Db) {
    let Some((url, guard)) = common::fresh_database(db).await else {
        return;
    };
    let out = kassa(&["migrate"], &url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kassa(
        &["merchant", "create", "--name", "Book Nook", "--json"],
        &url,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(m["id"].as_str().unwrap().starts_with("acct_"));
    assert_eq!(m["name"], "Book Nook");
    let sk = m["secret_key"].as_str().unwrap().to_string();
    assert!(sk.starts_with("sk_test_"));
    assert!(m["publishable_key"]
        .as_str()
        .unwrap()
        .starts_with("pk_test_"));
    // The key works against a server on the same database, and sees only its own objects.
    let app = common::TestApp::start(db, common::test_config(&url)).await;
    let (s, pi) = app
        .post_as(
            &sk,
            "/v1/payment_intents",
            json!({"amount": 5, "currency": "jpy"}),
            None,
        )
        .await;
    assert_eq!(s.as_u16(), 200, "{pi}");
    let (_, mine) = app.get("/v1/payment_intents").await;
    assert!(mine["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["id"] != pi["id"]));
    app.stop().await;
    let out = kassa(&["merchant", "create", "--name", " ", "--json"], &url);
    assert!(!out.status.success(), "an empty name is refused");
    let out = Command::new(BIN)
        .args(["serve", "--database-url", "mysql://nope"])
        .env("KASSA_MASTER_KEY", common::MASTER_KEY)
        .output()
        .unwrap();
    assert!(!out.status.success());
    guard.drop_database().await;
}

/// SIGTERM while a delivery is in flight to a slow receiver: the process waits for it, records
/// it, and exits cleanly; nothing is sent again by the next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_delivery_in_flight_before_exiting() {
    let Some((url, guard)) = common::fresh_database(Db::Sqlite).await else {
        return;
    };
    let rx = Receiver::start().await;
    rx.set_delay(Duration::from_millis(1500));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &url,
        ])
        .env("KASSA_MASTER_KEY", common::MASTER_KEY)
        .env("KASSA_WEBHOOK_POLL_INTERVAL_MS", "50")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let sk = common::read_secret_key(&mut child);
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    http.post(format!("{base}/v1/webhook_endpoints"))
        .bearer_auth(&sk)
        .json(&json!({"url": rx.url, "enabled_events": ["payment_intent.created"]}))
        .send()
        .await
        .unwrap();
    http.post(format!("{base}/v1/payment_intents"))
        .bearer_auth(&sk)
        .json(&json!({"amount": 1, "currency": "usd"}))
        .send()
        .await
        .unwrap();
    // Once the worker has started the (slow) delivery, ask the process to stop.
    rx.wait_for("the delivery in flight", |got| !got.is_empty())
        .await;
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let started = std::time::Instant::now();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "clean exit: {status:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "it waited for the delivery"
    );
    assert_eq!(rx.all().len(), 1);
    // The attempt was recorded as a success: a new process sends nothing more.
    let app = common::TestApp::start(Db::Sqlite, common::test_config(&url)).await;
    app.settled().await;
    assert_eq!(rx.all().len(), 1, "not sent again after the restart");
    app.stop().await;
    guard.drop_database().await;
}

/// `kassa` in the production profile behind an https base URL, where live mode runs.
fn kassa_live(args: &[&str], url: &str, env: &[(&str, &str)]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .args(["--database-url", url, "--profile", "production"])
        .args(["--base-url", "https://pay.example"])
        .env("KASSA_MASTER_KEY", common::MASTER_KEY)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn ok_json(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn live_keys_and_processor_accounts_from_the_command_line(db: Db) {
    let Some((url, guard)) = common::fresh_database(db).await else {
        return;
    };
    let m = ok_json(&kassa_live(
        &["merchant", "create", "--name", "Live Shop", "--json"],
        &url,
        &[],
    ));
    let merchant = m["id"].as_str().unwrap();
    let keys = ok_json(&kassa_live(
        &[
            "merchant",
            "keys",
            "--merchant",
            merchant,
            "--mode",
            "live",
            "--json",
        ],
        &url,
        &[],
    ));
    assert_eq!(keys["mode"], "live");
    assert!(keys["secret_key"].as_str().unwrap().starts_with("sk_live_"));
    assert!(keys["publishable_key"]
        .as_str()
        .unwrap()
        .starts_with("pk_live_"));
    let out = kassa_live(
        &[
            "merchant",
            "keys",
            "--merchant",
            "acct_nope",
            "--mode",
            "live",
        ],
        &url,
        &[],
    );
    assert!(!out.status.success(), "an unknown merchant is refused");

    // The secret comes from the environment, not the command line.
    let a = ok_json(&kassa_live(
        &[
            "processor",
            "add",
            "--merchant",
            merchant,
            "--connector",
            "stripe",
            "--credential",
            "secret_key=env:STRIPE_SECRET_KEY",
            "--json",
        ],
        &url,
        &[("STRIPE_SECRET_KEY", "sk_live_cli_0123456789abcd")],
    ));
    assert_eq!(a["connector"], "stripe");
    assert_eq!(a["credentials"]["secret_key"], "sk_live_…abcd");
    let pa = a["id"].as_str().unwrap();
    let list = ok_json(&kassa_live(
        &["processor", "list", "--merchant", merchant],
        &url,
        &[],
    ));
    assert_eq!(list[0]["id"], pa);
    assert!(!list.to_string().contains("sk_live_cli_0123456789abcd"));
    // A test key for a live account is refused with the connector's reason.
    let out = kassa_live(
        &[
            "processor",
            "add",
            "--merchant",
            merchant,
            "--connector",
            "stripe",
            "--credential",
            "secret_key=sk_test_nope",
        ],
        &url,
        &[],
    );
    assert!(!out.status.success());
    let out = kassa_live(
        &["processor", "remove", "--merchant", merchant, "--id", pa],
        &url,
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = ok_json(&kassa_live(
        &["processor", "list", "--merchant", merchant],
        &url,
        &[],
    ));
    assert_eq!(list[0]["status"], "removed");
    // Outside production, live mode is off: no live account can be added.
    let out = kassa(
        &[
            "processor",
            "add",
            "--merchant",
            merchant,
            "--connector",
            "stripe",
            "--credential",
            "secret_key=sk_live_cli_0123456789abcd",
        ],
        &url,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Live mode is off"));
    guard.drop_database().await;
}

for_both_databases!(
    migrate_and_create_a_merchant_from_the_command_line,
    live_keys_and_processor_accounts_from_the_command_line,
);
