//! Results: the printed table and the JSON file.

use serde_json::{json, Value};

use crate::baseline::Baseline;
use crate::load::{error_total, Errors};
use crate::server::CpuUse;
use crate::stats::{round1, round3, Latency};
use crate::stripe_phase::StripeOutcome;

pub struct Closed {
    pub concurrency: usize,
    pub throughput: f64,
    pub latency: Latency,
    pub errors: Errors,
    pub warmup_errors: u64,
    pub per_second: Vec<u64>,
    pub longest_gap_ms: f64,
    pub cpu: CpuUse,
}

fn cpu_json(c: &CpuUse) -> Value {
    json!({
        "kassa_pct_of_one_core": round1(c.kassa_pct),
        "bench_pct_of_one_core": round1(c.bench_pct),
        "machine_busy_pct_of_all_cores": round1(c.machine_busy_pct),
        "kassa_cpu_us_per_op": round1(c.kassa_us_per_op),
    })
}

impl Closed {
    pub(crate) fn to_json(&self, rate_name: &str) -> Value {
        json!({
            "concurrency": self.concurrency,
            rate_name: round1(self.throughput),
            "latency": self.latency.to_json(),
            "errors": error_total(&self.errors),
            "error_kinds": self.errors,
            "warmup_errors": self.warmup_errors,
            "completions_per_second": self.per_second,
            "longest_gap_without_completion_ms": round3(self.longest_gap_ms),
            "cpu": cpu_json(&self.cpu),
        })
    }
}

pub struct Open {
    pub target_rate: f64,
    pub achieved_rate: f64,
    pub scheduled: u64,
    pub latency: Latency,
    pub errors: Errors,
    pub max_dispatch_lag_ms: f64,
    pub max_in_flight: usize,
    pub cpu: CpuUse,
}

pub struct Webhooks {
    pub expected: usize,
    pub arrived: usize,
    /// Signed: negative when the webhook arrived before the confirm response was read.
    pub latency: Latency,
    pub arrived_before_response: usize,
    pub duplicates: u64,
    pub other: u64,
    pub waited_s: f64,
    pub poll_interval_ms: Option<u64>,
}

pub struct Memory {
    pub peak_rss_mb: f64,
    pub vm_hwm_mb: Option<f64>,
    pub samples: u64,
}

pub struct LogScan {
    pub warn: usize,
    pub error: usize,
    pub examples: Vec<String>,
}

pub struct DbResult {
    pub db: &'static str,
    pub label: &'static str,
    pub create: Closed,
    pub open: Open,
    pub pair: Closed,
    /// Off-session charges of a saved card (create + confirm in one request).
    pub renewal: Closed,
    /// Live create+confirm pairs through the Stripe connector against localstripe.
    pub stripe: StripeOutcome,
    pub webhooks: Webhooks,
    pub memory: Memory,
    pub baseline: Option<Baseline>,
    pub baseline_alt: Option<Baseline>,
    pub intent_json_bytes: usize,
    pub log: LogScan,
    pub notes: Vec<String>,
}

pub struct Target {
    pub name: &'static str,
    pub met: Option<bool>,
    pub value: String,
}

impl DbResult {
    pub fn vs_baseline_pct(&self) -> Option<f64> {
        let b = self.baseline.as_ref()?;
        (b.tps > 0.0).then(|| 100.0 * self.create.throughput / b.tps)
    }

    /// The bare transaction at the open-loop rate, when measured.
    pub fn baseline_open(&self) -> Option<&crate::baseline::BaselineOpen> {
        [&self.baseline, &self.baseline_alt]
            .into_iter()
            .flatten()
            .find_map(|b| b.open.as_ref())
    }

    pub fn peak_mb(&self) -> f64 {
        self.memory
            .peak_rss_mb
            .max(self.memory.vm_hwm_mb.unwrap_or(0.0))
    }

    pub fn targets(&self) -> Vec<Target> {
        let pct = self.vs_baseline_pct();
        let complete = self.webhooks.arrived == self.webhooks.expected;
        vec![
            Target {
                name: "create-intent ≥ 50 % of bare-DB rate",
                met: pct.map(|p| p >= 50.0),
                value: pct
                    .map(|p| format!("{p:.1} %"))
                    .unwrap_or_else(|| "no baseline".into()),
            },
            Target {
                name: "p99 < 20 ms at half peak",
                met: Some(self.open.latency.count > 0 && self.open.latency.p99_ms < 20.0),
                value: format!("{:.2} ms", self.open.latency.p99_ms),
            },
            Target {
                name: "webhook p99 < 250 ms",
                met: Some(
                    complete && self.webhooks.expected > 0 && self.webhooks.latency.p99_ms < 250.0,
                ),
                value: if complete {
                    format!("{:.2} ms", self.webhooks.latency.p99_ms)
                } else {
                    format!(
                        "{:.2} ms, {} of {} missing",
                        self.webhooks.latency.p99_ms,
                        self.webhooks.expected - self.webhooks.arrived,
                        self.webhooks.expected
                    )
                },
            },
            Target {
                name: "peak RSS < 100 MB",
                met: Some(self.peak_mb() < 100.0),
                value: format!("{:.1} MB", self.peak_mb()),
            },
        ]
    }

    pub fn print(&self) {
        let c = &self.create;
        let o = &self.open;
        let p = &self.pair;
        let w = &self.webhooks;
        println!();
        println!("=== {} ===", self.label);
        println!(
            "{:<34} {:>11} {:>9} {:>9} {:>9} {:>8}",
            "phase", "rate", "p50 ms", "p99 ms", "max ms", "errors"
        );
        println!("{}", "-".repeat(85));
        println!(
            "{:<34} {:>7.1} r/s {:>9.2} {:>9.2} {:>9.2} {:>8}",
            format!("create-intent, closed, c={}", c.concurrency),
            c.throughput,
            c.latency.p50_ms,
            c.latency.p99_ms,
            c.latency.max_ms,
            error_total(&c.errors)
        );
        println!(
            "{:<34} {:>7.1} r/s {:>9.2} {:>9.2} {:>9.2} {:>8}",
            format!("create-intent, open @ {:.0}/s", o.target_rate),
            o.achieved_rate,
            o.latency.p50_ms,
            o.latency.p99_ms,
            o.latency.max_ms,
            error_total(&o.errors)
        );
        if let Some(b) = self.baseline_open() {
            println!(
                "{:<34} {:>11} {:>9.2} {:>9.2} {:>9.2} {:>8}",
                format!("  bare-DB tx, open @ {:.0}/s", b.rate),
                "(same rate)",
                b.latency.p50_ms,
                b.latency.p99_ms,
                b.latency.max_ms,
                error_total(&b.errors)
            );
        }
        println!(
            "{:<34} {:>7.1} p/s {:>9.2} {:>9.2} {:>9.2} {:>8}",
            format!("create+confirm pair, closed, c={}", p.concurrency),
            p.throughput,
            p.latency.p50_ms,
            p.latency.p99_ms,
            p.latency.max_ms,
            error_total(&p.errors)
        );
        self.stripe.print_row();
        let r = &self.renewal;
        println!(
            "{:<34} {:>7.1} r/s {:>9.2} {:>9.2} {:>9.2} {:>8}",
            format!("off-session renewal, closed, c={}", r.concurrency),
            r.throughput,
            r.latency.p50_ms,
            r.latency.p99_ms,
            r.latency.max_ms,
            error_total(&r.errors)
        );
        println!(
            "{:<34} {:>11} {:>9.2} {:>9.2} {:>9.2} {:>8}",
            "webhook (confirm resp → receipt)",
            format!("{}/{}", w.arrived, w.expected),
            w.latency.p50_ms,
            w.latency.p99_ms,
            w.latency.max_ms,
            w.expected - w.arrived
        );
        println!("{}", "-".repeat(85));
        let hwm = self
            .memory
            .vm_hwm_mb
            .map(|m| format!(", VmHWM {m:.1} MB"))
            .unwrap_or_default();
        println!(
            "{:<34} {:.1} MB sampled every 100 ms ({} samples){hwm}",
            "peak RSS of kassa", self.memory.peak_rss_mb, self.memory.samples
        );
        match &self.baseline {
            Some(b) => println!(
                "{:<34} {:.1} tx/s{}  [{}]{}",
                "bare-DB baseline",
                b.tps,
                rounds_suffix(&b.rounds),
                b.method,
                errors_suffix(&b.errors)
            ),
            None => println!("{:<34} not measured", "bare-DB baseline"),
        }
        if let Some(b) = &self.baseline_alt {
            println!(
                "{:<34} {:.1} tx/s  [{}]{}",
                "  (for reference)",
                b.tps,
                b.method,
                errors_suffix(&b.errors)
            );
        }
        if let Some(pct) = self.vs_baseline_pct() {
            println!("{:<34} {pct:.1} %", "create-intent / baseline");
        }
        println!(
            "{:<34} {} deliveries, {} duplicates, {} other; {} arrived before the confirm response; waited {:.1} s at the end",
            "webhook receiver",
            w.arrived as u64 + w.duplicates + w.other,
            w.duplicates,
            w.other,
            w.arrived_before_response,
            w.waited_s
        );
        println!(
            "{:<34} dispatch lag max {:.1} ms, max {} in flight, {} scheduled",
            "open loop", o.max_dispatch_lag_ms, o.max_in_flight, o.scheduled
        );
        for (name, r) in [("create", c), ("pair", p), ("renewal", &self.renewal)] {
            let min = r.per_second.iter().min().copied().unwrap_or(0);
            let max = r.per_second.iter().max().copied().unwrap_or(0);
            println!(
                "{:<34} per-second min {min} / max {max}; longest gap without a completion {:.0} ms",
                format!("steadiness ({name})"),
                r.longest_gap_ms
            );
        }
        println!(
            "{:<34} {:>8} {:>8} {:>14} {:>14}",
            "CPU, % of one core", "kassa", "bench", "machine busy", "kassa µs/op"
        );
        for (name, cpu) in [
            ("  create-intent closed", &c.cpu),
            ("  create-intent open", &o.cpu),
            ("  create+confirm closed", &p.cpu),
            ("  off-session renewal closed", &self.renewal.cpu),
        ] {
            println!(
                "{:<34} {:>7.0}% {:>7.0}% {:>13.0}% {:>14.0}",
                name, cpu.kassa_pct, cpu.bench_pct, cpu.machine_busy_pct, cpu.kassa_us_per_op
            );
        }
        for (name, e) in [
            ("create", &c.errors),
            ("open", &o.errors),
            ("pair", &p.errors),
            ("renewal", &self.renewal.errors),
        ] {
            if !e.is_empty() {
                println!("{:<34} {:?}", format!("errors ({name})"), e);
            }
        }
        let warmup_errors = c.warmup_errors + p.warmup_errors + self.renewal.warmup_errors;
        if warmup_errors > 0 {
            println!("{:<34} {warmup_errors} during warm-ups", "errors (warm-up)");
        }
        println!(
            "{:<34} {} WARN, {} ERROR lines",
            "kassa log", self.log.warn, self.log.error
        );
        for ex in &self.log.examples {
            println!("    {ex}");
        }
        self.stripe.print_details();
        for n in &self.notes {
            println!("note: {n}");
        }
        println!("targets:");
        for t in self.targets() {
            let mark = match t.met {
                Some(true) => "✓",
                Some(false) => "✗",
                None => "?",
            };
            println!("  {mark} {:<40} {}", t.name, t.value);
        }
    }

    pub fn to_json(&self) -> Value {
        let o = &self.open;
        let w = &self.webhooks;
        json!({
            "db": self.db,
            "create_intent_closed": self.create.to_json("requests_per_sec"),
            "create_intent_open": {
                "target_rate_per_sec": round1(o.target_rate),
                "achieved_rate_per_sec": round1(o.achieved_rate),
                "scheduled": o.scheduled,
                "latency_from_scheduled_send": o.latency.to_json(),
                "errors": error_total(&o.errors),
                "error_kinds": o.errors,
                "max_dispatch_lag_ms": round3(o.max_dispatch_lag_ms),
                "max_in_flight": o.max_in_flight,
                "cpu": cpu_json(&o.cpu),
            },
            "create_confirm_closed": self.pair.to_json("pairs_per_sec"),
            "create_confirm_stripe_localstripe_closed": self.stripe.to_json(),
            "off_session_renewal_closed": self.renewal.to_json("renewals_per_sec"),
            "webhooks": {
                "expected": w.expected,
                "arrived": w.arrived,
                "latency_after_confirm_response": w.latency.to_json(),
                "arrived_before_confirm_response": w.arrived_before_response,
                "duplicates": w.duplicates,
                "other_deliveries": w.other,
                "waited_s": round3(w.waited_s),
                "kassa_poll_interval_ms": w.poll_interval_ms,
            },
            "memory": {
                "peak_rss_mb": round1(self.memory.peak_rss_mb),
                "vm_hwm_mb": self.memory.vm_hwm_mb.map(round1),
                "samples": self.memory.samples,
            },
            "baseline": self.baseline.as_ref().map(Baseline::to_json),
            "baseline_reference": self.baseline_alt.as_ref().map(Baseline::to_json),
            "create_intent_pct_of_baseline": self.vs_baseline_pct().map(round1),
            "intent_json_bytes": self.intent_json_bytes,
            "kassa_log": {
                "warn_lines": self.log.warn,
                "error_lines": self.log.error,
                "examples": self.log.examples,
            },
            "notes": self.notes,
            "targets": self.targets().iter().map(|t| json!({
                "target": t.name,
                "met": t.met,
                "value": t.value,
            })).collect::<Vec<_>>(),
        })
    }
}

fn rounds_suffix(rounds: &[f64]) -> String {
    if rounds.len() < 2 {
        return String::new();
    }
    let r: Vec<String> = rounds.iter().map(|r| format!("{r:.0}")).collect();
    format!(" (mean of {} before / after)", r.join(" / "))
}

fn errors_suffix(e: &Errors) -> String {
    if e.is_empty() {
        String::new()
    } else {
        format!("  errors: {e:?}")
    }
}

/// `nproc`, CPU model and load average.
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub loadavg: String,
    pub kernel: String,
}

impl Machine {
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == "model name").then(|| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        Machine {
            nproc: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            cpu_model,
            loadavg: std::fs::read_to_string("/proc/loadavg")
                .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
                .unwrap_or_default(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
        }
    }

    pub fn note(&self) -> String {
        format!(
            "machine: nproc={}, CPU: {}, kernel {}, load average at start: {}; load generator, webhook receiver, kassa and the database share these cores",
            self.nproc, self.cpu_model, self.kernel, self.loadavg
        )
    }

    pub fn to_json(&self) -> Value {
        json!({
            "nproc": self.nproc,
            "cpu_model": self.cpu_model,
            "kernel": self.kernel,
            "loadavg_at_start": self.loadavg,
        })
    }
}
