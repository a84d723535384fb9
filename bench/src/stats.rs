//! Latency summaries over raw samples (microseconds, signed so that "arrived before" can be
//! represented for webhook timings).

use serde_json::{json, Value};

#[derive(Clone, Debug, Default)]
pub struct Latency {
    pub count: usize,
    pub min_ms: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The nearest-rank percentile of an ascending slice (`q` in 0..=1).
fn percentile(sorted: &[i64], q: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let n = sorted.len();
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    sorted[rank - 1]
}

fn ms(us: i64) -> f64 {
    us as f64 / 1000.0
}

impl Latency {
    pub fn from_us(mut samples: Vec<i64>) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort_unstable();
        let sum: i128 = samples.iter().map(|&v| v as i128).sum();
        Latency {
            count: samples.len(),
            min_ms: ms(samples[0]),
            mean_ms: sum as f64 / samples.len() as f64 / 1000.0,
            p50_ms: ms(percentile(&samples, 0.50)),
            p90_ms: ms(percentile(&samples, 0.90)),
            p99_ms: ms(percentile(&samples, 0.99)),
            max_ms: ms(*samples.last().unwrap_or(&0)),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "count": self.count,
            "min_ms": round3(self.min_ms),
            "mean_ms": round3(self.mean_ms),
            "p50_ms": round3(self.p50_ms),
            "p90_ms": round3(self.p90_ms),
            "p99_ms": round3(self.p99_ms),
            "max_ms": round3(self.max_ms),
        })
    }
}

pub fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Signed difference `later - earlier` in microseconds.
pub fn signed_us(later: std::time::Instant, earlier: std::time::Instant) -> i64 {
    if later >= earlier {
        (later - earlier).as_micros() as i64
    } else {
        -((earlier - later).as_micros() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<i64> = (1..=100).map(|x| x * 1000).collect();
        let l = Latency::from_us(v);
        assert_eq!(l.count, 100);
        assert_eq!(l.p50_ms, 50.0);
        assert_eq!(l.p99_ms, 99.0);
        assert_eq!(l.max_ms, 100.0);
        assert_eq!(l.min_ms, 1.0);
    }

    #[test]
    fn empty_is_zero() {
        let l = Latency::from_us(Vec::new());
        assert_eq!(l.count, 0);
        assert_eq!(l.p99_ms, 0.0);
    }
}
