//! The system under test and its surroundings: the `kassa` process (started fresh, stopped with
//! SIGTERM even on error), a scratch directory, a throw-away PostgreSQL database and the memory
//! sampler.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rand::distributions::Alphanumeric;
use rand::Rng;
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// A random alphanumeric string.
pub fn token(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Settings passed to every `kassa` invocation of one run.
#[derive(Clone)]
pub struct KassaEnv {
    pub bin: PathBuf,
    pub master_key: String,
    pub max_connections: Option<u32>,
    pub webhook_poll_ms: Option<u64>,
    /// Set for the live-mode phase: the production profile behind an https base URL, with the
    /// Stripe connector pointed at this localstripe base URL (see `stripe_phase`).
    pub live_stripe_api: Option<String>,
}

impl KassaEnv {
    /// A `kassa` command with a clean, explicit environment: no inherited `KASSA_*` settings and
    /// no proxies (the webhook client must talk to 127.0.0.1 directly).
    fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("KASSA_") {
                c.env_remove(&k);
            }
        }
        for k in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ] {
            c.env_remove(k);
        }
        c.env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .env("KASSA_MASTER_KEY", &self.master_key)
            .env("KASSA_DEMO_MERCHANT", "false")
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1");
        if let Some(n) = self.max_connections {
            c.env("KASSA_MAX_CONNECTIONS", n.to_string());
        }
        if let Some(ms) = self.webhook_poll_ms {
            c.env("KASSA_WEBHOOK_POLL_INTERVAL_MS", ms.to_string());
        }
        if let Some(api) = &self.live_stripe_api {
            // Live keys work only in production behind https (the server itself still listens
            // on plain http on 127.0.0.1); production reaches loopback only when allowed.
            c.env("KASSA_PROFILE", "production")
                .env("KASSA_BASE_URL", "https://pay.example")
                .env("KASSA_STRIPE_API_BASE", api)
                .env("KASSA_STRIPE_COMPAT", "localstripe")
                .env("KASSA_EGRESS_ALLOW", "127.0.0.1");
        }
        c.stdin(Stdio::null()).kill_on_drop(true);
        c
    }

    /// `kassa merchant create --json`: returns (merchant id, secret key).
    pub async fn create_merchant(&self, database_url: &str) -> anyhow::Result<(String, String)> {
        let mut c = self.command();
        c.args([
            "merchant",
            "create",
            "--name",
            "Kassa Bench",
            "--json",
            "--database-url",
            database_url,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let out = tokio::time::timeout(Duration::from_secs(60), c.output())
            .await
            .context("`kassa merchant create` took over 60 s")?
            .context("running `kassa merchant create`")?;
        if !out.status.success() {
            bail!(
                "`kassa merchant create` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .context("`kassa merchant create --json` did not print JSON")?;
        let id = v["id"].as_str().unwrap_or_default().to_string();
        let sk = v["secret_key"]
            .as_str()
            .context("no secret_key in `kassa merchant create` output")?
            .to_string();
        Ok((id, sk))
    }

    /// `kassa merchant keys --mode live --json`: returns the new live secret key.
    pub async fn create_live_key(
        &self,
        database_url: &str,
        merchant: &str,
    ) -> anyhow::Result<String> {
        let mut c = self.command();
        c.args(["merchant", "keys", "--merchant", merchant, "--mode", "live"])
            .args(["--json", "--database-url", database_url])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = tokio::time::timeout(Duration::from_secs(60), c.output())
            .await
            .context("`kassa merchant keys` took over 60 s")?
            .context("running `kassa merchant keys`")?;
        if !out.status.success() {
            bail!(
                "`kassa merchant keys --mode live` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .context("`kassa merchant keys --json` did not print JSON")?;
        Ok(v["secret_key"]
            .as_str()
            .context("no secret_key in `kassa merchant keys` output")?
            .to_string())
    }
}

/// A running `kassa serve`. Dropping it without [`Kassa::stop`] still sends SIGTERM and waits
/// (then SIGKILL after 10 s), so the server never outlives the benchmark.
pub struct Kassa {
    child: Option<Child>,
    pub pid: u32,
    pub base: String,
    pub log_path: PathBuf,
}

pub(crate) fn sigterm(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl Kassa {
    /// Starts `kassa serve` on a free 127.0.0.1 port (it binds port 0 and prints the address)
    /// and waits for `GET /readyz`.
    pub async fn start(
        env: &KassaEnv,
        database_url: &str,
        log_path: PathBuf,
        client: &reqwest::Client,
    ) -> anyhow::Result<Kassa> {
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut c = env.command();
        c.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database_url,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
        let mut child = c
            .spawn()
            .with_context(|| format!("starting {}", env.bin.display()))?;
        let pid = child.id().context("kassa has no pid")?;
        let stdout = child.stdout.take().context("kassa stdout")?;
        let mut kassa = Kassa {
            child: Some(child),
            pid,
            base: String::new(),
            log_path,
        };
        let mut lines = BufReader::new(stdout).lines();
        let found = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.trim().strip_prefix("Kassa is listening on http://") {
                    return Some(rest.to_string());
                }
            }
            None
        })
        .await;
        let addr = match found {
            Ok(Some(addr)) => addr,
            Ok(None) => bail!(
                "kassa exited before listening; its log ends with:\n{}",
                log_tail(&kassa.log_path, 20)
            ),
            Err(_) => bail!("kassa did not start listening within 60 s"),
        };
        if !addr.starts_with("127.0.0.1:") {
            bail!("kassa listens on {addr}, expected 127.0.0.1");
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        kassa.base = format!("http://{addr}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = client
                .get(format!("{}/readyz", kassa.base))
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ok {
                break;
            }
            if Instant::now() >= deadline {
                bail!("kassa did not become ready within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(kassa)
    }

    /// SIGTERM, then wait up to 30 s for the graceful shutdown (SIGKILL after that).
    pub async fn stop(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        let Some(mut child) = self.child.take() else {
            return Ok(None);
        };
        if let Ok(Some(status)) = child.try_wait() {
            return Ok(Some(status));
        }
        sigterm(self.pid);
        match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
            Ok(status) => Ok(Some(status?)),
            Err(_) => {
                let _ = child.kill().await;
                bail!("kassa did not stop within 30 s of SIGTERM and was killed")
            }
        }
    }
}

impl Drop for Kassa {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        sigterm(self.pid);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    let _ = child.start_kill();
                    return;
                }
            }
        }
    }
}

/// A scratch directory, removed on drop.
pub struct ScratchDir(pub PathBuf);

impl ScratchDir {
    pub fn new() -> anyhow::Result<ScratchDir> {
        let p = std::env::temp_dir().join(format!(
            "kassa-bench-{}-{}",
            std::process::id(),
            token(6).to_lowercase()
        ));
        std::fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        Ok(ScratchDir(p))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh PostgreSQL database, dropped by [`PgDb::drop_db`] or, failing that, on drop.
pub struct PgDb {
    server: String,
    pub name: String,
    dropped: bool,
}

async fn drop_database(server: &str, name: &str) -> anyhow::Result<()> {
    let mut c = sqlx::PgConnection::connect(&format!("{server}/postgres")).await?;
    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    sqlx::raw_sql(&sql).execute(&mut c).await?;
    c.close().await?;
    Ok(())
}

impl PgDb {
    /// `server` is `postgres://user@host:port` without a database.
    pub async fn create(server: &str, label: &str) -> anyhow::Result<PgDb> {
        let name = format!("kassa_bench_{}_{label}", token(8).to_lowercase());
        let mut c = sqlx::PgConnection::connect(&format!("{server}/postgres"))
            .await
            .with_context(|| format!("connecting to PostgreSQL at {server}"))?;
        sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut c)
            .await
            .with_context(|| format!("creating database {name}"))?;
        c.close().await?;
        Ok(PgDb {
            server: server.to_string(),
            name,
            dropped: false,
        })
    }

    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }

    pub async fn drop_db(&mut self) -> anyhow::Result<()> {
        if !self.dropped {
            self.dropped = true;
            drop_database(&self.server, &self.name).await?;
        }
        Ok(())
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop may run inside the async runtime: use a separate thread with its own runtime.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                let _ = rt.block_on(async move {
                    tokio::time::timeout(Duration::from_secs(10), drop_database(&server, &name))
                        .await
                });
            }
        })
        .join();
    }
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`).
pub fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// Samples `VmRSS` every 100 ms and keeps the peak.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak_kb: Arc<AtomicU64>,
    samples: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl RssSampler {
    pub fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak_kb = Arc::new(AtomicU64::new(0));
        let samples = Arc::new(AtomicU64::new(0));
        let (s, p, n) = (stop.clone(), peak_kb.clone(), samples.clone());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            while !s.load(Ordering::Relaxed) {
                tick.tick().await;
                match proc_status_kb(pid, "VmRSS") {
                    Some(kb) => {
                        p.fetch_max(kb, Ordering::Relaxed);
                        n.fetch_add(1, Ordering::Relaxed);
                    }
                    None => break,
                }
            }
        });
        RssSampler {
            stop,
            peak_kb,
            samples,
            task,
        }
    }

    /// Stops sampling; returns (peak kB, number of samples).
    pub async fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = tokio::time::timeout(Duration::from_secs(1), self.task).await;
        (
            self.peak_kb.load(Ordering::Relaxed),
            self.samples.load(Ordering::Relaxed),
        )
    }
}

/// Counts WARN and ERROR lines in the server log and keeps a few distinct examples.
pub fn scan_log(path: &Path) -> (usize, usize, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let (mut warn, mut error) = (0, 0);
    let mut examples: Vec<String> = Vec::new();
    for line in text.lines() {
        let is_error = line.contains(" ERROR ");
        let is_warn = line.contains(" WARN ");
        if is_error {
            error += 1;
        } else if is_warn {
            warn += 1;
        } else {
            continue;
        }
        // Strip the timestamp so repeated messages collapse.
        let msg = line.split_once(' ').map(|(_, m)| m).unwrap_or(line).trim();
        let msg: String = msg.chars().take(300).collect();
        if examples.len() < 5 && !examples.contains(&msg) {
            examples.push(msg);
        }
    }
    (warn, error, examples)
}

/// CPU time counters at one instant: the kassa process, this process and the whole machine.
#[derive(Clone, Copy)]
pub struct CpuSnap {
    at: Instant,
    kassa_ticks: Option<u64>,
    bench_ticks: Option<u64>,
    /// (busy, total) jiffies over all CPUs.
    machine: Option<(u64, u64)>,
}

/// CPU use over an interval; percentages are of ONE core (a 2-core machine tops out at 200 %).
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuUse {
    pub kassa_pct: f64,
    pub bench_pct: f64,
    /// Busy share of all cores, including other tenants of the machine.
    pub machine_busy_pct: f64,
    /// Kassa CPU microseconds per operation.
    pub kassa_us_per_op: f64,
}

/// Clock ticks per second for `/proc/<pid>/stat` (USER_HZ; 100 on Linux unless `getconf`
/// says otherwise).
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse::<f64>().ok())
        .filter(|v| *v > 0.0)
        .unwrap_or(100.0)
}

/// utime + stime of a process, in clock ticks.
pub(crate) fn proc_ticks(pid: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name start at field 3 (state).
    let rest = text.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn machine_jiffies() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .take(8)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 5 {
        return None;
    }
    let total: u64 = v.iter().sum();
    let idle = v[3] + v[4];
    Some((total - idle, total))
}

impl CpuSnap {
    pub fn take(kassa_pid: u32) -> CpuSnap {
        CpuSnap {
            at: Instant::now(),
            kassa_ticks: proc_ticks(&kassa_pid.to_string()),
            bench_ticks: proc_ticks("self"),
            machine: machine_jiffies(),
        }
    }

    /// Use between `self` (earlier) and `later`, with `ops` operations done in between.
    pub fn until(&self, later: &CpuSnap, ops: u64, ticks_per_sec: f64) -> CpuUse {
        let secs = (later.at - self.at).as_secs_f64().max(1e-3);
        let pct = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => b.saturating_sub(a) as f64 / ticks_per_sec / secs * 100.0,
            _ => 0.0,
        };
        let kassa_pct = pct(self.kassa_ticks, later.kassa_ticks);
        let machine_busy_pct = match (self.machine, later.machine) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
                b1.saturating_sub(b0) as f64 / (t1 - t0) as f64 * 100.0
            }
            _ => 0.0,
        };
        CpuUse {
            kassa_pct,
            bench_pct: pct(self.bench_ticks, later.bench_ticks),
            machine_busy_pct,
            kassa_us_per_op: if ops > 0 {
                kassa_pct / 100.0 * secs * 1e6 / ops as f64
            } else {
                0.0
            },
        }
    }
}
