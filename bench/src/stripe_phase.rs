//! The live-mode phase (bench/README.md, step 7b): create+confirm pairs through Kassa's Stripe
//! connector against localstripe, a fake Stripe in Python started here as a child process.
//!
//! It runs after the other phases and the second baseline round, on the same database, with a
//! second `kassa serve` in the production profile; the first server has stopped by then, so
//! the sandbox figures are measured exactly as without this phase. localstripe serves every
//! request on one Python thread, so the phase measures localstripe more than Kassa: the table
//! shows localstripe's CPU beside Kassa's to make that visible.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::load::{self, closed_loop, error_total, Api};
use crate::report::{Closed, LogScan};
use crate::server::{
    clock_ticks, log_tail, proc_status_kb, proc_ticks, scan_log, sigterm, CpuSnap, Kassa, KassaEnv,
};
use crate::stats::{round1, Latency};
use crate::{progress, Args};

/// The merchant's Stripe secret key (localstripe takes any `sk_…`; live mode wants a live one).
const STRIPE_KEY: &str = "sk_live_bench_0001";
const ACCOUNT_BODY: &str =
    r#"{"connector":"stripe","credentials":{"secret_key":"sk_live_bench_0001"}}"#;
/// The test cards (4242…, pm_card_visa) are declined in live mode; this number is in no test
/// suite's list, so Kassa sends it on to the processor.
const LIVE_CONFIRM_BODY: &str = r#"{"payment_method_data":{"type":"card","card":{"number":"4485275742308327","exp_month":12,"exp_year":2034,"cvc":"123"}}}"#;

/// The phase's result: measured, skipped (localstripe missing or `--no-stripe`), or failed.
pub enum StripeOutcome {
    Ran(Box<StripeResult>),
    Skipped(String),
    Failed(String),
}

pub struct StripeResult {
    pub pair: Closed,
    /// localstripe's CPU time over the phase, as a percentage of one core.
    pub localstripe_pct: f64,
    pub localstripe_us_per_op: f64,
    pub localstripe_rss_mb: Option<f64>,
    pub log: LogScan,
}

/// `<repo>/.venv/bin/localstripe` unless `--localstripe` names another.
fn locate(arg: Option<&Path>) -> PathBuf {
    arg.map(Path::to_path_buf).unwrap_or_else(|| {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../.venv/bin/localstripe"
        ))
    })
}

/// Runs the phase for one database; never fails the database's run.
pub async fn run(
    args: &Args,
    env: &KassaEnv,
    url: &str,
    scratch: &Path,
    merchant: &str,
    name: &str,
) -> StripeOutcome {
    if args.no_stripe {
        return StripeOutcome::Skipped("Stripe phase skipped (--no-stripe)".into());
    }
    let bin = locate(args.localstripe.as_deref());
    if !bin.is_file() {
        return StripeOutcome::Skipped(format!(
            "Stripe phase skipped: localstripe not found at {} (python3 -m venv .venv && \
             .venv/bin/pip install -r tests/interop/requirements.txt, or pass --localstripe)",
            bin.display()
        ));
    }
    match run_inner(args, env, url, scratch, merchant, name, &bin).await {
        Ok(r) => StripeOutcome::Ran(Box::new(r)),
        Err(e) => {
            eprintln!("kassa-bench: [{name}] Stripe phase failed: {e:#}");
            StripeOutcome::Failed(format!("{e:#}"))
        }
    }
}

async fn run_inner(
    args: &Args,
    env: &KassaEnv,
    url: &str,
    scratch: &Path,
    merchant: &str,
    name: &str,
    bin: &Path,
) -> anyhow::Result<StripeResult> {
    let n = args.concurrency;
    let client = load::http_client()?;
    progress(format!("[{name}] Stripe phase: starting localstripe"));
    let mut ls = Localstripe::start(bin, scratch.join("localstripe.log"), &client).await?;
    let live_env = KassaEnv {
        live_stripe_api: Some(ls.base.clone()),
        ..env.clone()
    };
    progress(format!(
        "[{name}] live key; kassa in production, Stripe connector → localstripe {}",
        ls.base
    ));
    let live_key = live_env.create_live_key(url, merchant).await?;
    let mut kassa = Kassa::start(&live_env, url, scratch.join("kassa-live.log"), &client).await?;
    let api = Api::new(client.clone(), &kassa.base, &live_key)?;
    api.post("/v1/processor_accounts", ACCOUNT_BODY)
        .await
        .map_err(|e| anyhow!("adding the Stripe processor account: {e}"))?;
    api.create_and_confirm_with(LIVE_CONFIRM_BODY)
        .await
        .map_err(|e| anyhow!("first live create+confirm failed: {e}"))?;

    progress(format!(
        "[{name}] create+confirm via Stripe → localstripe, closed loop, c={n}: {}+{} s",
        args.warmup, args.duration
    ));
    let tck = clock_ticks();
    let a = api.clone();
    let cpu0 = CpuSnap::take(kassa.pid);
    let ls0 = (Instant::now(), proc_ticks(&ls.pid.to_string()));
    let run = closed_loop(
        n,
        Duration::from_secs(args.warmup),
        Duration::from_secs(args.duration),
        move || {
            let a = a.clone();
            async move {
                a.create_and_confirm_with(LIVE_CONFIRM_BODY)
                    .await
                    .map(|_| ())
            }
        },
    )
    .await;
    let cpu = cpu0.until(&CpuSnap::take(kassa.pid), run.total_ops, tck);
    let ls1 = (Instant::now(), proc_ticks(&ls.pid.to_string()));
    let localstripe_pct = match (ls0.1, ls1.1) {
        (Some(a), Some(b)) => {
            b.saturating_sub(a) as f64 / tck / (ls1.0 - ls0.0).as_secs_f64().max(1e-3) * 100.0
        }
        _ => 0.0,
    };
    let localstripe_us_per_op = if run.total_ops > 0 {
        localstripe_pct / 100.0 * (ls1.0 - ls0.0).as_secs_f64() * 1e6 / run.total_ops as f64
    } else {
        0.0
    };
    let localstripe_rss_mb = proc_status_kb(ls.pid, "VmRSS").map(|k| k as f64 / 1024.0);
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
    progress(format!(
        "[{name}]   {:.1} pairs/s, p50 {:.2} ms, p99 {:.2} ms, {} errors; CPU kassa {:.0} %, localstripe {:.0} %",
        pair.throughput,
        pair.latency.p50_ms,
        pair.latency.p99_ms,
        error_total(&pair.errors),
        pair.cpu.kassa_pct,
        localstripe_pct
    ));
    progress(format!("[{name}] stopping kassa and localstripe"));
    kassa.stop().await?;
    ls.stop().await;
    let (warn, error, examples) = scan_log(&kassa.log_path);
    Ok(StripeResult {
        pair,
        localstripe_pct,
        localstripe_us_per_op,
        localstripe_rss_mb,
        log: LogScan {
            warn,
            error,
            examples,
        },
    })
}

/// A running localstripe. Dropping it without [`Localstripe::stop`] still sends SIGTERM (then
/// SIGKILL after 5 s), so it never outlives the benchmark.
struct Localstripe {
    child: Option<Child>,
    pid: u32,
    base: String,
}

impl Localstripe {
    /// Starts localstripe on a free loopback port and waits until it answers HTTP.
    async fn start(
        bin: &Path,
        log_path: PathBuf,
        client: &reqwest::Client,
    ) -> anyhow::Result<Localstripe> {
        let port = StdListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free port for localstripe")?
            .port();
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let child = Command::new(bin)
            .args(["--port", &port.to_string(), "--from-scratch"])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id().context("localstripe has no pid")?;
        let mut ls = Localstripe {
            child: Some(child),
            pid,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // Any HTTP answer will do: it is up.
            let answered = client
                .get(format!("{}/v1/payment_intents?limit=1", ls.base))
                .bearer_auth(STRIPE_KEY)
                .send()
                .await
                .is_ok();
            if answered {
                return Ok(ls);
            }
            if let Some(Ok(Some(status))) = ls.child.as_mut().map(|c| c.try_wait()) {
                bail!(
                    "localstripe exited ({status}) before answering; its log ends with:\n{}",
                    log_tail(&log_path, 20)
                );
            }
            if Instant::now() >= deadline {
                bail!("localstripe did not answer on {} within 30 s", ls.base);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM, then wait up to 5 s (SIGKILL after that).
    async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        sigterm(self.pid);
        if tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }
}

impl Drop for Localstripe {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        sigterm(self.pid);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.start_kill();
    }
}

/// The row label, next to the sandbox pair row.
pub const ROW: &str = "  via Stripe → localstripe";

impl StripeOutcome {
    pub fn failed(&self) -> bool {
        matches!(self, StripeOutcome::Failed(_))
    }

    /// The table row(s) printed right under the sandbox create+confirm row.
    pub fn print_row(&self) {
        match self {
            StripeOutcome::Ran(r) => {
                let p = &r.pair;
                println!(
                    "{:<34} {:>7.1} p/s {:>9.2} {:>9.2} {:>9.2} {:>8}",
                    format!("{ROW}, c={}", p.concurrency),
                    p.throughput,
                    p.latency.p50_ms,
                    p.latency.p99_ms,
                    p.latency.max_ms,
                    error_total(&p.errors)
                );
            }
            StripeOutcome::Skipped(_) => println!("{ROW:<34} {:>11}", "skipped"),
            StripeOutcome::Failed(_) => println!("{ROW:<34} {:>11}", "FAILED"),
        }
    }

    /// Extra lines under the table: steadiness, CPU with localstripe's, errors, the live
    /// server's log, or why the phase did not run.
    pub fn print_details(&self) {
        let r = match self {
            StripeOutcome::Ran(r) => r,
            StripeOutcome::Skipped(why) => return println!("note: {why}"),
            StripeOutcome::Failed(e) => return println!("note: Stripe phase FAILED: {e}"),
        };
        let p = &r.pair;
        let min = p.per_second.iter().min().copied().unwrap_or(0);
        let max = p.per_second.iter().max().copied().unwrap_or(0);
        println!(
            "{:<34} per-second min {min} / max {max}, first second {}, last {}; longest gap without a completion {:.0} ms",
            "steadiness (Stripe pair)",
            p.per_second.first().copied().unwrap_or(0),
            p.per_second.last().copied().unwrap_or(0),
            p.longest_gap_ms
        );
        println!(
            "{:<34} kassa {:.0}%, localstripe {:.0}%, bench {:.0}%, machine busy {:.0}%; per pair: kassa {:.0} µs, localstripe {:.0} µs",
            "CPU (Stripe pair), % of one core",
            p.cpu.kassa_pct,
            r.localstripe_pct,
            p.cpu.bench_pct,
            p.cpu.machine_busy_pct,
            p.cpu.kassa_us_per_op,
            r.localstripe_us_per_op
        );
        let rss = r
            .localstripe_rss_mb
            .map(|m| format!("; VmRSS {m:.0} MB at the end"))
            .unwrap_or_default();
        // localstripe serves on one thread: a whole core would still cap it at 1 s / its CPU
        // time per pair, whatever Kassa does.
        let cap = if r.localstripe_us_per_op > 0.0 {
            format!(
                "{:.1}× kassa's CPU per pair; one Python thread caps this phase at ~{:.0} pairs/s even with a core to itself",
                r.localstripe_us_per_op / p.cpu.kassa_us_per_op.max(1.0),
                1e6 / r.localstripe_us_per_op
            )
        } else {
            "no CPU figure".into()
        };
        println!(
            "{:<34} {:.0}% of one core{}; {cap}{rss}",
            "localstripe (the bottleneck)",
            r.localstripe_pct,
            if r.localstripe_pct >= 85.0 {
                " (saturated)"
            } else {
                ""
            }
        );
        if !p.errors.is_empty() {
            println!("{:<34} {:?}", "errors (Stripe pair)", p.errors);
        }
        if p.warmup_errors > 0 {
            println!(
                "{:<34} {} during warm-up",
                "errors (Stripe, warm-up)", p.warmup_errors
            );
        }
        println!(
            "{:<34} {} WARN, {} ERROR lines",
            "kassa log (production server)", r.log.warn, r.log.error
        );
        for ex in &r.log.examples {
            println!("    {ex}");
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            StripeOutcome::Ran(r) => {
                let mut v = r.pair.to_json("pairs_per_sec");
                v["localstripe"] = json!({
                    "cpu_pct_of_one_core": round1(r.localstripe_pct),
                    "cpu_us_per_pair": round1(r.localstripe_us_per_op),
                    "pairs_per_sec_cap_on_one_core": (r.localstripe_us_per_op > 0.0)
                        .then(|| round1(1e6 / r.localstripe_us_per_op)),
                    "vm_rss_mb": r.localstripe_rss_mb.map(round1),
                });
                v["kassa_log"] = json!({
                    "warn_lines": r.log.warn,
                    "error_lines": r.log.error,
                    "examples": r.log.examples,
                });
                v
            }
            StripeOutcome::Skipped(why) => json!({ "skipped": why }),
            StripeOutcome::Failed(e) => json!({ "failed": e }),
        }
    }
}
