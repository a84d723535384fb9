//! Calendar arithmetic in UTC on Unix milliseconds: the one place that knows month lengths and
//! leap years. Subscriptions bill on it, card expiry checks read the month from it, and the faces
//! write dates with it.

/// Milliseconds in a day (UTC has no leap seconds in Unix time).
pub const DAY_MS: i64 = 86_400_000;

/// The unit of a billing interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalUnit {
    Day,
    Week,
    Month,
    Year,
}

/// `count` intervals after `start_ms`. Days and weeks are exact. Months and years keep the day
/// of the month where they can and otherwise end on the last day of the shorter month (a month
/// after Jan 31 is Feb 28 or 29, a year after Feb 29 is Feb 28), at the same time of day, so a
/// subscription bills on the same day each month.
pub fn add_interval(start_ms: i64, unit: IntervalUnit, count: i64) -> i64 {
    match unit {
        IntervalUnit::Day => start_ms + count * DAY_MS,
        IntervalUnit::Week => start_ms + 7 * count * DAY_MS,
        IntervalUnit::Month => add_months(start_ms, count),
        IntervalUnit::Year => add_months(start_ms, 12 * count),
    }
}

fn add_months(ms: i64, months: i64) -> i64 {
    let days = ms.div_euclid(DAY_MS);
    let time = ms.rem_euclid(DAY_MS);
    let (y, m, d) = civil_from_days(days);
    let total = y * 12 + (m - 1) + months;
    let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) + 1);
    let nd = d.min(days_in_month(ny, nm));
    days_from_civil(ny, nm, nd) * DAY_MS + time
}

pub fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days in month `m` (1 to 12) of year `y`.
pub fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    // Counted from 0000-03-01, so each 400-year era ends with its leap day.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a calendar date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month) of a Unix-millisecond time, for card expiry checks.
pub fn year_month(ms: i64) -> (u32, u32) {
    let (y, m, _) = civil_from_days(ms.div_euclid(DAY_MS));
    (y as u32, m as u32)
}

/// `YYYY-MM-DD HH:MM:SS` of a Unix-millisecond time.
pub fn datetime_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i64, m: i64, d: i64, time_ms: i64) -> i64 {
        days_from_civil(y, m, d) * DAY_MS + time_ms
    }

    #[test]
    fn months_keep_the_day_or_end_on_the_last_day() {
        let ten = 36_000_000;
        assert_eq!(
            add_interval(at(2026, 1, 31, ten), IntervalUnit::Month, 1),
            at(2026, 2, 28, ten)
        );
        assert_eq!(
            add_interval(at(2024, 1, 31, ten), IntervalUnit::Month, 1),
            at(2024, 2, 29, ten)
        );
        // Each step counts from the start: Jan 31 + 2 months is Mar 31, not Mar 28.
        assert_eq!(
            add_interval(at(2026, 1, 31, 0), IntervalUnit::Month, 2),
            at(2026, 3, 31, 0)
        );
        assert_eq!(
            add_interval(at(2026, 11, 30, 0), IntervalUnit::Month, 3),
            at(2027, 2, 28, 0)
        );
        assert_eq!(
            add_interval(at(2024, 2, 29, 0), IntervalUnit::Year, 1),
            at(2025, 2, 28, 0)
        );
        assert_eq!(
            add_interval(at(2024, 2, 29, 0), IntervalUnit::Year, 4),
            at(2028, 2, 29, 0)
        );
        assert_eq!(
            add_interval(at(2026, 3, 15, 0), IntervalUnit::Month, -3),
            at(2025, 12, 15, 0)
        );
    }

    #[test]
    fn days_and_weeks_are_exact() {
        assert_eq!(add_interval(0, IntervalUnit::Week, 2), 14 * DAY_MS);
        assert_eq!(add_interval(5, IntervalUnit::Day, 3), 3 * DAY_MS + 5);
    }

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert!((1..=12).contains(&m) && (1..=days_in_month(y, m)).contains(&d));
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn leap_years_and_month_lengths() {
        assert!(is_leap(2024) && is_leap(2000) && !is_leap(1900) && !is_leap(2026));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2026, 4), 30);
        assert_eq!(days_in_month(2026, 12), 31);
    }

    #[test]
    fn year_month_and_datetime_of_known_instants() {
        assert_eq!(year_month(0), (1970, 1));
        // 2026-11-21T13:00:00Z
        assert_eq!(year_month(1_795_352_400_000), (2026, 11));
        // 2024-02-29T23:59:59Z, then the next second
        assert_eq!(year_month(1_709_251_199_000), (2024, 2));
        assert_eq!(year_month(1_709_251_200_000), (2024, 3));
        assert_eq!(datetime_utc(1_709_251_199_000), "2024-02-29 23:59:59");
        assert_eq!(datetime_utc(-1000), "1969-12-31 23:59:59");
    }
}
