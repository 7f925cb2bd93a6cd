//! Wall-clock formatting for records: `HH:MM:SS.mmm` in local time for the view and
//! ISO 8601 with milliseconds for logs.
//!
//! The local UTC offset is read once (on Unix through `localtime_r`; elsewhere the view
//! falls back to UTC and says so with a `Z`), so formatting a row costs no system call.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The local offset from UTC in seconds, or `None` when it cannot be known here.
pub fn local_offset() -> Option<i64> {
    static OFFSET: OnceLock<Option<i64>> = OnceLock::new();
    *OFFSET.get_or_init(read_local_offset)
}

#[cfg(unix)]
fn read_local_offset() -> Option<i64> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    let now = libc::time_t::try_from(now).ok()?;
    // SAFETY: `localtime_r` writes into the `tm` we own and reads `now`; both outlive the call.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            return None;
        }
        Some(tm.tm_gmtoff)
    }
}

#[cfg(not(unix))]
fn read_local_offset() -> Option<i64> {
    None
}

/// Splits `at` into (days since epoch, seconds of day, milliseconds) after adding `offset`.
fn split(at: SystemTime, offset: i64) -> (i64, i64, u32) {
    let (secs, millis) = match at.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_millis()),
        Err(_) => (0, 0),
    };
    let local = secs + offset;
    (local.div_euclid(86_400), local.rem_euclid(86_400), millis)
}

/// `HH:MM:SS.mmm` in local time (UTC where the offset is unknown).
pub fn format_time(at: SystemTime) -> String {
    let (_, sod, ms) = split(at, local_offset().unwrap_or(0));
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        ms
    )
}

/// ISO 8601 with milliseconds and the offset, e.g. `2026-11-23T14:05:09.123+08:00`.
pub fn format_iso(at: SystemTime) -> String {
    let offset = local_offset().unwrap_or(0);
    let (days, sod, ms) = split(at, offset);
    let (y, m, d) = civil_from_days(days);
    let zone = if offset == 0 {
        "Z".to_string()
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.abs();
        format!("{sign}{:02}:{:02}", abs / 3600, abs / 60 % 60)
    };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}{zone}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Known dates convert exactly, including a leap day.
    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    /// Milliseconds are kept and the clock part has a fixed width.
    #[test]
    fn formats() {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let t = format_time(at);
        assert_eq!(t.len(), 12);
        assert!(t.ends_with(".123"));
        assert!(format_iso(at).contains(".123"));
    }
}
