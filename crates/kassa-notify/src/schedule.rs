//! Retry schedules: the delay before each retry, with ±10 % jitter so that a receiver that comes
//! back after an outage is not hit by every pending delivery in the same second.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
    jitter: bool,
}

impl Default for RetrySchedule {
    /// 10 attempts over a little more than 3 days: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h,
    /// 24 h, 24 h.
    fn default() -> Self {
        let s = |secs| Duration::from_secs(secs);
        RetrySchedule {
            delays: vec![
                s(5),
                s(300),
                s(1800),
                s(7200),
                s(18000),
                s(36000),
                s(36000),
                s(86400),
                s(86400),
            ],
            jitter: true,
        }
    }
}

impl RetrySchedule {
    /// Paymob callbacks: 8 attempts over about a day and a half, sooner at first than webhooks
    /// (a Paymob merchant's order page waits on the processed callback): 10 s, 1 min, 5 min,
    /// 30 min, 2 h, 6 h, 24 h, with the same jitter. Each retry is the same signed body.
    pub fn paymob() -> Self {
        let s = |secs| Duration::from_secs(secs);
        RetrySchedule {
            delays: vec![s(10), s(60), s(300), s(1800), s(7200), s(21600), s(86400)],
            jitter: true,
        }
    }

    pub fn new(delays: Vec<Duration>, jitter: bool) -> Self {
        RetrySchedule { delays, jitter }
    }

    /// Total span from the first attempt to the last.
    pub fn span(&self) -> Duration {
        self.delays.iter().sum()
    }

    /// Delay after attempt `n` (1-based) failed, or `None` when it was the last.
    pub fn delay_after(&self, n: i64) -> Option<Duration> {
        let base = *self.delays.get(usize::try_from(n - 1).ok()?)?;
        if !self.jitter || base.is_zero() {
            return Some(base);
        }
        let factor = rand::thread_rng().gen_range(0.9..=1.1);
        Some(base.mul_f64(factor))
    }
}

/// Parses `"5s,5m,30m,2h"` (units ms, s, m, h, d; a bare number is seconds).
pub fn parse_schedule(s: &str) -> Result<Vec<Duration>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(parse_duration)
        .collect()
}

pub fn parse_duration(p: &str) -> Result<Duration, String> {
    let split = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
    let (num, unit) = p.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("bad duration {p:?}"))?;
    Ok(match unit {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        "d" => Duration::from_secs(n * 86400),
        _ => return Err(format!("bad duration unit in {p:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_retries_for_at_least_three_days() {
        assert!(RetrySchedule::default().span() >= Duration::from_secs(3 * 86400));
    }

    #[test]
    fn delays_are_jittered_within_ten_percent_and_end_after_the_last() {
        let s = RetrySchedule::new(vec![Duration::from_secs(100)], true);
        for _ in 0..50 {
            let d = s.delay_after(1).unwrap();
            assert!(d >= Duration::from_secs(90) && d <= Duration::from_secs(110));
        }
        assert_eq!(s.delay_after(2), None);
        assert_eq!(s.delay_after(0), None);
    }

    #[test]
    fn schedules_parse_with_units() {
        assert_eq!(
            parse_schedule("200ms, 1s,2m,1h,1d,3").unwrap(),
            vec![
                Duration::from_millis(200),
                Duration::from_secs(1),
                Duration::from_secs(120),
                Duration::from_secs(3600),
                Duration::from_secs(86400),
                Duration::from_secs(3)
            ]
        );
        assert!(parse_schedule("1x").is_err());
        assert!(parse_schedule("s").is_err());
    }
}
