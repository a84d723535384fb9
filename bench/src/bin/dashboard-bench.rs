//! `dashboard-bench`: the dashboard's Payments list at scale (see bench/README.md).
//!
//! Seeds a PostgreSQL database with a million payments of one merchant (and smaller sets of
//! other merchants and of the other mode), with PostgreSQL's `generate_series` in a few
//! `INSERT … SELECT` statements after Kassa's own migrations, then times
//! `Store::dashboard_payments` and `Store::find_payments_by_reference` as the dashboard calls
//! them and prints the median and p95 of each.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use kassa_store::{Face, PaymentFilter, Scope, Store};
use sqlx::{Connection, PgConnection, Row};

/// Seeds a PostgreSQL database with payments and times the dashboard's payment queries on it.
#[derive(Parser, Debug)]
#[command(name = "dashboard-bench")]
struct Args {
    /// The database to seed (created when missing; must be on 127.0.0.1 or localhost). It is
    /// kept afterwards so `--reuse` can time it again; `--drop` removes it at the end.
    #[arg(
        long,
        env = "KASSA_DASHBOARD_BENCH_PG",
        default_value = "postgres://postgres@127.0.0.1:5432/kassa_dashboard_bench"
    )]
    postgres_url: String,
    /// Payments of the merchant under test (its other mode and three other merchants get a
    /// twentieth of this each).
    #[arg(long, default_value_t = 1_000_000)]
    payments: i64,
    /// Timed runs of each query (after three unmeasured ones).
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Page size.
    #[arg(long, default_value_t = 25)]
    limit: i64,
    /// Time an already seeded database instead of seeding it.
    #[arg(long)]
    reuse: bool,
    /// Drop the database when done.
    #[arg(long)]
    drop: bool,
}

/// The merchant under test.
const MAIN: &str = "acct_dashbench_main";
/// The seed's last payment is created just before this instant (2026-12-01T00:00:00Z); the
/// payments spread over the two years before it, written oldest first as a live system writes
/// them (which keeps the indexes as dense as in production).
const T_END: i64 = 1_796_083_200_000;
const TWO_YEARS_MS: i64 = 2 * 365 * 86_400_000;
/// Payments per `INSERT … SELECT`: small enough to show progress, large enough to stay fast.
const CHUNK: i64 = 100_000;

/// One merchant and mode's payments. Faces are given in twentieths: `i % 20` below `pw` is a
/// Paymentwall payment, below `pw + pm` a Paymob one, the rest native.
struct Slice {
    merchant: &'static str,
    /// Makes this slice's ids (payments, customers, orders) its own.
    tag: &'static str,
    livemode: bool,
    count: i64,
    pw: i64,
    pm: i64,
    /// Numbers the slice: its Paymob profile, its share of Paymob's ids and of Paymentwall refs.
    index: i64,
}

fn slices(n: i64) -> Vec<Slice> {
    let small = (n / 20).max(1);
    let slice = |merchant, tag, livemode, count, pw, pm, index| Slice {
        merchant,
        tag,
        livemode,
        count,
        pw,
        pm,
        index,
    };
    vec![
        slice(MAIN, "m", true, n, 3, 3, 0),
        slice(MAIN, "t", false, small, 3, 3, 1),
        slice("acct_dashbench_native", "n", true, small, 0, 0, 2),
        slice("acct_dashbench_paymentwall", "w", true, small, 20, 0, 3),
        slice("acct_dashbench_paymob", "p", true, small, 0, 20, 4),
    ]
}

/// Paymob's ids in the statements below are order `217500000 + k` and transaction
/// `192000000 + k`, where `k` is unique over the whole seed (a slice's offset plus `i`), so the
/// two never overlap below 5,000,000 payments.
///
/// A realistic mix per payment: 68 % succeeded, 8 % canceled, 12 % never paid, 3 % waiting
/// for 3-D Secure, 1 % processing, 8 % authorised; USD, EUR, EGP (all of Paymob's), GBP, SAR
/// and JPY; amounts from 1.50 to about 5,000.00 spread evenly on a log scale; 40 % with a
/// customer (50,000 of them), 30 % with only a receipt e-mail; a card on every paid, authorised
/// or challenged payment, one in ten of them 4242. The columns are those `kassa-store` writes,
/// `card_last4` and `face` included.
const INSERT_INTENTS: &str = r#"
INSERT INTO payment_intents (id, merchant_id, amount, currency, status, capture_method,
    amount_capturable, amount_received, amount_refunded, description, metadata, receipt_email,
    client_secret, checkout_token, payment_method, processor_ref, canceled_at,
    cancellation_reason, created_at, updated_at, version, customer_id, order_key, livemode,
    card_last4, face)
WITH g AS (
    SELECT i, $5 + i AS k,
        CASE WHEN i % 20 < $6 THEN 'pw' WHEN i % 20 < $6 + $7 THEN 'pm' ELSE 'native' END AS face,
        $9 - ($11 - i + 1) * $10 + floor(random() * $10)::bigint AS created_at,
        random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
        random() AS r6, random() AS r7
    FROM generate_series($3::bigint, $4::bigint) AS s(i)
), h AS (
    SELECT g.*, 'pi_' || substr(md5($8 || ':' || i), 1, 24) AS id,
        CASE WHEN r1 < 0.68 THEN 'succeeded' WHEN r1 < 0.76 THEN 'canceled'
            WHEN r1 < 0.88 THEN 'requires_payment_method' WHEN r1 < 0.91 THEN 'requires_action'
            WHEN r1 < 0.92 THEN 'processing' ELSE 'requires_capture' END AS status,
        CASE WHEN face = 'pm' THEN 'EGP' WHEN r2 < 0.55 THEN 'USD' WHEN r2 < 0.75 THEN 'EUR'
            WHEN r2 < 0.87 THEN 'EGP' WHEN r2 < 0.95 THEN 'GBP' WHEN r2 < 0.98 THEN 'SAR'
            ELSE 'JPY' END AS currency,
        (50 + floor(power(10, 2 + 3.7 * r3)))::bigint AS amount,
        CASE WHEN r7 < 0.1 THEN '4242' ELSE lpad(floor(r7 * 10000)::bigint::text, 4, '0') END AS l4
    FROM g
)
SELECT id, $1, amount, currency, status,
    CASE WHEN status = 'requires_capture' THEN 'manual' ELSE 'automatic' END,
    CASE WHEN status = 'requires_capture' THEN amount ELSE 0 END,
    CASE WHEN status = 'succeeded' THEN amount ELSE 0 END,
    CASE WHEN status = 'succeeded' AND r4 < 0.05 THEN amount / 2 ELSE 0 END,
    CASE face WHEN 'pm' THEN 'Paymob order ' || (217500000 + k) WHEN 'pw' THEN 'Premium access' END,
    CASE face WHEN 'pm' THEN '{"paymob_order":"' || (217500000 + k) || '","paymob_transaction":"'
        || (192000000 + k) || '"}' ELSE '{"order_ref":"' || i || '"}' END,
    CASE WHEN r5 >= 0.4 AND r5 < 0.7 THEN 'buyer' || floor(r6 * 200000)::bigint || '@example.org' END,
    id || '_secret_' || substr(md5('secret' || id), 1, 24),
    'cs_' || substr(md5('cs' || id), 1, 24),
    CASE WHEN status IN ('succeeded', 'requires_capture', 'requires_action') THEN
        '{"kind":"card","brand":"visa","bin":"424242","last4":"' || l4
        || '","exp_month":12,"exp_year":2030,"fingerprint":"' || md5('fp' || l4) || '"}' END,
    CASE WHEN status IN ('succeeded', 'requires_capture') THEN 'sbx_' || substr(md5('ref' || id), 1, 20) END,
    CASE WHEN status = 'canceled' THEN created_at + 60000 END,
    CASE WHEN status = 'canceled' THEN 'abandoned' END,
    created_at, created_at + 1500, 2,
    CASE WHEN r5 < 0.4 THEN 'cus_' || $8 || lpad(floor(r6 * 50000)::bigint::text, 6, '0') END,
    CASE WHEN face = 'pw' THEN 'paymentwall:pwo_' || substr(md5('pwo' || id), 1, 24)
        WHEN face = 'pm' AND i % 20 = $6 AND status IN ('succeeded', 'requires_capture')
            THEN 'paymob:' || (217500000 + k) END,
    $2,
    CASE WHEN status IN ('succeeded', 'requires_capture', 'requires_action') THEN l4 END,
    CASE face WHEN 'pw' THEN 'paymentwall' WHEN 'pm' THEN 'paymob' ELSE 'native' END
FROM h
"#;

/// Customers of a slice, e-mails in mixed case (the filter ignores case).
const INSERT_CUSTOMERS: &str = r#"
INSERT INTO customers (id, merchant_id, email, name, metadata, created_at, updated_at, livemode)
SELECT 'cus_' || $3 || lpad(n::text, 6, '0'), $1, 'Customer' || n || '@Example.com',
    'Customer ' || n, '{}', $4 - n * 1000, $4 - n * 1000, $2
FROM generate_series(0, 49999) AS s(n)
"#;

/// Every Paymentwall payment's order; paid and authorised ones have their `ref`.
const INSERT_PW_ORDERS: &str = r#"
INSERT INTO pw_orders (id, project_id, merchant_id, payment_intent_id, uid, widget, params,
    product, ref, is_test, created_at, livemode)
SELECT substr(order_key, 13), $3, merchant_id, id, 'user' || substr(md5('uid' || id), 1, 6),
    'p1_1', '[]', '{}',
    CASE WHEN status IN ('succeeded', 'requires_capture')
        THEN 'b' || (1000000000 + $4 + row_number() OVER (ORDER BY id)) END,
    0, created_at, livemode
FROM payment_intents
WHERE merchant_id = $1 AND livemode = $2 AND order_key LIKE 'paymentwall:%'
"#;

/// Every Paymob payment's order (named by the payment's description, as Kassa's Paymob face
/// writes it): four in five with a merchant order id, the first Paymob bucket made by an
/// intention.
const INSERT_PM_ORDERS: &str = r#"
INSERT INTO pm_orders (id, profile_id, merchant_order_id, intention_id, doc, created_at, updated_at)
SELECT o, $3, CASE WHEN o % 5 <> 0 THEN 'ORD-' || $4 || '-' || o END,
    CASE WHEN (o - 217500000 - $5) % 20 = $6
        THEN CASE WHEN $2 = 1 THEN 'pi_live_' ELSE 'pi_test_' END || md5('intention' || o) END,
    '{}', created_at, created_at
FROM (SELECT substr(description, 14)::bigint AS o, created_at FROM payment_intents
      WHERE merchant_id = $1 AND livemode = $2 AND description LIKE 'Paymob order %') p
"#;

const INSERT_PM_INTENTIONS: &str = r#"
INSERT INTO pm_intentions (id, profile_id, client_secret, order_id, expires_at, doc, created_at,
    updated_at)
SELECT intention_id, profile_id, 'egy_csk_' || substr(intention_id, 4, 5) || md5('csk' || intention_id),
    id, created_at + 3600000, '{}', created_at, created_at
FROM pm_orders WHERE profile_id = $1 AND intention_id IS NOT NULL
"#;

const INSERT_PM_TRANSACTIONS: &str = r#"
INSERT INTO pm_transactions (id, profile_id, order_id, intent_id, parent_id, kind, obj, extra,
    created_at, updated_at)
SELECT substr(description, 14)::bigint - 217500000 + 192000000, $3,
    substr(description, 14)::bigint, id, NULL, 'payment', '{}', '{}', created_at, created_at
FROM payment_intents
WHERE merchant_id = $1 AND livemode = $2 AND description LIKE 'Paymob order %'
"#;

fn progress(started: Instant, msg: impl AsRef<str>) {
    eprintln!(
        "  … [{:>6.1} s] {}",
        started.elapsed().as_secs_f64(),
        msg.as_ref()
    );
}

/// `postgres://…/name` → (`postgres://…`, `name`), the name checked to be a plain identifier.
fn split_url(url: &str) -> anyhow::Result<(&str, &str)> {
    let Some((server, name)) = url.rsplit_once('/') else {
        bail!("--postgres-url must name a database");
    };
    let name = name.split('?').next().unwrap_or(name);
    if server.ends_with('/') || !server.contains("://") {
        bail!("--postgres-url must name a database");
    }
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        bail!("the database name must be lower-case letters, digits and `_` (got {name:?})");
    }
    let host = server
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(server)
        .rsplit('@')
        .next()
        .unwrap_or("")
        .split(':')
        .next()
        .unwrap_or("");
    if !matches!(host, "127.0.0.1" | "localhost") {
        bail!("--postgres-url must point at 127.0.0.1 or localhost (got {host:?})");
    }
    Ok((server, name))
}

/// Runs `sql` (no parameters) over the simple protocol, outside any transaction block, as
/// `CREATE DATABASE` and `VACUUM` need.
async fn exec(c: &mut PgConnection, sql: &str) -> anyhow::Result<u64> {
    Ok(sqlx::raw_sql(sql).execute(&mut *c).await?.rows_affected())
}

/// Writes every slice's merchants, accounts, payments and the Paymentwall and Paymob objects
/// behind them.
async fn seed(c: &mut PgConnection, n: i64, started: Instant) -> anyhow::Result<()> {
    // Reproducible draws: one connection, one seed.
    exec(c, "SELECT setseed(0.42)").await?;
    let step = (TWO_YEARS_MS / n).max(1);
    let mut merchants_done: Vec<&str> = Vec::new();
    for s in slices(n) {
        let live = i64::from(s.livemode);
        let offset = s.index * (n + 1);
        let profile_id = 164_001 + s.index;
        let project_id = format!("pwp_dashbench_{}", s.tag);
        if !merchants_done.contains(&s.merchant) {
            sqlx::query("INSERT INTO merchants (id, name, created_at) VALUES ($1, $1, 1)")
                .bind(s.merchant)
                .execute(&mut *c)
                .await?;
            merchants_done.push(s.merchant);
        }
        sqlx::query(
            "INSERT INTO pm_profiles (id, merchant_id, country, live, secret_key_hash, \
             public_key, api_key_hash, hmac_enc, iframe_id, doc, created_at) \
             VALUES ($1, $2, 'EGY', $3, 'sk_' || $4, 'pk_' || $4, 'ak_' || $4, 'v1:x', $1, '{}', 1)",
        )
        .bind(profile_id)
        .bind(s.merchant)
        .bind(live)
        .bind(s.tag)
        .execute(&mut *c)
        .await?;
        sqlx::query(
            "INSERT INTO pw_projects (id, merchant_id, name, project_key, secret_enc, api_type, \
             pingback_sign_version, widgets, payment_systems, test_method, custom_pingback, \
             created_at) VALUES ($1, $2, $1, 'key_' || $1, 'v1:x', 'digital_goods', 2, '[]', \
             '{}', 0, '[]', 1)",
        )
        .bind(&project_id)
        .bind(s.merchant)
        .execute(&mut *c)
        .await?;
        sqlx::query(INSERT_CUSTOMERS)
            .bind(s.merchant)
            .bind(live)
            .bind(s.tag)
            .bind(T_END)
            .execute(&mut *c)
            .await?;
        let mut first = 1;
        while first <= s.count {
            let last = (first + CHUNK - 1).min(s.count);
            sqlx::query(INSERT_INTENTS)
                .bind(s.merchant)
                .bind(live)
                .bind(first)
                .bind(last)
                .bind(offset)
                .bind(s.pw)
                .bind(s.pm)
                .bind(s.tag)
                .bind(T_END)
                .bind(step)
                .bind(s.count)
                .execute(&mut *c)
                .await
                .context("inserting payments")?;
            progress(
                started,
                format!("{} {}: {last} of {} payments", s.merchant, s.tag, s.count),
            );
            first = last + 1;
        }
        let pw = sqlx::query(INSERT_PW_ORDERS)
            .bind(s.merchant)
            .bind(live)
            .bind(&project_id)
            .bind(offset)
            .execute(&mut *c)
            .await
            .context("inserting Paymentwall orders")?
            .rows_affected();
        let pm = sqlx::query(INSERT_PM_ORDERS)
            .bind(s.merchant)
            .bind(live)
            .bind(profile_id)
            .bind(s.tag)
            .bind(offset)
            .bind(s.pw)
            .execute(&mut *c)
            .await
            .context("inserting Paymob orders")?
            .rows_affected();
        sqlx::query(INSERT_PM_INTENTIONS)
            .bind(profile_id)
            .execute(&mut *c)
            .await
            .context("inserting Paymob intentions")?;
        sqlx::query(INSERT_PM_TRANSACTIONS)
            .bind(s.merchant)
            .bind(live)
            .bind(profile_id)
            .execute(&mut *c)
            .await
            .context("inserting Paymob transactions")?;
        progress(
            started,
            format!(
                "{} {}: {pw} Paymentwall orders, {pm} Paymob orders",
                s.merchant, s.tag
            ),
        );
    }
    // Fresh statistics and visibility map, as autovacuum would leave a table this size.
    for table in [
        "payment_intents",
        "customers",
        "pw_orders",
        "pm_orders",
        "pm_intentions",
        "pm_transactions",
    ] {
        exec(c, &format!("VACUUM ANALYZE {table}")).await?;
    }
    progress(started, "vacuumed and analyzed");
    Ok(())
}

/// What one timed call asks.
enum Call {
    List {
        scope: Scope,
        filter: PaymentFilter,
        cursor: Option<String>,
    },
    Find {
        scope: Scope,
        q: String,
    },
}

struct Case {
    name: String,
    call: Call,
    /// What the answer must hold, checked on every run (`None`: anything).
    expect_rows: Option<usize>,
}

impl Case {
    async fn run(&self, store: &Store, limit: i64) -> anyhow::Result<usize> {
        Ok(match &self.call {
            Call::List {
                scope,
                filter,
                cursor,
            } => store
                .dashboard_payments(scope, filter, limit, cursor.as_deref())
                .await?
                .context("the cursor names no payment")?
                .len(),
            Call::Find { scope, q } => store.find_payments_by_reference(scope, q).await?.len(),
        })
    }
}

/// The nearest-rank percentile of ascending samples.
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let n = sorted.len();
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn one_string(c: &mut PgConnection, sql: &str, bind: &str) -> anyhow::Result<String> {
    let row = sqlx::query(sql)
        .bind(bind)
        .fetch_optional(&mut *c)
        .await?
        .with_context(|| format!("the seed has no row for {sql}"))?;
    Ok(row.try_get::<String, _>(0)?)
}

/// The queries to time, with values picked from the seed.
async fn cases(
    c: &mut PgConnection,
    store: &Store,
    n: i64,
    limit: i64,
) -> anyhow::Result<Vec<Case>> {
    let main = Scope {
        merchant_id: MAIN.into(),
        livemode: true,
    };
    let profile = 164_001_i64;
    let list = |name: &str, filter: PaymentFilter| Case {
        name: name.into(),
        call: Call::List {
            scope: main.clone(),
            filter,
            cursor: None,
        },
        expect_rows: None,
    };
    let find = |name: &str, q: String, rows: usize| Case {
        name: name.into(),
        call: Call::Find {
            scope: main.clone(),
            q,
        },
        expect_rows: Some(rows),
    };

    let middle: String = sqlx::query(
        "SELECT id FROM payment_intents WHERE merchant_id = $1 AND livemode = 1 \
         ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1",
    )
    .bind(MAIN)
    .bind(n / 2)
    .fetch_one(&mut *c)
    .await?
    .get(0);
    let amount: i64 = sqlx::query("SELECT amount FROM payment_intents WHERE id = $1")
        .bind(&middle)
        .fetch_one(&mut *c)
        .await?
        .get(0);
    let customer = one_string(
        c,
        "SELECT customer_id FROM payment_intents WHERE merchant_id = $1 AND livemode = 1 \
         AND customer_id IS NOT NULL ORDER BY created_at DESC LIMIT 1",
        MAIN,
    )
    .await?;
    let customer_email = one_string(c, "SELECT email FROM customers WHERE id = $1", &customer)
        .await?
        .to_lowercase();
    let receipt_email = one_string(
        c,
        "SELECT receipt_email FROM payment_intents WHERE merchant_id = $1 AND livemode = 1 \
         AND receipt_email IS NOT NULL ORDER BY created_at DESC LIMIT 1",
        MAIN,
    )
    .await?;
    let rare_last4 = one_string(
        c,
        "SELECT card_last4 FROM payment_intents WHERE merchant_id = $1 AND livemode = 1 \
         AND card_last4 <> '4242' ORDER BY created_at DESC LIMIT 1",
        MAIN,
    )
    .await?;
    let pw = sqlx::query(
        "SELECT id, ref FROM pw_orders WHERE merchant_id = $1 AND livemode = 1 \
         AND ref IS NOT NULL ORDER BY created_at LIMIT 1 OFFSET 100",
    )
    .bind(MAIN)
    .fetch_one(&mut *c)
    .await?;
    let (pw_order, pw_ref): (String, String) = (pw.get(0), pw.get(1));
    let pm = sqlx::query(
        "SELECT o.id, o.merchant_order_id, o.intention_id, i.client_secret, t.id \
         FROM pm_orders o JOIN pm_intentions i ON i.order_id = o.id \
         JOIN pm_transactions t ON t.order_id = o.id \
         WHERE o.profile_id = $1 AND o.merchant_order_id IS NOT NULL \
         ORDER BY o.created_at LIMIT 1 OFFSET 100",
    )
    .bind(profile)
    .fetch_one(&mut *c)
    .await?;
    let (pm_order, pm_moid, pm_intention, pm_secret, pm_txn): (i64, String, String, String, i64) =
        (pm.get(0), pm.get(1), pm.get(2), pm.get(3), pm.get(4));
    let legacy = sqlx::query(
        "SELECT o.id FROM pm_orders o WHERE o.profile_id = $1 AND o.intention_id IS NULL \
         ORDER BY o.created_at DESC LIMIT 1 OFFSET 100",
    )
    .bind(profile)
    .fetch_one(&mut *c)
    .await?;
    let legacy_order: i64 = legacy.get(0);
    let foreign = one_string(
        c,
        "SELECT id FROM payment_intents WHERE merchant_id = $1 ORDER BY created_at DESC LIMIT 1",
        "acct_dashbench_native",
    )
    .await?;
    let test_mode = one_string(
        c,
        "SELECT id FROM payment_intents WHERE merchant_id = $1 AND livemode = 0 \
         ORDER BY created_at DESC LIMIT 1",
        MAIN,
    )
    .await?;
    let day = 86_400_000;

    let succeeded = PaymentFilter {
        status: Some("succeeded".into()),
        ..Default::default()
    };
    let mut out = vec![
        list("first page, no filter", PaymentFilter::default()),
        list("status succeeded (68 %)", succeeded.clone()),
        list(
            "status requires_capture (8 %)",
            PaymentFilter {
                status: Some("requires_capture".into()),
                ..Default::default()
            },
        ),
        list(
            "status processing (1 %)",
            PaymentFilter {
                status: Some("processing".into()),
                ..Default::default()
            },
        ),
        list(
            "currency JPY (1.7 %)",
            PaymentFilter {
                currency: Some("jpy".into()),
                ..Default::default()
            },
        ),
        list(
            "amount 10.00–50.00",
            PaymentFilter {
                amount_min: Some(1_000),
                amount_max: Some(5_000),
                ..Default::default()
            },
        ),
        list(
            "amount exactly one value",
            PaymentFilter {
                amount_min: Some(amount),
                amount_max: Some(amount),
                ..Default::default()
            },
        ),
        list(
            "created in one day, a year ago",
            PaymentFilter {
                created_from: Some(T_END - 365 * day),
                created_to: Some(T_END - 364 * day),
                ..Default::default()
            },
        ),
        list(
            "customer id",
            PaymentFilter {
                customer: Some(customer),
                ..Default::default()
            },
        ),
        list(
            "customer's e-mail",
            PaymentFilter {
                customer: Some(customer_email),
                ..Default::default()
            },
        ),
        list(
            "receipt e-mail",
            PaymentFilter {
                customer: Some(receipt_email.to_uppercase()),
                ..Default::default()
            },
        ),
        list(
            "last4 4242 (8 %)",
            PaymentFilter {
                last4: Some("4242".into()),
                ..Default::default()
            },
        ),
        list(
            "last4, another (0.01 %)",
            PaymentFilter {
                last4: Some(rare_last4),
                ..Default::default()
            },
        ),
        list(
            "face native (70 %)",
            PaymentFilter {
                face: Some(Face::Native),
                ..Default::default()
            },
        ),
        list(
            "face Paymentwall (15 %)",
            PaymentFilter {
                face: Some(Face::Paymentwall),
                ..Default::default()
            },
        ),
        list(
            "face Paymob (15 %)",
            PaymentFilter {
                face: Some(Face::Paymob),
                ..Default::default()
            },
        ),
        list(
            "succeeded + EUR + 10.00–100.00",
            PaymentFilter {
                status: Some("succeeded".into()),
                currency: Some("EUR".into()),
                amount_min: Some(1_000),
                amount_max: Some(10_000),
                ..Default::default()
            },
        ),
        list(
            "Paymob + requires_capture + last 30 days",
            PaymentFilter {
                status: Some("requires_capture".into()),
                face: Some(Face::Paymob),
                created_from: Some(T_END - 30 * day),
                ..Default::default()
            },
        ),
    ];
    // A face absent from a merchant's payments: the face's index finds that at once.
    let other = |merchant: &str, name: &str, face: Face| Case {
        name: name.into(),
        call: Call::List {
            scope: Scope {
                merchant_id: merchant.into(),
                livemode: true,
            },
            filter: PaymentFilter {
                face: Some(face),
                ..Default::default()
            },
            cursor: None,
        },
        expect_rows: Some(0),
    };
    out.extend([
        other(
            "acct_dashbench_native",
            "face Paymentwall, none in n/20 (*)",
            Face::Paymentwall,
        ),
        other(
            "acct_dashbench_native",
            "face Paymob, none in n/20 (*)",
            Face::Paymob,
        ),
        other(
            "acct_dashbench_paymob",
            "face native, none in n/20 (*)",
            Face::Native,
        ),
    ]);
    // Page 50: the cursor is the last payment of page 49, found by paging there once.
    for (name, filter) in [
        ("page 50 via cursor, no filter", PaymentFilter::default()),
        ("page 50 via cursor, succeeded", succeeded),
    ] {
        let mut cursor: Option<String> = None;
        for _ in 0..49 {
            let page = store
                .dashboard_payments(&main, &filter, limit, cursor.as_deref())
                .await?
                .context("paging to page 50")?;
            cursor = page.last().map(|p| p.id.clone());
        }
        out.push(Case {
            name: name.into(),
            call: Call::List {
                scope: main.clone(),
                filter,
                cursor,
            },
            expect_rows: Some(limit as usize),
        });
    }
    out.extend([
        find("find: payment id", middle, 1),
        find("find: Paymentwall order id", pw_order, 1),
        find("find: Paymentwall ref", pw_ref, 1),
        find("find: Paymob order id", pm_order.to_string(), 1),
        find(
            "find: Paymob order id (legacy)",
            legacy_order.to_string(),
            1,
        ),
        find("find: Paymob transaction id", pm_txn.to_string(), 1),
        find("find: Paymob merchant order id", pm_moid, 1),
        find("find: Paymob intention id", pm_intention, 1),
        find("find: Paymob client secret", pm_secret, 1),
        find("find: another merchant's payment", foreign, 0),
        find("find: the other mode's payment", test_mode, 0),
        find("find: nothing", "no-such-reference-0001".into(), 0),
    ]);
    Ok(out)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !(1_000..=5_000_000).contains(&args.payments) {
        bail!("--payments must be between 1,000 and 5,000,000");
    }
    if args.runs == 0 || args.runs > 10_000 {
        bail!("--runs must be between 1 and 10,000");
    }
    if !(1..=100).contains(&args.limit) {
        bail!("--limit must be between 1 and 100");
    }
    let (server, name) = split_url(&args.postgres_url)?;
    let started = Instant::now();

    let mut admin = PgConnection::connect(&format!("{server}/postgres"))
        .await
        .context("connecting to the PostgreSQL server")?;
    let exists = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut admin)
        .await?
        .is_some();
    if !exists {
        if args.reuse {
            bail!("--reuse: database {name} does not exist");
        }
        exec(&mut admin, &format!("CREATE DATABASE \"{name}\"")).await?;
    }
    let url = format!("{server}/{name}");
    let mut c = PgConnection::connect(&url).await?;
    let version: String = sqlx::query("SELECT version()")
        .fetch_one(&mut c)
        .await?
        .get(0);

    let store = Store::connect(&url, 4).await?;
    store.migrate().await?;
    let held: i64 =
        sqlx::query("SELECT COUNT(*) FROM payment_intents WHERE merchant_id = $1 AND livemode = 1")
            .bind(MAIN)
            .fetch_one(&mut c)
            .await?
            .get(0);
    let n = if args.reuse {
        if held == 0 {
            bail!("--reuse: database {name} holds no seeded payments");
        }
        progress(started, format!("reusing {held} payments of {MAIN}"));
        held
    } else {
        let any: i64 = sqlx::query("SELECT COUNT(*) FROM payment_intents")
            .fetch_one(&mut c)
            .await?
            .get(0);
        if any > 0 {
            bail!(
                "database {name} already holds payments: pass --reuse to time it again, or \
                 drop it (DROP DATABASE {name})"
            );
        }
        seed(&mut c, args.payments, started).await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM payment_intents")
            .fetch_one(&mut c)
            .await?
            .get(0);
        progress(
            started,
            format!("seeded {total} payments ({} of {MAIN})", args.payments),
        );
        args.payments
    };
    let seeded_in = started.elapsed();

    let cases = cases(&mut c, &store, n, args.limit).await?;
    let sizes = sqlx::query(
        "SELECT pg_size_pretty(pg_relation_size('payment_intents')), \
         pg_size_pretty(pg_indexes_size('payment_intents'))",
    )
    .fetch_one(&mut c)
    .await?;
    let size = format!(
        "table {}, its indexes {}",
        sizes.get::<String, _>(0),
        sizes.get::<String, _>(1)
    );
    c.close().await?;

    println!();
    println!(
        "=== dashboard payments on PostgreSQL: {n} payments of one merchant (payment_intents: {size}) ==="
    );
    println!(
        "{:<44} {:>5} {:>10} {:>10} {:>10}",
        "query", "rows", "median ms", "p95 ms", "max ms"
    );
    println!("{}", "-".repeat(83));
    let mut worst = Duration::ZERO;
    for case in &cases {
        for _ in 0..3 {
            case.run(&store, args.limit).await?;
        }
        let mut samples = Vec::with_capacity(args.runs);
        let mut rows = 0;
        for _ in 0..args.runs {
            let t = Instant::now();
            rows = case.run(&store, args.limit).await?;
            samples.push(t.elapsed());
            if let Some(want) = case.expect_rows {
                if rows != want {
                    bail!("{}: {rows} rows, expected {want}", case.name);
                }
            }
        }
        samples.sort_unstable();
        let p95 = percentile(&samples, 0.95);
        worst = worst.max(p95);
        println!(
            "{:<44} {:>5} {:>10.2} {:>10.2} {:>10.2}",
            case.name,
            rows,
            ms(percentile(&samples, 0.5)),
            ms(p95),
            ms(*samples.last().unwrap_or(&Duration::ZERO)),
        );
    }
    println!("{}", "-".repeat(83));
    let mark = if worst < Duration::from_millis(100) {
        "✓"
    } else {
        "✗"
    };
    println!(
        "target: {mark} every query's p95 under 100 ms (worst {:.2} ms)",
        ms(worst)
    );
    println!(
        "(*) on a merchant with a twentieth as many payments ({}), none of them of that face",
        (n / 20).max(1)
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "runs: {} timed after 3 unmeasured per query, page size {}; seeding took {:.0} s{}",
        args.runs,
        args.limit,
        seeded_in.as_secs_f64(),
        if args.reuse { " (reused)" } else { "" }
    );
    println!(
        "machine: nproc={}, load average {}; {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        version.split(" on ").next().unwrap_or(&version)
    );
    store.close().await;
    if args.drop {
        exec(
            &mut admin,
            &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        )
        .await?;
        println!("database {name} dropped");
    } else {
        println!("database {name} kept: time it again with --reuse, or pass --drop");
    }
    admin.close().await?;
    Ok(())
}
