//! What an internet-facing Kassa guarantees beyond the payment rules: secrets never stored in
//! plain text through idempotent replays, idle and slow connections closed, 503 + Retry-After
//! (never 500) while the database is unavailable, rate limits, the webhook endpoint cap, the
//! production profile's rules, private database files and no card number in an error.

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::{fresh_database, test_config, Db, TestApp};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

for_both_databases!(
    secrets_are_never_stored_in_plain_text_by_idempotent_replays,
    idle_and_slow_connections_are_closed_while_healthz_answers,
    an_unavailable_database_answers_503_with_retry_after,
    rate_limits_answer_429_with_retry_after,
    webhook_endpoints_are_capped_per_merchant,
    production_hides_metrics_and_marks_transport_security,
);

/// Every text a create/rotate call returned as a secret, searched for in the whole database.
async fn database_text(app: &TestApp) -> String {
    match app.db {
        Db::Sqlite => {
            let path = app.database_url.trim_start_matches("sqlite://").to_string();
            let mut all = Vec::new();
            for suffix in ["", "-wal"] {
                if let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) {
                    all.extend(bytes);
                }
            }
            String::from_utf8_lossy(&all).into_owned()
        }
        Db::Postgres => {
            sqlx::any::install_default_drivers();
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.database_url)
                .await
                .unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = 'public'",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            let mut out = String::new();
            for t in tables {
                let rows: Vec<String> =
                    sqlx::query_scalar(&format!("SELECT CAST(t AS TEXT) FROM \"{t}\" t"))
                        .fetch_all(&mut conn)
                        .await
                        .unwrap();
                for r in rows {
                    out.push_str(&r);
                    out.push('\n');
                }
            }
            out
        }
    }
}

async fn secrets_are_never_stored_in_plain_text_by_idempotent_replays(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let rx = common::Receiver::start().await;
    let mut secrets: Vec<String> = Vec::new();
    let mut calls: Vec<(String, Value, &str, Vec<&str>)> = vec![
        (
            "/v1/webhook_endpoints".into(),
            json!({"url": rx.url, "enabled_events": ["*"]}),
            "idem-endpoint",
            vec!["secret"],
        ),
        (
            "/v1/paymentwall/projects".into(),
            json!({"name": "Game", "api_type": "digital_goods"}),
            "idem-project",
            vec!["secret_key"],
        ),
        (
            "/v1/paymob/profiles".into(),
            json!({"name": "Nile Shop"}),
            "idem-profile",
            vec!["secret_key", "api_key", "hmac_secret"],
        ),
    ];
    let mut first: Vec<Value> = Vec::new();
    for (path, body, key, fields) in &calls {
        let (s, v) = app.post_as(&app.sk, path, body.clone(), Some(key)).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        for f in fields {
            let secret = v[*f].as_str().unwrap_or_else(|| panic!("{path} {f}: {v}"));
            assert!(secret.len() >= 16);
            secrets.push(secret.to_string());
        }
        first.push(v);
    }
    // Rotating the endpoint's secret under a key shows the new secret once too.
    let ep = first[0]["id"].as_str().unwrap().to_string();
    calls.push((
        format!("/v1/webhook_endpoints/{ep}/rotate_secret"),
        json!({}),
        "idem-rotate",
        vec!["secret"],
    ));
    let (path, body, key, _) = calls.last().unwrap();
    let (s, v) = app.post_as(&app.sk, path, body.clone(), Some(key)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    secrets.push(v["secret"].as_str().unwrap().to_string());
    first.push(v);

    let text = database_text(&app).await;
    assert!(
        text.contains("idem-endpoint"),
        "the grep sees the idempotency table"
    );
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret is stored in plain text: {secret}"
        );
    }
    // The replays still answer exactly what was answered first.
    for ((path, body, key, _), original) in calls.iter().zip(&first) {
        let resp = app
            .http
            .post(app.url(path))
            .bearer_auth(&app.sk)
            .header("Idempotency-Key", *key)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["idempotent-replayed"], "true", "{path}");
        let replay: Value = resp.json().await.unwrap();
        assert_eq!(&replay, original, "{path}");
    }
    app.stop().await;
}

async fn idle_and_slow_connections_are_closed_while_healthz_answers(db: Db) {
    let Some(app) = TestApp::spawn_with(db, |cfg| {
        cfg.http.idle_timeout_secs = 2;
        cfg.http.header_read_timeout_secs = 1;
    })
    .await
    else {
        return;
    };
    let addr = app.base.trim_start_matches("http://").to_string();
    let started = Instant::now();
    let mut idle = Vec::new();
    for _ in 0..40 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    let mut slow = Vec::new();
    for _ in 0..10 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: kassa\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(s);
    }
    // A kept-alive connection after one answered request is idle too.
    let mut kept = TcpStream::connect(&addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: kassa\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    // Meanwhile the server keeps answering.
    for _ in 0..5 {
        let r = app.http.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }

    async fn closed_within(s: &mut TcpStream, limit: Duration) -> Duration {
        let t = Instant::now();
        let mut buf = [0u8; 64];
        loop {
            match tokio::time::timeout(limit, s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return t.elapsed(),
                Ok(Ok(_)) => continue,
                Err(_) => panic!("the connection was still open after {limit:?}"),
            }
        }
    }
    for s in slow.iter_mut() {
        closed_within(s, Duration::from_secs(4)).await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "half-sent heads are cut after the header timeout (1 s)"
    );
    for s in idle.iter_mut() {
        closed_within(s, Duration::from_secs(5)).await;
    }
    closed_within(&mut kept, Duration::from_secs(5)).await;
    let all_closed = started.elapsed();
    assert!(
        all_closed >= Duration::from_secs(2) && all_closed < Duration::from_secs(6),
        "idle connections are closed after the idle timeout (2 s), took {all_closed:?}"
    );
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;
}

/// A TCP relay between Kassa and PostgreSQL that the test can cut (closing every relayed
/// connection and refusing new ones) and restore on the same port.
struct Relay {
    port: u16,
    target: String,
    stop: tokio_util::sync::CancellationToken,
}

impl Relay {
    async fn start(target: String, port: u16) -> Relay {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = tokio_util::sync::CancellationToken::new();
        let token = stop.clone();
        let to = target.clone();
        tokio::spawn(async move {
            loop {
                let (mut inbound, _) = tokio::select! {
                    _ = token.cancelled() => return,
                    a = listener.accept() => match a { Ok(a) => a, Err(_) => return },
                };
                let to = to.clone();
                let token = token.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&to).await else {
                        return;
                    };
                    tokio::select! {
                        _ = token.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    }
                });
            }
        });
        Relay { port, target, stop }
    }

    fn cut(&self) {
        self.stop.cancel();
    }
}

async fn an_unavailable_database_answers_503_with_retry_after(db: Db) {
    let Some((url, guard)) = fresh_database(db).await else {
        return;
    };
    // PostgreSQL goes through a relay the test cuts; SQLite is locked by another process's
    // exclusive transaction (its busy timeout passes).
    let (kassa_url, relay) = match db {
        Db::Postgres => {
            let rest = url.strip_prefix("postgres://").unwrap();
            let (auth_host, dbname) = rest.split_once('/').unwrap();
            let (auth, host) = auth_host.split_once('@').unwrap();
            let relay = Relay::start(host.to_string(), 0).await;
            (
                format!("postgres://{auth}@127.0.0.1:{}/{dbname}", relay.port),
                Some(relay),
            )
        }
        Db::Sqlite => (url.clone(), None),
    };
    let mut cfg = test_config(&kassa_url);
    cfg.database_acquire_timeout_secs = 1;
    let app = TestApp::start(db, cfg).await;
    app.create_intent(500, json!({})).await;
    // Warm the API key cache so authentication itself does not need the database.
    let (s, _) = app.get("/v1/payment_intents").await;
    assert_eq!(s, StatusCode::OK);

    let mut locker = None;
    let relay = match relay {
        Some(r) => {
            r.cut();
            Some(r)
        }
        None => {
            sqlx::any::install_default_drivers();
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            sqlx::query("BEGIN EXCLUSIVE")
                .execute(&mut conn)
                .await
                .unwrap();
            locker = Some(conn);
            None
        }
    };

    let resp = app
        .http
        .post(app.url("/v1/payment_intents"))
        .bearer_auth(&app.sk)
        .json(&json!({"amount": 700, "currency": "usd"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "2");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "api_error", "{body}");
    assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
    // The Paymob face answers in its own shape (on PostgreSQL, where its lookup fails too; a
    // locked SQLite file still serves reads).
    if db == Db::Postgres {
        let resp = app
            .http
            .post(app.url("/api/auth/tokens"))
            .json(&json!({"api_key": "ZXlKbm9wZQ=="}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 503);
        assert!(resp.headers().contains_key("retry-after"));
        let body: Value = resp.json().await.unwrap();
        assert!(
            body["detail"].as_str().unwrap().contains("unavailable"),
            "{body}"
        );
        let r = app.http.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(r.status(), 503);
    }

    // Back again: the refused create left nothing behind, new requests work.
    let _relay = match relay {
        Some(r) => Some(Relay::start(r.target.clone(), r.port).await),
        None => {
            let mut conn = locker.take().unwrap();
            sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
            None
        }
    };
    let mut ok = false;
    for _ in 0..50 {
        let (s, _) = app.get("/v1/payment_intents").await;
        if s == StatusCode::OK {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the server recovers when the database is back");
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (_, list) = app.get("/v1/payment_intents?limit=100").await;
    let amounts: Vec<i64> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, vec![500], "nothing half-written");
    app.create_intent(900, json!({})).await;
    app.stop().await;
    guard.drop_database().await;
}

async fn rate_limits_answer_429_with_retry_after(db: Db) {
    let Some(app) = TestApp::spawn_with(db, |cfg| {
        let rl = &mut cfg.rate_limit;
        (rl.api_key_per_sec, rl.api_key_burst) = (1, 5);
        (rl.public_ip_per_sec, rl.public_ip_burst) = (1, 3);
        (rl.credentials_ip_per_sec, rl.credentials_ip_burst) = (1, 2);
    })
    .await
    else {
        return;
    };
    for _ in 0..5 {
        let (s, v) = app.get("/v1/payment_intents").await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let resp = app
        .http
        .get(app.url("/v1/payment_intents"))
        .bearer_auth(&app.sk)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");
    // Another key has its own allowance.
    let other = app.other_merchant_key().await;
    let (s, _) = app.get_as(&other, "/v1/payment_intents").await;
    assert_eq!(s, StatusCode::OK);
    // After the wait the key works again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, _) = app.get("/v1/payment_intents").await;
    assert_eq!(s, StatusCode::OK);

    // Public pages: per client address.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = app
            .http
            .get(app.url("/checkout/nope"))
            .send()
            .await
            .unwrap();
        statuses.push((r.status().as_u16(), r.headers().contains_key("retry-after")));
    }
    assert_eq!(
        statuses,
        vec![(404, false), (404, false), (404, false), (429, true)]
    );
    // Credential endpoints are limited more tightly; Paymob's shape.
    let mut last = None;
    for _ in 0..3 {
        let r = app
            .http
            .post(app.url("/api/auth/tokens"))
            .json(&json!({"api_key": "ZXlKbm9wZQ=="}))
            .send()
            .await
            .unwrap();
        last = Some(r);
    }
    let r = last.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("throttled"),
        "{body}"
    );
    // Health checks are never limited.
    for _ in 0..10 {
        let r = app.http.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    app.stop().await;
}

async fn webhook_endpoints_are_capped_per_merchant(db: Db) {
    let Some(app) = TestApp::spawn_with(db, |cfg| cfg.max_webhook_endpoints = 2).await else {
        return;
    };
    let rx = common::Receiver::start().await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (s, v) = app
            .post(
                "/v1/webhook_endpoints",
                json!({"url": rx.url, "enabled_events": ["*"]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    let (s, v) = app
        .post(
            "/v1/webhook_endpoints",
            json!({"url": rx.url, "enabled_events": ["*"]}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_webhook_endpoints"));
    // Deleting one makes room.
    let r = app
        .http
        .delete(app.url(&format!("/v1/webhook_endpoints/{}", ids[0])))
        .bearer_auth(&app.sk)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (s, v) = app
        .post(
            "/v1/webhook_endpoints",
            json!({"url": rx.url, "enabled_events": ["*"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Another merchant has its own allowance.
    let other = app.other_merchant_key().await;
    let (s, v) = app
        .post_as(
            &other,
            "/v1/webhook_endpoints",
            json!({"url": rx.url, "enabled_events": ["*"]}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    app.stop().await;
}

async fn production_hides_metrics_and_marks_transport_security(db: Db) {
    let Some(app) = TestApp::spawn_production(db, |cfg| {
        cfg.base_url = Some("https://pay.example".into());
        cfg.ops_listen = Some("127.0.0.1:0".into());
    })
    .await
    else {
        return;
    };
    // /metrics is not on the public listener; the operations listener serves it.
    let r = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let ops = app.ops_base.clone().expect("ops listener");
    let r = app.http.get(format!("{ops}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("kassa_http_request_duration_seconds"));
    let r = app.http.get(format!("{ops}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // The operations listener serves nothing else.
    let r = app
        .http
        .get(format!("{ops}/v1/payment_intents"))
        .bearer_auth(&app.sk)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // HSTS behind an https base URL, and the checkout's cookie is Secure.
    let pi = app.create_intent(1200, json!({})).await;
    let checkout = pi["checkout_url"]
        .as_str()
        .unwrap()
        .replace("https://pay.example", &app.base);
    let r = app.http.get(&checkout).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    app.stop().await;

    // A metrics token opens /metrics on the public listener to its holder only.
    let Some(app) = TestApp::spawn_production(db, |cfg| {
        cfg.metrics_token = Some("metrics-token-0123456789".into());
    })
    .await
    else {
        return;
    };
    let r = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth("metrics-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // No HSTS over a plain-http base URL.
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert!(!r.headers().contains_key("strict-transport-security"));
    app.stop().await;
}

#[tokio::test]
async fn the_production_profile_refuses_a_demo_merchant_and_a_missing_master_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/kassa.db", dir.path().display());
    let mut cfg = test_config(&url);
    cfg.profile = kassa::config::Profile::Production;
    cfg.master_key = None;
    let err = kassa::App::build(cfg.clone()).await.err().unwrap();
    assert!(format!("{err:#}").contains("master key"), "{err:#}");
    // No demo merchant in production.
    cfg.master_key = Some(common::MASTER_KEY.into());
    let app = kassa::App::build(cfg).await.unwrap();
    assert!(app.demo.is_none());
}

#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_database_and_its_wal_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let Some(app) = TestApp::spawn(Db::Sqlite).await else {
        return;
    };
    app.create_intent(100, json!({})).await;
    let path = app.database_url.trim_start_matches("sqlite://").to_string();
    for suffix in ["", "-wal", "-shm"] {
        let meta = std::fs::metadata(format!("{path}{suffix}")).unwrap();
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "{path}{suffix} must be readable by the owner only"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_card_number_of_the_wrong_type_is_not_echoed_in_the_error() {
    let Some(app) = TestApp::spawn(Db::Sqlite).await else {
        return;
    };
    let pi = app.create_intent(1000, json!({})).await;
    let path = format!("/v1/payment_intents/{}/confirm", pi["id"].as_str().unwrap());
    for card in [
        json!({"number": 4242424242424242u64, "exp_month": 12, "exp_year": 2034, "cvc": "123"}),
        json!({"number": "4242424242424242", "exp_month": "12x", "exp_year": 2034, "cvc": 123}),
    ] {
        let (s, v) = app
            .post(
                &path,
                json!({"payment_method_data": {"type": "card", "card": card}}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        let text = v.to_string();
        assert!(!text.contains("4242424242424242"), "{text}");
        assert!(!text.contains("424242"), "{text}");
    }
    app.stop().await;
}
