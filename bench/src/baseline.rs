//! The bare-database baseline: the same write Kassa does for "create an intent" (one row in
//! `payment_intents` and one in `events` with the intent's JSON, in one transaction), without
//! HTTP, authentication or JSON handling around it. The baseline database has Kassa's own schema:
//! `kassa-store` applies its migrations to it, as `kassa serve` does to the gateway's.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use kassa_core::intent::{
    DEFAULT_CAPTURE_WINDOW_MS, DEFAULT_REVIEW_DELAY_MS, DEFAULT_VOUCHER_WINDOW_MS,
};
use kassa_store::{now_ms, Merchant, Store};
use serde_json::{json, Value};
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

use crate::load::{closed_loop, error_total, open_loop, Errors};
use crate::server::token;
use crate::stats::Latency;

pub struct Baseline {
    pub method: String,
    pub tps: f64,
    /// The rate of each round (before and after the gateway phases); `tps` is their mean.
    pub rounds: Vec<f64>,
    pub latency: Option<Latency>,
    pub errors: Errors,
    /// The bare transaction in an open loop at the rate of Kassa's open-loop phase.
    pub open: Option<BaselineOpen>,
}

pub struct BaselineOpen {
    pub rate: f64,
    pub latency: Latency,
    pub errors: Errors,
}

impl Baseline {
    pub fn to_json(&self) -> Value {
        json!({
            "method": self.method,
            "tx_per_sec": crate::stats::round1(self.tps),
            "rounds_tx_per_sec": self.rounds.iter().map(|r| crate::stats::round1(*r)).collect::<Vec<_>>(),
            "latency": self.latency.as_ref().map(Latency::to_json),
            "errors": error_total(&self.errors),
            "error_kinds": self.errors,
            "open_loop_same_rate": self.open.as_ref().map(|o| json!({
                "rate_per_sec": crate::stats::round1(o.rate),
                "latency_from_scheduled_send": o.latency.to_json(),
                "errors": error_total(&o.errors),
            })),
        })
    }
}

const MERCHANT: &str = "acct_benchbaseline0000000000";

/// The columns `kassa-store` writes for a new intent, in its order. A plain create
/// (`{"amount":1000,"currency":"usd"}`) gives the last nine the values [`bare_tx`] binds: the
/// default windows and no deadlines, customer or order.
const PI_COLUMNS: &str = "id, merchant_id, amount, currency, status, capture_method, \
    amount_capturable, amount_received, amount_refunded, description, metadata, return_url, \
    receipt_email, client_secret, checkout_token, last_payment_error, payment_method, \
    next_action, processor_ref, canceled_at, cancellation_reason, created_at, updated_at, version, \
    capture_window_ms, capture_before, review_delay_ms, review_at, customer_id, setup_future_usage, \
    voucher_window_ms, pay_before, order_key";

/// Gives the baseline database Kassa's schema, from Kassa's own migrations (`kassa-store`
/// applies them, as `kassa serve` does at start), and the merchant the rows belong to, written
/// through `kassa-store` as `kassa merchant create` writes one. Safe to repeat on the same
/// database (each round and pgbench call it).
async fn prepare_database(url: &str) -> anyhow::Result<()> {
    let store = Store::connect(url, 1)
        .await
        .context("opening the baseline database")?;
    let result = async {
        store
            .migrate()
            .await
            .context("applying Kassa's migrations to the baseline database")?;
        if store.merchant(MERCHANT).await?.is_none() {
            let mut tx = store.begin().await?;
            tx.insert_merchant(&Merchant {
                id: MERCHANT.into(),
                name: "Baseline".into(),
                created_at: now_ms(),
            })
            .await?;
            tx.commit().await?;
        }
        anyhow::Ok(())
    }
    .await
    .context("preparing the baseline database");
    store.close().await;
    result
}

/// One bare transaction: BEGIN; INSERT intent; INSERT event; COMMIT.
async fn bare_tx(pool: &AnyPool, data: &str) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let id = format!("pi_{}", token(24));
    let secret = format!("{id}_secret_{}", token(24));
    let checkout = format!("cs_{}", token(24));
    let event_id = format!("evt_{}", token(24));
    let mut tx = pool.begin().await?;
    sqlx::query(&format!(
        "INSERT INTO payment_intents ({PI_COLUMNS}) VALUES \
         ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,\
         $25,$26,$27,$28,$29,$30,$31,$32,$33)"
    ))
    .bind(&id)
    .bind(MERCHANT)
    .bind(1000i64)
    .bind("usd")
    .bind("requires_payment_method")
    .bind("automatic")
    .bind(0i64)
    .bind(0i64)
    .bind(0i64)
    .bind(None::<String>)
    .bind("{}")
    .bind(None::<String>)
    .bind(None::<String>)
    .bind(&secret)
    .bind(&checkout)
    .bind(None::<String>)
    .bind(None::<String>)
    .bind(None::<String>)
    .bind(None::<String>)
    .bind(None::<i64>)
    .bind(None::<String>)
    .bind(now)
    .bind(now)
    .bind(0i64)
    .bind(DEFAULT_CAPTURE_WINDOW_MS)
    .bind(None::<i64>)
    .bind(DEFAULT_REVIEW_DELAY_MS)
    .bind(None::<i64>)
    .bind(None::<String>)
    .bind(None::<String>)
    .bind(DEFAULT_VOUCHER_WINDOW_MS)
    .bind(None::<i64>)
    .bind(None::<String>)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO events (id, merchant_id, type, object_id, data, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&event_id)
    .bind(MERCHANT)
    .bind("payment_intent.created")
    .bind(&id)
    .bind(data)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Runs the bare transaction from Rust with sqlx in a closed loop of `workers` tasks.
///
/// SQLite mirrors `kassa-store`: an `Any` pool of ONE writer connection (`?mode=rwc`), WAL set
/// with a PRAGMA, sqlx's defaults otherwise (so `synchronous` is SQLite's default, FULL).
/// PostgreSQL gets a pool of `workers` connections. With `open_rate`, an open-loop run at that
/// rate follows the closed loop (same pool), for tail latency comparable to Kassa's.
pub async fn sqlx_baseline(
    url: &str,
    sqlite: bool,
    workers: usize,
    warmup: Duration,
    window: Duration,
    data: Arc<String>,
    open_rate: Option<f64>,
) -> anyhow::Result<Baseline> {
    sqlx::any::install_default_drivers();
    let (pool, method) = if sqlite {
        prepare_database(url).await?;
        let url = if url.contains('?') {
            url.to_string()
        } else {
            format!("{url}?mode=rwc")
        };
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect(&url)
            .await
            .context("opening the baseline SQLite database")?;
        sqlx::query("PRAGMA journal_mode=WAL")
            .execute(&pool)
            .await?;
        (
            pool,
            format!(
                "sqlx from Rust: 1-connection writer pool, WAL, synchronous default; {workers} tasks"
            ),
        )
    } else {
        prepare_database(url).await?;
        let pool = AnyPoolOptions::new()
            .max_connections(workers as u32)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await
            .context("connecting to the baseline PostgreSQL database")?;
        (
            pool,
            format!("sqlx from Rust: pool of {workers} connections, {workers} tasks"),
        )
    };
    let (p, d) = (pool.clone(), data.clone());
    let run = closed_loop(workers, warmup, window, move || {
        let pool = p.clone();
        let data = d.clone();
        async move { bare_tx(&pool, &data).await.map_err(|e| e.to_string()) }
    })
    .await;
    let open = match open_rate {
        Some(rate) => {
            let p = pool.clone();
            let o = open_loop(rate, warmup, window, 4096, move || {
                let pool = p.clone();
                let data = data.clone();
                async move { bare_tx(&pool, &data).await.map_err(|e| e.to_string()) }
            })
            .await;
            Some(BaselineOpen {
                rate: o.rate,
                latency: o.latency(),
                errors: o.errors,
            })
        }
        None => None,
    };
    pool.close().await;
    Ok(Baseline {
        method,
        tps: run.throughput(),
        rounds: vec![run.throughput()],
        latency: Some(Latency::from_us(run.latencies_us)),
        errors: run.errors,
        open,
    })
}

/// Combines the rounds before and after the gateway phases: the mean rate, the later round's
/// latencies and open loop, the errors of both.
pub fn merge_rounds(before: Option<Baseline>, after: Option<Baseline>) -> Option<Baseline> {
    match (before, after) {
        (Some(b), Some(mut a)) => {
            let mut rounds = b.rounds;
            rounds.extend(a.rounds);
            a.tps = rounds.iter().sum::<f64>() / rounds.len() as f64;
            a.rounds = rounds;
            for (k, v) in b.errors {
                *a.errors.entry(k).or_default() += v;
            }
            Some(a)
        }
        (b, a) => a.or(b),
    }
}

/// Makes `s` safe inside a pgbench SQL literal: doubles quotes and puts a space after any `:`
/// that pgbench could read as a variable reference (`:name`). The JSON stays valid.
fn pgbench_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 32);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => out.push_str("''"),
            ':' => {
                out.push(':');
                if chars
                    .peek()
                    .is_some_and(|n| n.is_ascii_alphanumeric() || *n == '_' || *n == ':')
                {
                    out.push(' ');
                }
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn pgbench_script(data: &str) -> String {
    let now = "(extract(epoch from clock_timestamp()) * 1000)::bigint";
    let data = pgbench_literal(data);
    format!(
        "\\set pid random(1, 9000000000000000000)\n\
         \\set eid random(1, 9000000000000000000)\n\
         \\set ck random(1, 9000000000000000000)\n\
         BEGIN;\n\
         INSERT INTO payment_intents ({PI_COLUMNS}) VALUES ('pi_' || :pid, '{MERCHANT}', 1000, \
         'usd', 'requires_payment_method', 'automatic', 0, 0, 0, NULL, '{{}}', NULL, NULL, \
         'pi_' || :pid || '_secret_baseline', 'cs_' || :ck, NULL, NULL, NULL, NULL, NULL, NULL, \
         {now}, {now}, 0, {DEFAULT_CAPTURE_WINDOW_MS}, NULL, {DEFAULT_REVIEW_DELAY_MS}, NULL, NULL, NULL, \
         {DEFAULT_VOUCHER_WINDOW_MS}, NULL, NULL);\n\
         INSERT INTO events (id, merchant_id, type, object_id, data, created_at) VALUES \
         ('evt_' || :eid, '{MERCHANT}', 'payment_intent.created', 'pi_' || :pid, '{data}', {now});\n\
         END;\n"
    )
}

/// Runs pgbench with the bare transaction as a custom script (prepared statements, like sqlx):
/// a warm-up run, then the measured run. Returns `None` when pgbench is not installed.
pub async fn pgbench(
    url: &str,
    workers: usize,
    warmup: Duration,
    window: Duration,
    data: &str,
    dir: &Path,
) -> anyhow::Result<Option<Baseline>> {
    let Some(bin) = find_in_path("pgbench") else {
        return Ok(None);
    };
    // The schema exists once sqlx_baseline or this has run; prepare it here to be independent.
    prepare_database(url).await?;

    let script = dir.join("bare_tx.sql");
    std::fs::write(&script, pgbench_script(data))?;
    let threads = workers.clamp(1, 2);
    let run = |secs: u64| {
        let mut c = tokio::process::Command::new(&bin);
        c.args(["-n", "-M", "prepared", "-c"])
            .arg(workers.to_string())
            .arg("-j")
            .arg(threads.to_string())
            .arg("-T")
            .arg(secs.max(1).to_string())
            .arg("-f")
            .arg(&script)
            .arg(url)
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        async move {
            let out = tokio::time::timeout(Duration::from_secs(secs + 60), c.output())
                .await
                .context("pgbench did not finish in time")??;
            let stdout = String::from_utf8_lossy(&out.stdout).to_string();
            if !out.status.success() {
                bail!(
                    "pgbench failed ({}): {}\n{}",
                    out.status,
                    stdout.trim(),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            Ok::<String, anyhow::Error>(stdout)
        }
    };
    if !warmup.is_zero() {
        run(warmup.as_secs().max(1)).await?;
    }
    let out = run(window.as_secs().max(1)).await?;
    let field = |prefix: &str| -> Option<f64> {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
    };
    let tps = field("tps = ").context("no `tps = ` line in pgbench output")?;
    let failed = field("number of failed transactions: ").unwrap_or(0.0) as u64;
    let mut errors = Errors::new();
    if failed > 0 {
        errors.insert("pgbench failed transactions".into(), failed);
    }
    let avg = field("latency average = ");
    Ok(Some(Baseline {
        method: format!(
            "pgbench -M prepared -c {workers} -j {threads} -T {} (custom script){}",
            window.as_secs().max(1),
            avg.map(|a| format!(", latency avg {a:.2} ms"))
                .unwrap_or_default()
        ),
        tps,
        rounds: vec![tps],
        latency: None,
        errors,
        open: None,
    }))
}

pub fn find_in_path(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgbench_literal_defuses_variables_and_quotes() {
        let s = pgbench_literal(r#"{"a":1,"b":"it's","c":null,"d":"x"}"#);
        assert_eq!(s, r#"{"a": 1,"b":"it''s","c": null,"d":"x"}"#);
    }

    /// The bare transaction satisfies Kassa's real schema (its NOT NULL columns, checks and
    /// foreign keys), and preparing the database again changes nothing.
    #[tokio::test]
    async fn the_bare_transaction_fits_kassas_schema() {
        let dir = std::env::temp_dir().join(format!("kassa-bench-test-{}", token(12)));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/baseline.db", dir.display());
        prepare_database(&url).await.unwrap();
        prepare_database(&url).await.unwrap();
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&format!("{url}?mode=rwc"))
            .await
            .unwrap();
        bare_tx(&pool, r#"{"object":"payment_intent"}"#)
            .await
            .unwrap();
        bare_tx(&pool, r#"{"object":"payment_intent"}"#)
            .await
            .unwrap();
        for table in ["merchants", "payment_intents", "events"] {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(n, if table == "merchants" { 1 } else { 2 }, "{table}");
        }
        pool.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
