//! Store conformance tests: the same assertions on SQLite and on PostgreSQL (when
//! `KASSA_TEST_POSTGRES_URL` names a server; each test makes its own database).

use kassa_core::events::{Event, EventType};
use kassa_core::intent::{CaptureMethod, IntentStatus, Metadata, PaymentIntent};
use kassa_core::money::Currency;
use kassa_core::payment_method::SetupFutureUsage;

use super::*;

mod accounts;
mod billing;
mod customers;
mod dashboard_payments;
mod deliveries;
mod delivery_log;
mod migrations;
mod modes;
mod payment_methods;
mod payments;
mod paymentwall;
mod paymentwall_subscriptions;
mod paymob;
mod paymob_billing;
mod processor_accounts;
mod purge;
mod refunds;
mod webhooks;

async fn stores() -> Vec<(Store, Option<(String, String)>, Option<tempfile::TempDir>)> {
    stores_at(true).await
}

/// A fresh SQLite store and, when a PostgreSQL server is named, a fresh PostgreSQL one;
/// migrated to the newest schema when `migrate`, else empty.
async fn stores_at(
    migrate: bool,
) -> Vec<(Store, Option<(String, String)>, Option<tempfile::TempDir>)> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let s = Store::connect(&format!("sqlite://{}/t.db", dir.path().display()), 4)
        .await
        .unwrap();
    if migrate {
        s.migrate().await.unwrap();
    }
    out.push((s, None, Some(dir)));
    if let Ok(admin) = std::env::var("KASSA_TEST_POSTGRES_URL") {
        sqlx::any::install_default_drivers();
        let name = format!(
            "kassa_s_{}",
            kassa_core::ids::random_token(12).to_lowercase()
        );
        let admin_pool = sqlx::AnyPool::connect(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin_pool)
            .await
            .unwrap();
        admin_pool.close().await;
        let base = admin.rsplit_once('/').unwrap().0;
        let s = Store::connect(&format!("{base}/{name}"), 4).await.unwrap();
        if migrate {
            s.migrate().await.unwrap();
        }
        out.push((s, Some((admin, name)), None));
    }
    out
}

async fn cleanup(s: Store, pg: Option<(String, String)>) {
    s.close().await;
    if let Some((admin, name)) = pg {
        let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&pool)
            .await;
        pool.close().await;
    }
}

async fn merchant_and_paid_intent(s: &Store, amount: i64) -> PaymentIntent {
    let m = Merchant {
        id: kassa_core::ids::new_id("acct"),
        name: "m".into(),
        created_at: 1,
    };
    let pi = PaymentIntent {
        id: kassa_core::ids::new_id("pi"),
        merchant_id: m.id.clone(),
        livemode: false,
        amount,
        currency: Currency::parse("usd").unwrap(),
        status: IntentStatus::Succeeded,
        capture_method: CaptureMethod::Automatic,
        amount_capturable: 0,
        amount_received: amount,
        amount_refunded: 0,
        description: None,
        metadata: Metadata::new(),
        return_url: None,
        receipt_email: None,
        client_secret: "s".into(),
        checkout_token: kassa_core::ids::new_id("cs"),
        last_payment_error: None,
        payment_method: None,
        next_action: None,
        processor_ref: Some("sbx_x".into()),
        processor_account: None,
        canceled_at: None,
        cancellation_reason: None,
        capture_window_ms: kassa_core::intent::DEFAULT_CAPTURE_WINDOW_MS,
        capture_before: None,
        review_delay_ms: kassa_core::intent::DEFAULT_REVIEW_DELAY_MS,
        review_at: None,
        voucher_window_ms: kassa_core::intent::DEFAULT_VOUCHER_WINDOW_MS,
        order_key: None,
        pay_before: None,
        customer: Some("cus_a".into()),
        setup_future_usage: Some(SetupFutureUsage::OffSession),
        created: 1,
        updated: 1,
        version: 0,
    };
    let mut tx = s.begin().await.unwrap();
    tx.insert_merchant(&m).await.unwrap();
    tx.insert_intent(&pi).await.unwrap();
    tx.commit().await.unwrap();
    pi
}

/// A new merchant named `name`; its test-mode scope (`.merchant_id` is its id).
async fn new_merchant(s: &Store, name: &str) -> Scope {
    let m = Merchant {
        id: kassa_core::ids::new_id("acct"),
        name: name.into(),
        created_at: 1,
    };
    let mut tx = s.begin().await.unwrap();
    tx.insert_merchant(&m).await.unwrap();
    tx.commit().await.unwrap();
    Scope::test(m.id)
}

/// An intent in `scope` waiting for a payment method, created at `created`; every optional
/// field empty.
fn new_intent(scope: &Scope, id: &str, created: i64) -> PaymentIntent {
    PaymentIntent {
        id: id.into(),
        merchant_id: scope.merchant_id.clone(),
        livemode: scope.livemode,
        amount: 1_000,
        currency: Currency::parse("usd").unwrap(),
        status: IntentStatus::RequiresPaymentMethod,
        capture_method: CaptureMethod::Automatic,
        amount_capturable: 0,
        amount_received: 0,
        amount_refunded: 0,
        description: None,
        metadata: Metadata::new(),
        return_url: None,
        receipt_email: None,
        client_secret: format!("{id}_secret"),
        checkout_token: kassa_core::ids::new_id("cs"),
        last_payment_error: None,
        payment_method: None,
        next_action: None,
        processor_ref: None,
        processor_account: None,
        canceled_at: None,
        cancellation_reason: None,
        capture_window_ms: kassa_core::intent::DEFAULT_CAPTURE_WINDOW_MS,
        capture_before: None,
        review_delay_ms: kassa_core::intent::DEFAULT_REVIEW_DELAY_MS,
        review_at: None,
        voucher_window_ms: kassa_core::intent::DEFAULT_VOUCHER_WINDOW_MS,
        order_key: None,
        pay_before: None,
        customer: None,
        setup_future_usage: None,
        created,
        updated: created,
        version: 0,
    }
}

/// Writes `intents` in one transaction.
async fn insert_intents(s: &Store, intents: &[&PaymentIntent]) {
    let mut tx = s.begin().await.unwrap();
    for pi in intents {
        tx.insert_intent(pi).await.unwrap();
    }
    tx.commit().await.unwrap();
}

/// An event in `scope`.
fn new_event(scope: &Scope, event_type: EventType, created: i64) -> Event {
    Event {
        id: kassa_core::ids::new_id("evt"),
        merchant_id: scope.merchant_id.clone(),
        livemode: scope.livemode,
        event_type,
        object: serde_json::json!({"id": "obj", "n": created}),
        created,
    }
}
