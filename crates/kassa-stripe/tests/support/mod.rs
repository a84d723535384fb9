//! One localstripe server per test binary, and the small servers the tests put around it.
//!
//! localstripe (`<repo>/.venv/bin/localstripe`, pinned in `tests/interop/requirements.txt`)
//! runs as a child process on a free port with `--from-scratch`. It is shared by the tests of
//! the binary, which stay independent because each uses its own attempt ids and objects. A
//! watchdog shell kills it when the test process ends (a static is never dropped). Without the
//! binary the tests print a skip message and pass, unless `KASSA_REQUIRE_INTEROP=1`.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kassa_core::card::{CardNumber, Expiry};
use kassa_core::ids::new_id;
use kassa_core::money::{Currency, Money};
use kassa_egress::{EgressClient, EgressPolicy};
use kassa_processor::{AuthorizeRequest, PaymentMethodInput};
use kassa_stripe::client::{Form, StripeClient};
use kassa_stripe::{Compat, StripeConfig, StripeProcessor};
use tokio::net::TcpListener;

pub const KEY: &str = "sk_test_kassa_interop";
pub const WEBHOOK_SECRET: &str = "whsec_kassa_interop";

#[allow(unused_imports)]
pub use kassa_stripe::testing::{lossy_proxy, server, Server};

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

/// Registers a webhook endpoint at localstripe, signed with [`WEBHOOK_SECRET`].
pub async fn register_webhook(server: &Server, id: &str, url: &str, events: &[&str]) {
    kassa_stripe::testing::register_webhook(server, id, url, WEBHOOK_SECRET, events).await
}
