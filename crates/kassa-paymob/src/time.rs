//! Paymob-style local timestamps (`2024-06-25T15:16:25.910710+04:00`).

use crate::keys::Country;

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift the epoch to 0000-03-01 so leap days end each 400-year era.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365, from March 1
    let mp = (5 * doy + 2) / 153; // month index from March, 0..=11
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Local time at the country's fixed offset: `YYYY-MM-DDTHH:MM:SS.ffffff`,
/// followed by `±HH:MM` when the country shows offsets.
pub fn timestamp(ms: i64, c: Country) -> String {
    let offset = i64::from(c.utc_offset_minutes());
    let local = ms.saturating_add(offset * 60_000);
    let days = local.div_euclid(86_400_000);
    let in_day = local.rem_euclid(86_400_000);
    let (y, mo, d) = civil_from_days(days);
    let secs = in_day / 1000;
    let micros = (in_day % 1000) * 1000;
    let mut out = format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if c.shows_offset() {
        let sign = if offset < 0 { '-' } else { '+' };
        let a = offset.abs();
        out.push_str(&format!("{sign}{:02}:{:02}", a / 60, a % 60));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(19_783), (2024, 3, 1));
        assert_eq!(civil_from_days(-719_468), (0, 3, 1));
    }

    #[test]
    fn known_instants() {
        assert_eq!(timestamp(0, Country::Egy), "1970-01-01T02:00:00.000000");
        // 2024-06-25T11:16:25.910Z
        assert_eq!(
            timestamp(1_719_314_185_910, Country::Are),
            "2024-06-25T15:16:25.910000+04:00"
        );
        // 2024-06-13T09:33:44.592Z
        assert_eq!(
            timestamp(1_718_271_224_592, Country::Egy),
            "2024-06-13T11:33:44.592000"
        );
        // 2023-12-31T22:30:00.001Z crosses midnight and the year.
        assert_eq!(
            timestamp(1_704_061_800_001, Country::Pak),
            "2024-01-01T03:30:00.001000+05:00"
        );
        assert_eq!(
            timestamp(1_704_061_800_001, Country::Sau),
            "2024-01-01T01:30:00.001000+03:00"
        );
        assert_eq!(
            timestamp(-1, Country::Omn),
            "1970-01-01T03:59:59.999000+04:00"
        );
    }
}
