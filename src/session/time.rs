//! Wall-clock formatting for records: `HH:MM:SS.mmm` in local time for the view and
//! ISO 8601 with milliseconds and the UTC offset for logs.
//!
//! The local offset is the one in force *at the instant formatted*, from the system time
//! zone's rules (the `jiff` crate: `TZ`, then `/etc/localtime` on Unix, the zone chosen in
//! Settings through `GetDynamicTimeZoneInformation` on Windows, the system zone on macOS).
//! So a session that crosses a daylight-saving change logs each record with its own
//! offset, and a change of the system zone during a run is picked up within
//! [`ZONE_REFRESH`]. Should the zone be unknown to `jiff`, the OS's own answer for the
//! current offset (`localtime_r` on Unix, `SystemTimeToTzSpecificLocalTime` on Windows)
//! is used instead, re-read at the same pace; UTC (written `Z`) is the last resort.

use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// How often the system time zone is looked up again (a cheap cached lookup in `jiff`,
/// which itself re-reads the system's setting every five minutes).
pub const ZONE_REFRESH: Duration = Duration::from_secs(60);

/// The zone in use and when it was looked up.
static ZONE: RwLock<Option<(TimeZone, Instant)>> = RwLock::new(None);

/// The system time zone, looked up at most once per [`ZONE_REFRESH`].
fn zone() -> TimeZone {
    if let Ok(slot) = ZONE.read()
        && let Some((tz, at)) = slot.as_ref()
        && at.elapsed() < ZONE_REFRESH
    {
        return tz.clone();
    }
    let tz = TimeZone::try_system().unwrap_or_else(|_| match os_offset(SystemTime::now()) {
        Some(seconds) => jiff::tz::Offset::from_seconds(seconds)
            .map(TimeZone::fixed)
            .unwrap_or(TimeZone::UTC),
        None => TimeZone::UTC,
    });
    if let Ok(mut slot) = ZONE.write() {
        *slot = Some((tz.clone(), Instant::now()));
    }
    tz
}

/// The local offset from UTC in seconds at `at` (east positive).
pub fn local_offset_at(at: SystemTime) -> i64 {
    let ts = Timestamp::try_from(at).unwrap_or(Timestamp::UNIX_EPOCH);
    i64::from(zone().to_offset(ts).seconds())
}

/// The local offset from UTC in seconds now.
pub fn local_offset() -> Option<i64> {
    Some(local_offset_at(SystemTime::now()))
}

/// The operating system's own answer for the local offset at `at`, without `jiff`: the
/// fallback for a zone `jiff` cannot name, and the reference the tests compare with.
#[cfg(unix)]
pub fn os_offset(at: SystemTime) -> Option<i32> {
    let secs = at.duration_since(UNIX_EPOCH).ok()?.as_secs();
    let secs = libc::time_t::try_from(secs).ok()?;
    // SAFETY: `localtime_r` writes into the `tm` we own and reads `secs`; both outlive
    // the call.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return None;
        }
        i32::try_from(tm.tm_gmtoff).ok()
    }
}

/// The operating system's own answer for the local offset at `at`, without `jiff`: the
/// fallback for a zone `jiff` cannot name, and the reference the tests compare with.
#[cfg(windows)]
pub fn os_offset(at: SystemTime) -> Option<i32> {
    use windows_sys::Win32::Foundation::{FILETIME, SYSTEMTIME};
    use windows_sys::Win32::System::Time::{
        FileTimeToSystemTime, SystemTimeToFileTime, SystemTimeToTzSpecificLocalTime,
    };
    // FILETIME counts 100 ns since 1601-01-01; whole seconds are enough for an offset.
    const EPOCH_DIFF_SECS: u64 = 11_644_473_600;
    let secs = at.duration_since(UNIX_EPOCH).ok()?.as_secs() + EPOCH_DIFF_SECS;
    let ticks = secs.checked_mul(10_000_000)?;
    let utc_ft = FILETIME {
        dwLowDateTime: ticks as u32,
        dwHighDateTime: (ticks >> 32) as u32,
    };
    // SAFETY: every pointer is to a local we own, valid for the duration of each call;
    // a null time zone pointer means "the currently active time zone".
    unsafe {
        let mut utc: SYSTEMTIME = std::mem::zeroed();
        let mut local: SYSTEMTIME = std::mem::zeroed();
        let mut local_ft: FILETIME = std::mem::zeroed();
        if FileTimeToSystemTime(&utc_ft, &mut utc) == 0
            || SystemTimeToTzSpecificLocalTime(std::ptr::null(), &utc, &mut local) == 0
            || SystemTimeToFileTime(&local, &mut local_ft) == 0
        {
            return None;
        }
        let local_ticks =
            (u64::from(local_ft.dwHighDateTime) << 32) | u64::from(local_ft.dwLowDateTime);
        let diff = (local_ticks as i64 - ticks as i64) / 10_000_000;
        i32::try_from(diff).ok()
    }
}

/// Neither Unix nor Windows: no OS answer, UTC.
#[cfg(not(any(unix, windows)))]
pub fn os_offset(_at: SystemTime) -> Option<i32> {
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

/// `HH:MM:SS.mmm` in local time.
pub fn format_time(at: SystemTime) -> String {
    let (_, sod, ms) = split(at, local_offset_at(at));
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
    format_iso_with_offset(at, local_offset_at(at))
}

/// ISO 8601 of `at` with a given offset in seconds (`Z` for zero).
fn format_iso_with_offset(at: SystemTime, offset: i64) -> String {
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

    /// Offsets are written as `+HH:MM` / `-HH:MM`, zero as `Z`.
    #[test]
    fn iso_offsets() {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(
            format_iso_with_offset(at, 8 * 3600),
            "2023-11-15T06:13:20.123+08:00"
        );
        assert_eq!(
            format_iso_with_offset(at, -(5 * 3600 + 30 * 60)),
            "2023-11-14T16:43:20.123-05:30"
        );
        assert_eq!(format_iso_with_offset(at, 0), "2023-11-14T22:13:20.123Z");
    }

    /// The offset used is the one the operating system itself gives for each instant,
    /// on both sides of this year's and last year's DST changes (wherever the zone has
    /// them): checked on Linux and macOS against `localtime_r`, on Windows (Wine in CI,
    /// `TZ=Asia/Shanghai` and `TZ=America/New_York`) against
    /// `SystemTimeToTzSpecificLocalTime`.
    #[test]
    fn offset_matches_the_os_at_every_instant() {
        let now = SystemTime::now();
        let day = Duration::from_secs(86_400);
        let mut checked = 0;
        for i in 0..=(2 * 365 / 7) {
            let at = now - day * 7 * i;
            if let Some(os) = os_offset(at) {
                assert_eq!(
                    local_offset_at(at),
                    i64::from(os),
                    "offset at {} (TZ={:?})",
                    format_iso_with_offset(at, 0),
                    std::env::var("TZ").ok()
                );
                checked += 1;
            }
        }
        assert!(checked > 0, "the OS gave no offset at all");
    }

    /// A zone named in `TZ` is followed, DST included (CI runs the suite with
    /// `TZ=Asia/Shanghai`, Wine too; other zones just skip the exact values).
    #[test]
    fn tz_variable_is_followed() {
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        match std::env::var("TZ").as_deref() {
            Ok("Asia/Shanghai") => {
                assert_eq!(local_offset_at(at), 8 * 3600);
                assert!(format_iso(at).ends_with("+08:00"), "{}", format_iso(at));
            }
            Ok("America/New_York") => {
                // 2023-11-14 is winter time, 2023-07-01 summer time.
                assert_eq!(local_offset_at(at), -5 * 3600);
                let summer = UNIX_EPOCH + Duration::from_secs(1_688_212_800);
                assert_eq!(local_offset_at(summer), -4 * 3600);
            }
            _ => eprintln!(
                "SKIP: exact offsets are checked with TZ=Asia/Shanghai or America/New_York"
            ),
        }
    }
}
