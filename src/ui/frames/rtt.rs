//! Round-trip times and verdicts in words: the statistics every panel shows (refreshed a
//! few times a second, not every frame: a summary sorts up to 10,000 samples), the
//! compact line beside a quick command, the status bar's words, and a frame's verdict in
//! the UI language.

use std::time::{Duration, Instant};

use crate::protocol::{RttSummary, Verdict};
use crate::session::store::Store;
use crate::ui::i18n::Texts;

/// How often the statistics are read again from the store.
const REFRESH: Duration = Duration::from_millis(200);

/// The round-trip statistics of every command, as last read from the store.
#[derive(Clone, Debug, Default)]
pub struct RttStats {
    /// Every command's statistics, by label.
    pub summaries: Vec<(String, RttSummary)>,
    /// The command whose answer was measured last.
    pub latest: Option<String>,
    read_at: Option<Instant>,
}

impl RttStats {
    /// Reads the statistics again when they are older than a moment.
    pub fn refresh(&mut self, store: &Store, now: Instant) {
        if self
            .read_at
            .is_some_and(|at| now.duration_since(at) < REFRESH)
        {
            return;
        }
        self.read_at = Some(now);
        let fresh = store.rtt().summaries();
        // The latest is the command whose count of answers grew.
        for (label, summary) in &fresh {
            let before = self.get(label).map_or(0, |s| s.count);
            if summary.count > before {
                self.latest = Some(label.clone());
            }
        }
        self.summaries = fresh;
    }

    /// Reads them again at the next refresh, whatever their age.
    pub fn invalidate(&mut self) {
        self.read_at = None;
    }

    /// The statistics of one command.
    pub fn get(&self, label: &str) -> Option<&RttSummary> {
        self.summaries
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, s)| s)
    }

    /// The status bar's words: the last round trip and its command's median.
    pub fn status_text(&self, t: &Texts) -> Option<String> {
        let label = self.latest.as_deref()?;
        let s = self.get(label)?;
        Some(format!(
            "{} {}: {} {} · p50 {}",
            t.fr_rtt_short,
            label,
            t.fr_rtt_last,
            ms(s.last),
            ms(s.p50)
        ))
    }
}

/// A duration in milliseconds, short: `41 ms`, `0.35 ms`, `1.2 s`.
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

/// A duration as a number of milliseconds (for a table whose caption says ms).
pub fn ms_number(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 10.0 {
        format!("{ms:.0}")
    } else {
        format!("{ms:.2}")
    }
}

/// The compact line beside a quick command: `p50 41 ms · p95 45 ms · max 52 ms · 0
/// timeouts`; only the timeouts while nothing was answered.
pub fn compact(t: &Texts, s: &RttSummary) -> String {
    let word = if s.timeouts == 1 {
        t.fr_timeout_one
    } else {
        t.fr_timeouts
    };
    let timeouts = format!("{} {word}", s.timeouts);
    if s.count == 0 {
        return format!("{} · {timeouts}", t.fr_rtt_short);
    }
    format!(
        "{} p50 {} · p95 {} · {} {} · {timeouts}",
        t.fr_rtt_short,
        ms(s.p50),
        ms(s.p95),
        t.fr_max,
        ms(s.max)
    )
}

/// A frame's verdict in the UI language.
pub fn verdict_text(t: &Texts, verdict: &Verdict) -> String {
    use crate::codec::hex::to_spaced;
    match verdict {
        Verdict::Good => t.fr_v_good.to_string(),
        Verdict::BadChecksum { expected, found } => format!(
            "{} {}, {} {}",
            t.fr_v_bad_checksum,
            to_spaced(expected),
            t.fr_v_found,
            to_spaced(found)
        ),
        Verdict::BadLength { value } => format!("{} {value}", t.fr_v_bad_length),
        Verdict::Short { expected: Some(n) } => {
            format!("{} ({n} {})", t.fr_v_short, t.fr_v_bytes_expected)
        }
        Verdict::Short { expected: None } => t.fr_v_short.to_string(),
        Verdict::NoSync => t.fr_v_no_sync.to_string(),
        Verdict::TooLong => t.fr_v_too_long.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::i18n::{EN, ZH};

    /// Verdicts read in both languages; durations are short.
    #[test]
    fn words() {
        let v = Verdict::BadChecksum {
            expected: vec![0x12, 0x34],
            found: vec![0x56, 0x78],
        };
        assert_eq!(
            verdict_text(&EN, &v),
            "bad checksum: expected 12 34, found 56 78"
        );
        assert!(verdict_text(&ZH, &v).contains("12 34"));
        assert_eq!(ms(Duration::from_micros(41_400)), "41 ms");
        assert_eq!(ms(Duration::from_micros(350)), "0.35 ms");
        let s = RttSummary {
            count: 3,
            timeouts: 1,
            p50: Duration::from_millis(41),
            p95: Duration::from_millis(45),
            max: Duration::from_millis(52),
            ..RttSummary::default()
        };
        assert_eq!(
            compact(&EN, &s),
            "RTT p50 41 ms · p95 45 ms · max 52 ms · 1 timeout"
        );
        let s = RttSummary { timeouts: 2, ..s };
        assert!(compact(&EN, &s).ends_with("· 2 timeouts"));
    }
}
