//! `kassa-bench`: the documented benchmark of a Kassa release build (see bench/README.md).
//!
//! For each database it starts a fresh `kassa serve`, drives it over HTTP on 127.0.0.1 and
//! prints a table (also written as JSON): create-intent throughput and latency in a closed loop,
//! latency at half that rate in an open loop, create+confirm pairs, webhook delivery latency,
//! peak memory, and the same insert transaction run directly against the database. Last, live
//! create+confirm pairs through the Stripe connector against localstripe (skipped without it).
#![forbid(unsafe_code)]

mod baseline;
mod load;
mod receiver;
mod report;
mod run_db;
mod server;
mod stats;
mod stripe_phase;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use clap::{Parser, ValueEnum};
use serde_json::json;

use crate::report::{DbResult, Machine};
use crate::run_db::run_db;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum DbChoice {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Db {
    Sqlite,
    Postgres,
}

impl Db {
    fn name(self) -> &'static str {
        match self {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres",
        }
    }
}

/// Load-tests a Kassa release build against SQLite and/or PostgreSQL.
#[derive(Parser, Debug)]
#[command(name = "kassa-bench", version)]
struct Args {
    /// Which database(s) to run against.
    #[arg(long, value_enum, default_value = "both")]
    db: DbChoice,
    /// Seconds per measured phase.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Warm-up seconds before each measured phase (not counted).
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Concurrent workers in the closed-loop phases and baseline connections.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// The `kassa` binary [default: `kassa` next to this binary, i.e. target/release/kassa].
    #[arg(long, env = "KASSA_BENCH_KASSA_BIN")]
    kassa_bin: Option<PathBuf>,
    /// PostgreSQL server (no database name; a fresh database is created and dropped per run).
    #[arg(
        long,
        env = "KASSA_BENCH_PG",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    pg_server: String,
    /// Where to write the JSON results [default: <target dir>/bench-results.json].
    #[arg(long)]
    output: Option<PathBuf>,
    /// Pass KASSA_MAX_CONNECTIONS to the server (default: Kassa's own default).
    #[arg(long)]
    kassa_max_connections: Option<u32>,
    /// Pass KASSA_WEBHOOK_POLL_INTERVAL_MS to the server (default: Kassa's own default).
    #[arg(long)]
    webhook_poll_ms: Option<u64>,
    /// Seconds to wait at the end for outstanding webhooks.
    #[arg(long, default_value_t = 10)]
    webhook_wait: u64,
    /// localstripe for the Stripe phase [default: <repo>/.venv/bin/localstripe; the phase is
    /// skipped when it is missing].
    #[arg(long, env = "KASSA_BENCH_LOCALSTRIPE")]
    localstripe: Option<PathBuf>,
    /// Skip the phase that pays through the Stripe connector against localstripe.
    #[arg(long)]
    no_stripe: bool,
}

fn progress(msg: impl AsRef<str>) {
    eprintln!("  … {}", msg.as_ref());
}

/// The host part of `scheme://[user@]host[:port]`.
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = hostport.strip_prefix('[') {
        return v6.split(']').next();
    }
    hostport.split(':').next()
}

fn check_args(args: &Args) -> anyhow::Result<()> {
    if args.duration == 0 || args.duration > 3600 {
        bail!("--duration must be between 1 and 3600 seconds");
    }
    if args.warmup > 600 {
        bail!("--warmup must be at most 600 seconds");
    }
    if args.concurrency == 0 || args.concurrency > 1024 {
        bail!("--concurrency must be between 1 and 1024");
    }
    if args.webhook_wait > 600 {
        bail!("--webhook-wait must be at most 600 seconds");
    }
    if args.db != DbChoice::Sqlite {
        let server = args.pg_server.trim_end_matches('/');
        match url_host(server) {
            Some("127.0.0.1" | "localhost" | "::1") => {}
            _ => bail!("--pg-server must point at 127.0.0.1 (got {server})"),
        }
        if server
            .split_once("://")
            .is_some_and(|(_, r)| r.contains('/'))
        {
            bail!("--pg-server must not name a database (a fresh one is created per run)");
        }
    }
    Ok(())
}

fn locate_kassa(args: &Args) -> anyhow::Result<PathBuf> {
    let bin = match &args.kassa_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .context("locating this binary")?
            .parent()
            .context("this binary has no directory")?
            .join("kassa"),
    };
    if !bin.is_file() {
        bail!(
            "{} not found: build it with `cargo build --release -p kassa` or pass --kassa-bin",
            bin.display()
        );
    }
    Ok(bin)
}

fn default_output() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("bench-results.json")))
        .unwrap_or_else(|| PathBuf::from("target/bench-results.json"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = tokio::select! {
        r = run(args) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted; servers stopped and scratch databases removed")),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("kassa-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Returns whether every database run completed.
async fn run(args: Args) -> anyhow::Result<bool> {
    check_args(&args)?;
    let bin = locate_kassa(&args)?;
    let machine = Machine::detect();
    let dbs = match args.db {
        DbChoice::Sqlite => vec![Db::Sqlite],
        DbChoice::Postgres => vec![Db::Postgres],
        DbChoice::Both => vec![Db::Sqlite, Db::Postgres],
    };
    eprintln!(
        "kassa-bench: {} against {}; {} s warm-up + {} s per phase, concurrency {}",
        bin.display(),
        dbs.iter()
            .map(|d| d.name())
            .collect::<Vec<_>>()
            .join(" and "),
        args.warmup,
        args.duration,
        args.concurrency
    );
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for db in dbs {
        let started = Instant::now();
        match run_db(&args, &bin, db).await {
            Ok(r) => {
                eprintln!(
                    "  [{}] done in {:.0} s",
                    db.name(),
                    started.elapsed().as_secs_f64()
                );
                results.push(r);
            }
            Err(e) => {
                eprintln!("kassa-bench: {} run failed: {e:#}", db.name());
                failures.push(json!({ "db": db.name(), "error": format!("{e:#}") }));
            }
        }
    }
    for r in &results {
        r.print();
    }
    for f in &failures {
        println!();
        println!(
            "=== {}: FAILED ===\n{}",
            f["db"].as_str().unwrap_or("?"),
            f["error"].as_str().unwrap_or("?")
        );
    }
    println!();
    println!("{}", machine.note());
    println!(
        "config: {} s warm-up + {} s per phase, concurrency {}, kassa {}",
        args.warmup,
        args.duration,
        args.concurrency,
        bin.display()
    );
    let doc = json!({
        "generated_at_unix_ms": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        "machine": machine.to_json(),
        "config": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "concurrency": args.concurrency,
            "kassa_bin": bin.display().to_string(),
            "kassa_max_connections": args.kassa_max_connections,
            "webhook_poll_ms": args.webhook_poll_ms,
            "stripe_phase": !args.no_stripe,
        },
        "results": results.iter().map(DbResult::to_json).collect::<Vec<_>>(),
        "failures": failures,
    });
    let out = args.output.clone().unwrap_or_else(default_output);
    write_json(&out, &doc)?;
    println!("results written to {}", out.display());
    Ok(failures.is_empty() && !results.iter().any(|r| r.stripe.failed()))
}

fn write_json(path: &Path, doc: &serde_json::Value) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    std::fs::write(path, serde_json::to_string_pretty(doc)? + "\n")
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::url_host;

    #[test]
    fn host_of_urls() {
        assert_eq!(
            url_host("postgres://postgres@127.0.0.1:5432"),
            Some("127.0.0.1")
        );
        assert_eq!(url_host("postgres://u:p@localhost/x"), Some("localhost"));
        assert_eq!(url_host("postgres://[::1]:5432"), Some("::1"));
        assert_eq!(
            url_host("postgres://db.example.com"),
            Some("db.example.com")
        );
    }
}
