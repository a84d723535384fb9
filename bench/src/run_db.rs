//! One database's run: a fresh database and server, the gateway phases in order, and the
//! bare-database baseline before and after them (bench/README.md, "What it measures").

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::load::{self, closed_loop, error_total, open_loop, Api};
use crate::receiver::Receiver;
use crate::report::{Closed, DbResult, LogScan, Memory, Open, Webhooks};
use crate::server::{
    clock_ticks, proc_status_kb, scan_log, token, CpuSnap, Kassa, KassaEnv, PgDb, RssSampler,
    ScratchDir,
};
use crate::stats::{signed_us, Latency};
use crate::{baseline, progress, stripe_phase, Args, Db};

/// One database: fresh database, gateway phases, then the bare baseline. Scratch files and the
/// PostgreSQL databases are removed whatever happens.
pub(crate) async fn run_db(args: &Args, bin: &Path, db: Db) -> anyhow::Result<DbResult> {
    let scratch = ScratchDir::new()?;
    let env = KassaEnv {
        bin: bin.to_path_buf(),
        master_key: token(64),
        max_connections: args.kassa_max_connections,
        webhook_poll_ms: args.webhook_poll_ms,
        live_stripe_api: None,
    };
    let server = args.pg_server.trim_end_matches('/').to_string();
    let mut pg = None;
    let url = match db {
        Db::Sqlite => format!("sqlite://{}/kassa.db", scratch.0.display()),
        Db::Postgres => {
            let d = PgDb::create(&server, "gateway").await?;
            let u = d.url();
            pg = Some(d);
            u
        }
    };
    let result = run_db_inner(args, &env, db, &url, &scratch.0, &server).await;
    if let Some(mut d) = pg {
        if let Err(e) = d.drop_db().await {
            eprintln!("warning: could not drop database {}: {e:#}", d.name);
        }
    }
    result
}

async fn run_db_inner(
    args: &Args,
    env: &KassaEnv,
    db: Db,
    url: &str,
    scratch: &Path,
    pg_server: &str,
) -> anyhow::Result<DbResult> {
    let name = db.name();
    let n = args.concurrency;
    let warmup = Duration::from_secs(args.warmup);
    let window = Duration::from_secs(args.duration);
    let mut notes = Vec::new();

    progress(format!("[{name}] creating the merchant ({url})"));
    let (merchant, secret_key) = env.create_merchant(url).await?;
    let receiver = Receiver::start().await?;
    let client = load::http_client()?;
    progress(format!("[{name}] starting kassa"));
    let mut kassa = Kassa::start(env, url, scratch.join("kassa.log"), &client).await?;
    let api = Api::new(client.clone(), &kassa.base, &secret_key)?;
    api.register_webhook(&receiver.url(), &["payment_intent.succeeded"])
        .await?;
    let sample = api
        .create_intent_json()
        .await
        .map_err(|e| anyhow!("first create-intent failed: {e}"))?;
    let intent_json = sample.to_string();

    // First round of the bare-database baseline while the server idles (its webhook worker
    // polls twice a second); the second round follows the gateway phases.
    let base_db = match db {
        Db::Postgres => Some(PgDb::create(pg_server, "baseline").await?),
        Db::Sqlite => None,
    };
    let bctx = BaselineCtx {
        db,
        url: match &base_db {
            Some(d) => d.url(),
            None => format!("sqlite://{}/baseline.db", scratch.display()),
        },
        scratch: scratch.to_path_buf(),
        workers: n,
        warmup,
        window,
    };
    let (before, _) = baseline_round(&bctx, &intent_json, None, &mut notes).await;
    let sampler = RssSampler::start(kassa.pid);
    let tck = clock_ticks();
    let pid = kassa.pid;

    // Closed loop: N workers back to back.
    progress(format!(
        "[{name}] create-intent, closed loop, c={n}: {}+{} s",
        args.warmup, args.duration
    ));
    let a = api.clone();
    let cpu0 = CpuSnap::take(pid);
    let run = closed_loop(n, warmup, window, move || {
        let a = a.clone();
        async move { a.create_intent().await }
    })
    .await;
    let cpu = cpu0.until(&CpuSnap::take(pid), run.total_ops, tck);
    let create = Closed {
        concurrency: n,
        throughput: run.throughput(),
        per_second: run.per_second(),
        longest_gap_ms: run.longest_gap_ms(),
        latency: Latency::from_us(run.latencies_us),
        errors: run.errors,
        warmup_errors: run.warmup_errors,
        cpu,
    };
    progress(format!(
        "[{name}]   {:.1} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
        create.throughput,
        create.latency.p50_ms,
        create.latency.p99_ms,
        error_total(&create.errors)
    ));

    // Open loop at half the measured peak.
    let rate = (0.5 * create.throughput).max(1.0);
    progress(format!(
        "[{name}] create-intent, open loop at {rate:.0}/s: {}+{} s",
        args.warmup, args.duration
    ));
    let a = api.clone();
    let cpu0 = CpuSnap::take(pid);
    let run = open_loop(rate, warmup, window, 4096, move || {
        let a = a.clone();
        async move { a.create_intent().await }
    })
    .await;
    let cpu = cpu0.until(&CpuSnap::take(pid), run.total_ops, tck);
    let open = Open {
        cpu,
        target_rate: run.rate,
        achieved_rate: run.achieved_rate(),
        scheduled: run.scheduled,
        latency: run.latency(),
        errors: run.errors.clone(),
        max_dispatch_lag_ms: run.max_dispatch_lag_us as f64 / 1000.0,
        max_in_flight: run.max_in_flight,
    };
    progress(format!(
        "[{name}]   p50 {:.2} ms, p99 {:.2} ms, {} errors",
        open.latency.p50_ms,
        open.latency.p99_ms,
        error_total(&open.errors)
    ));
    if open.max_dispatch_lag_ms > 5.0 {
        notes.push(format!(
            "open loop: the dispatcher ran up to {:.1} ms behind schedule (CPU shared with the server); that lateness is included in the latencies",
            open.max_dispatch_lag_ms
        ));
    }

    // Create + confirm pairs; the succeeded webhooks are timed against the confirm responses.
    progress(format!(
        "[{name}] create+confirm, closed loop, c={n}: {}+{} s",
        args.warmup, args.duration
    ));
    let a = api.clone();
    let cpu0 = CpuSnap::take(pid);
    let run = closed_loop(n, warmup, window, move || {
        let a = a.clone();
        async move { a.create_and_confirm().await }
    })
    .await;
    let cpu = cpu0.until(&CpuSnap::take(pid), run.total_ops, tck);
    let pair = Closed {
        concurrency: n,
        throughput: run.throughput(),
        per_second: run.per_second(),
        longest_gap_ms: run.longest_gap_ms(),
        latency: Latency::from_us(run.latencies_us),
        errors: run.errors,
        warmup_errors: run.warmup_errors,
        cpu,
    };
    let pair_outputs = run.outputs;
    progress(format!(
        "[{name}]   {:.1} pairs/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
        pair.throughput,
        pair.latency.p50_ms,
        pair.latency.p99_ms,
        error_total(&pair.errors)
    ));

    let wait_started = Instant::now();
    let deadline = wait_started + Duration::from_secs(args.webhook_wait);
    loop {
        let missing = receiver
            .hooks
            .missing(pair_outputs.iter().map(|(id, _)| id.as_str()));
        if missing == 0 || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waited_s = wait_started.elapsed().as_secs_f64();
    let mut lat = Vec::with_capacity(pair_outputs.len());
    for (id, confirmed) in &pair_outputs {
        if let Some(at) = receiver.hooks.arrival(id) {
            lat.push(signed_us(at, *confirmed));
        }
    }
    let webhooks = Webhooks {
        expected: pair_outputs.len(),
        arrived: lat.len(),
        arrived_before_response: lat.iter().filter(|&&v| v < 0).count(),
        latency: Latency::from_us(lat),
        duplicates: receiver
            .hooks
            .duplicates
            .load(std::sync::atomic::Ordering::Relaxed),
        other: receiver
            .hooks
            .other
            .load(std::sync::atomic::Ordering::Relaxed),
        waited_s,
        poll_interval_ms: args.webhook_poll_ms,
    };
    progress(format!(
        "[{name}]   webhooks {}/{} arrived, p50 {:.2} ms, p99 {:.2} ms",
        webhooks.arrived, webhooks.expected, webhooks.latency.p50_ms, webhooks.latency.p99_ms
    ));

    // Off-session renewals: a saved card charged without the customer, created and confirmed in
    // one request (what the subscription engine does for every invoice).
    progress(format!(
        "[{name}] off-session renewal, closed loop, c={n}: {}+{} s",
        args.warmup, args.duration
    ));
    let body = api.saved_card_renewal_body().await?;
    let a = api.clone();
    let cpu0 = CpuSnap::take(pid);
    let run = closed_loop(n, warmup, window, move || {
        let a = a.clone();
        async move { a.renew(body).await }
    })
    .await;
    let cpu = cpu0.until(&CpuSnap::take(pid), run.total_ops, tck);
    let renewal = Closed {
        concurrency: n,
        throughput: run.throughput(),
        per_second: run.per_second(),
        longest_gap_ms: run.longest_gap_ms(),
        latency: Latency::from_us(run.latencies_us),
        errors: run.errors,
        warmup_errors: run.warmup_errors,
        cpu,
    };
    progress(format!(
        "[{name}]   {:.1} renewals/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
        renewal.throughput,
        renewal.latency.p50_ms,
        renewal.latency.p99_ms,
        error_total(&renewal.errors)
    ));

    let hwm_kb = proc_status_kb(kassa.pid, "VmHWM");
    let (peak_kb, samples) = sampler.finish().await;
    let memory = Memory {
        peak_rss_mb: peak_kb as f64 / 1024.0,
        vm_hwm_mb: hwm_kb.map(|k| k as f64 / 1024.0),
        samples,
    };
    progress(format!("[{name}] stopping kassa (SIGTERM)"));
    match kassa.stop().await {
        Ok(Some(status)) if !status.success() => {
            notes.push(format!("kassa exited with {status} after SIGTERM"))
        }
        Ok(_) => {}
        Err(e) => notes.push(format!("{e:#}")),
    }
    receiver.stop().await;
    let (warn, error, examples) = scan_log(&kassa.log_path);
    let log = LogScan {
        warn,
        error,
        examples,
    };

    // The bare-database baseline again, with the server stopped; the rate is the mean of
    // both rounds so that drift in the machine's load shows up rather than skewing the ratio.
    let (after, baseline_alt) = baseline_round(&bctx, &intent_json, Some(rate), &mut notes).await;
    if let Some(mut d) = base_db {
        if let Err(e) = d.drop_db().await {
            eprintln!("warning: could not drop database {}: {e:#}", d.name);
        }
    }
    let baseline = baseline::merge_rounds(before, after);

    // Live payments through the Stripe connector against localstripe, on a second server in
    // the production profile: last, so that every figure above is measured as without it.
    let stripe = stripe_phase::run(args, env, url, scratch, &merchant, name).await;

    if let Some(b) = &baseline {
        progress(format!(
            "[{name}]   baseline {:.1} tx/s (mean of rounds)",
            b.tps
        ));
    }

    Ok(DbResult {
        db: name,
        label: match db {
            Db::Sqlite => "SQLite (embedded, WAL)",
            Db::Postgres => "PostgreSQL 127.0.0.1:5432",
        },
        create,
        open,
        pair,
        renewal,
        stripe,
        webhooks,
        memory,
        baseline,
        baseline_alt,
        intent_json_bytes: intent_json.len(),
        log,
        notes,
    })
}

struct BaselineCtx {
    db: Db,
    url: String,
    scratch: PathBuf,
    workers: usize,
    warmup: Duration,
    window: Duration,
}

/// One round of the bare-database baseline: (primary, reference). SQLite: sqlx from Rust.
/// PostgreSQL: pgbench, plus sqlx from Rust for reference when `open_rate` is given (the open
/// loop at Kassa's rate runs on the sqlx pool).
async fn baseline_round(
    c: &BaselineCtx,
    intent_json: &str,
    open_rate: Option<f64>,
    notes: &mut Vec<String>,
) -> (Option<baseline::Baseline>, Option<baseline::Baseline>) {
    let name = c.db.name();
    let n = c.workers;
    let secs = format!("{}+{} s", c.warmup.as_secs(), c.window.as_secs());
    let data = Arc::new(intent_json.to_string());
    match c.db {
        Db::Sqlite => {
            progress(format!(
                "[{name}] bare-DB baseline (sqlx, 1 writer, WAL), {n} tasks: {secs}{}",
                if open_rate.is_some() {
                    " + open loop"
                } else {
                    ""
                }
            ));
            match baseline::sqlx_baseline(&c.url, true, n, c.warmup, c.window, data, open_rate)
                .await
            {
                Ok(b) => {
                    progress(format!("[{name}]   {:.1} tx/s", b.tps));
                    (Some(b), None)
                }
                Err(e) => {
                    notes.push(format!("SQLite baseline failed: {e:#}"));
                    (None, None)
                }
            }
        }
        Db::Postgres => {
            progress(format!(
                "[{name}] bare-DB baseline (pgbench), c={n}: {secs}"
            ));
            let pgb =
                match baseline::pgbench(&c.url, n, c.warmup, c.window, intent_json, &c.scratch)
                    .await
                {
                    Ok(Some(b)) => {
                        progress(format!("[{name}]   {:.1} tx/s", b.tps));
                        Some(b)
                    }
                    Ok(None) => {
                        notes.push("pgbench not found; the baseline is sqlx from Rust".into());
                        None
                    }
                    Err(e) => {
                        notes.push(format!("pgbench baseline failed: {e:#}"));
                        None
                    }
                };
            if pgb.is_some() && open_rate.is_none() {
                return (pgb, None);
            }
            progress(format!(
                "[{name}] bare-DB baseline (sqlx pool of {n}): {secs}{}",
                if open_rate.is_some() {
                    " + open loop"
                } else {
                    ""
                }
            ));
            let sqlx_b = match baseline::sqlx_baseline(
                &c.url, false, n, c.warmup, c.window, data, open_rate,
            )
            .await
            {
                Ok(b) => {
                    progress(format!("[{name}]   {:.1} tx/s", b.tps));
                    Some(b)
                }
                Err(e) => {
                    notes.push(format!("sqlx PostgreSQL baseline failed: {e:#}"));
                    None
                }
            };
            match (pgb, sqlx_b) {
                (Some(p), s) => (Some(p), s),
                (None, s) => (s, None),
            }
        }
    }
}
