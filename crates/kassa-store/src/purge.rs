//! Deleting a merchant's test data (Stripe's "delete all test data"): every test-mode payment
//! and what hangs off it, events and their deliveries, customers, saved methods, subscriptions,
//! invoices, test clocks, idempotency keys, and the face objects of test mode (Paymentwall's
//! orders, subscriptions and delivery confirmations; the orders, intentions, transactions, saved
//! cards and subscriptions of the merchant's test Paymob profiles).
//!
//! What stays is configuration and everything live: the merchant, its API keys, webhook
//! endpoints, Paymentwall projects, Paymob profiles, integrations and plans, brandings and
//! logos, processor accounts, and every live-mode row. Another merchant's rows are never named.
//!
//! It is one transaction of set-based statements (`DELETE … WHERE … IN (SELECT …)`), children
//! before their parents so the foreign keys hold on both backends. A child is chosen through its
//! parent (a delivery through its event, an attempt or refund through its payment), so nothing
//! left behind can point at a deleted row; a child's mode is its parent's by construction.
//!
//! Work in flight tolerates the rows vanishing: a delivery worker that loses its delivery finds
//! its lease gone (`record_attempt` answers false), and a scheduler step on a deleted
//! subscription finds nothing to claim or fails its version check and writes nothing. On
//! PostgreSQL the parents are locked first (`FOR UPDATE`), so a worker recording an attempt on a
//! delivery being deleted waits for this transaction and then finds the row gone, instead of
//! adding a child that would fail the delete; background claims skip the locked rows.

use crate::{Backend, Result, Tx};

/// The merchant's test payments (`$1` is the merchant id throughout).
const TEST_INTENTS: &str = "SELECT id FROM payment_intents WHERE merchant_id = $1 AND livemode = 0";
/// The merchant's test events.
const TEST_EVENTS: &str = "SELECT id FROM events WHERE merchant_id = $1 AND livemode = 0";
/// The merchant's Paymentwall projects (each has a test and a live key pair).
const PW_PROJECTS: &str = "SELECT id FROM pw_projects WHERE merchant_id = $1";
/// References of live Paymentwall payments: their delivery confirmations are live data.
const LIVE_PW_REFS: &str = "SELECT ref FROM pw_orders WHERE livemode = 1 AND ref IS NOT NULL";
/// The merchant's test Paymob profiles (a live profile's objects are live data).
const TEST_PM_PROFILES: &str = "SELECT id FROM pm_profiles WHERE merchant_id = $1 AND live = 0";

/// How many rows of each kind a purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PurgeCounts {
    pub payment_intents: u64,
    pub payment_attempts: u64,
    pub refunds: u64,
    pub events: u64,
    pub deliveries: u64,
    pub delivery_attempts: u64,
    pub customers: u64,
    pub payment_methods: u64,
    pub subscriptions: u64,
    pub invoices: u64,
    pub test_clocks: u64,
    pub idempotency_keys: u64,
    pub pw_orders: u64,
    pub pw_subscriptions: u64,
    pub pw_delivery_confirmations: u64,
    pub pm_orders: u64,
    pub pm_intentions: u64,
    pub pm_transactions: u64,
    pub pm_card_tokens: u64,
    pub pm_subscriptions: u64,
}

impl PurgeCounts {
    /// Each kind (its table's name) and how many were deleted, core kinds first.
    pub fn entries(&self) -> [(&'static str, u64); 20] {
        [
            ("payment_intents", self.payment_intents),
            ("payment_attempts", self.payment_attempts),
            ("refunds", self.refunds),
            ("events", self.events),
            ("deliveries", self.deliveries),
            ("delivery_attempts", self.delivery_attempts),
            ("customers", self.customers),
            ("payment_methods", self.payment_methods),
            ("subscriptions", self.subscriptions),
            ("invoices", self.invoices),
            ("test_clocks", self.test_clocks),
            ("idempotency_keys", self.idempotency_keys),
            ("pw_orders", self.pw_orders),
            ("pw_subscriptions", self.pw_subscriptions),
            ("pw_delivery_confirmations", self.pw_delivery_confirmations),
            ("pm_orders", self.pm_orders),
            ("pm_intentions", self.pm_intentions),
            ("pm_transactions", self.pm_transactions),
            ("pm_card_tokens", self.pm_card_tokens),
            ("pm_subscriptions", self.pm_subscriptions),
        ]
    }

    /// Rows deleted in all.
    pub fn total(&self) -> u64 {
        self.entries().iter().map(|(_, n)| n).sum()
    }

    fn slot(&mut self, table: &str) -> &mut u64 {
        match table {
            "payment_intents" => &mut self.payment_intents,
            "payment_attempts" => &mut self.payment_attempts,
            "refunds" => &mut self.refunds,
            "events" => &mut self.events,
            "deliveries" => &mut self.deliveries,
            "delivery_attempts" => &mut self.delivery_attempts,
            "customers" => &mut self.customers,
            "payment_methods" => &mut self.payment_methods,
            "subscriptions" => &mut self.subscriptions,
            "invoices" => &mut self.invoices,
            "test_clocks" => &mut self.test_clocks,
            "idempotency_keys" => &mut self.idempotency_keys,
            "pw_orders" => &mut self.pw_orders,
            "pw_subscriptions" => &mut self.pw_subscriptions,
            "pw_delivery_confirmations" => &mut self.pw_delivery_confirmations,
            "pm_orders" => &mut self.pm_orders,
            "pm_intentions" => &mut self.pm_intentions,
            "pm_transactions" => &mut self.pm_transactions,
            "pm_card_tokens" => &mut self.pm_card_tokens,
            "pm_subscriptions" => &mut self.pm_subscriptions,
            other => unreachable!("no purge count for table {other}"),
        }
    }
}

/// The rows to delete: table and condition, children before their parents.
fn steps() -> Vec<(&'static str, String)> {
    let deliveries = format!("SELECT id FROM deliveries WHERE event_id IN ({TEST_EVENTS})");
    let pw_orders = format!("SELECT id FROM pw_orders WHERE payment_intent_id IN ({TEST_INTENTS})");
    let pm_orders = format!("SELECT id FROM pm_orders WHERE profile_id IN ({TEST_PM_PROFILES})");
    let test = "merchant_id = $1 AND livemode = 0".to_string();
    vec![
        // Events and their deliveries (webhooks, pingbacks, callbacks).
        (
            "delivery_attempts",
            format!("delivery_id IN ({deliveries})"),
        ),
        ("deliveries", format!("event_id IN ({TEST_EVENTS})")),
        ("events", test.clone()),
        // Paymentwall: an order is test data when its payment is.
        (
            "pw_delivery_confirmations",
            format!("project_id IN ({PW_PROJECTS}) AND payment_ref NOT IN ({LIVE_PW_REFS})"),
        ),
        (
            "pw_subscriptions",
            format!("initial_order_id IN ({pw_orders})"),
        ),
        (
            "pw_orders",
            format!("payment_intent_id IN ({TEST_INTENTS})"),
        ),
        // Paymob: everything of a test profile but its integrations and plans.
        ("pm_transactions", format!("order_id IN ({pm_orders})")),
        ("pm_intentions", format!("order_id IN ({pm_orders})")),
        (
            "pm_card_tokens",
            format!("profile_id IN ({TEST_PM_PROFILES})"),
        ),
        (
            "pm_subscriptions",
            format!("profile_id IN ({TEST_PM_PROFILES})"),
        ),
        ("pm_orders", format!("profile_id IN ({TEST_PM_PROFILES})")),
        // Payments.
        ("refunds", format!("payment_intent_id IN ({TEST_INTENTS})")),
        (
            "payment_attempts",
            format!("payment_intent_id IN ({TEST_INTENTS})"),
        ),
        ("payment_intents", test.clone()),
        // Billing and customers (no foreign keys between them).
        ("invoices", test.clone()),
        ("subscriptions", test.clone()),
        ("payment_methods", test.clone()),
        ("customers", test.clone()),
        ("test_clocks", test.clone()),
        ("idempotency_keys", test),
    ]
}

/// The parents whose children concurrent work may add (attempts of a delivery, deliveries of an
/// event, a payment's attempts and refunds, an order's transactions or subscription): locked
/// first on PostgreSQL.
fn parents() -> Vec<(&'static str, String)> {
    let test = "merchant_id = $1 AND livemode = 0".to_string();
    vec![
        ("deliveries", format!("event_id IN ({TEST_EVENTS})")),
        ("events", test.clone()),
        (
            "pw_orders",
            format!("payment_intent_id IN ({TEST_INTENTS})"),
        ),
        ("pm_orders", format!("profile_id IN ({TEST_PM_PROFILES})")),
        ("payment_intents", test),
    ]
}

impl Tx {
    /// Deletes the merchant's test data (see the module documentation) and returns how many
    /// rows of each kind went. Live data, configuration and other merchants stay. Running it
    /// again deletes nothing more (unless test data was made in between).
    pub async fn purge_test_data(&mut self, merchant_id: &str) -> Result<PurgeCounts> {
        if self.backend == Backend::Postgres {
            for (table, cond) in parents() {
                sqlx::query(&format!(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {cond} FOR UPDATE) locked"
                ))
                .bind(merchant_id)
                .execute(&mut *self.tx)
                .await?;
            }
        }
        let mut counts = PurgeCounts::default();
        for (table, cond) in steps() {
            let n = sqlx::query(&format!("DELETE FROM {table} WHERE {cond}"))
                .bind(merchant_id)
                .execute(&mut *self.tx)
                .await?
                .rows_affected();
            *counts.slot(table) += n;
        }
        Ok(counts)
    }
}
