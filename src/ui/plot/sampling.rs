//! The data behind the plots: a bounded history of the session's rates, taken once a
//! second from the store's counters, and the choice of the points a plot draws (those in
//! view, thinned to a few per pixel keeping each bucket's lowest and highest value, so a
//! spike among 100,000 points still shows).

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use crate::engine::Counters;
use crate::session::stats::Rates;

/// Time between two rate samples.
pub const RATE_PERIOD: Duration = Duration::from_secs(1);

/// Most rate samples kept: one hour at one a second (the oldest go first).
pub const RATE_SAMPLES: usize = 3600;

/// The rates measured over one period, and when it ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateSample {
    /// End of the period the rates were measured over.
    pub at: SystemTime,
    /// Bytes and messages per second each way over that period.
    pub rates: Rates,
}

/// The session's rates over the last hour, one sample per [`RATE_PERIOD`].
#[derive(Debug, Default)]
pub struct RateHistory {
    samples: VecDeque<RateSample>,
    /// Start of the period being measured and the counters then.
    base: Option<(Instant, Counters)>,
}

impl RateHistory {
    /// Takes a sample when a period has passed since the last one: the counters' growth
    /// divided by the time it took. Counters that went down (the view's statistics were
    /// reset) start a new period without a sample.
    pub fn sample(&mut self, now: Instant, wall: SystemTime, total: Counters) {
        let Some((start, base)) = self.base else {
            self.base = Some((now, total));
            return;
        };
        let elapsed = now.saturating_duration_since(start);
        if elapsed < RATE_PERIOD {
            return;
        }
        self.base = Some((now, total));
        let went_down = total.rx_bytes < base.rx_bytes
            || total.tx_bytes < base.tx_bytes
            || total.rx_msgs < base.rx_msgs
            || total.tx_msgs < base.tx_msgs;
        if went_down {
            return;
        }
        let secs = elapsed.as_secs_f64();
        let per_sec = |now: u64, then: u64| (now - then) as f64 / secs;
        let rates = Rates {
            rx_bytes: per_sec(total.rx_bytes, base.rx_bytes),
            tx_bytes: per_sec(total.tx_bytes, base.tx_bytes),
            rx_msgs: per_sec(total.rx_msgs, base.rx_msgs),
            tx_msgs: per_sec(total.tx_msgs, base.tx_msgs),
        };
        if self.samples.len() >= RATE_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(RateSample { at: wall, rates });
    }

    /// The samples, oldest first.
    pub fn samples(&self) -> &VecDeque<RateSample> {
        &self.samples
    }
}

/// Seconds since the Unix epoch: the plots' x coordinate (precise to well under a
/// microsecond for today's dates in an f64).
pub fn x_of(at: SystemTime) -> f64 {
    match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// The points of `data` (sorted by x) that a plot showing x in `range` draws: those in
/// the range plus one either side (so lines reach the edges), at most about `max` of
/// them. Beyond that, the range is cut into `max / 2` buckets and each keeps its lowest
/// and highest point, in time order.
pub fn visible_points<T>(
    data: &VecDeque<T>,
    point: impl Fn(&T) -> [f64; 2],
    range: (f64, f64),
    max: usize,
) -> Vec<[f64; 2]> {
    let (x0, x1) = range;
    let first = data.partition_point(|p| point(p)[0] < x0).saturating_sub(1);
    let end = (data.partition_point(|p| point(p)[0] <= x1) + 1).min(data.len());
    if first >= end {
        return Vec::new();
    }
    let inside = data.range(first..end).map(&point);
    let count = end - first;
    let buckets = (max / 2).max(1);
    if count <= max || x1 <= x0 {
        return inside.collect();
    }
    let width = (x1 - x0) / buckets as f64;
    let mut out = Vec::with_capacity(buckets * 2 + 2);
    // (bucket, lowest, highest) of the bucket being filled.
    let mut current: Option<(i64, [f64; 2], [f64; 2])> = None;
    let flush = |out: &mut Vec<[f64; 2]>, (_, lo, hi): (i64, [f64; 2], [f64; 2])| {
        if lo == hi {
            out.push(lo);
        } else if lo[0] <= hi[0] {
            out.extend([lo, hi]);
        } else {
            out.extend([hi, lo]);
        }
    };
    for p in inside {
        let bucket = ((p[0] - x0) / width).floor() as i64;
        match &mut current {
            Some((b, lo, hi)) if *b == bucket => {
                if p[1] < lo[1] {
                    *lo = p;
                }
                if p[1] > hi[1] {
                    *hi = p;
                }
            }
            _ => {
                if let Some(done) = current.take() {
                    flush(&mut out, done);
                }
                current = Some((bucket, p, p));
            }
        }
    }
    if let Some(done) = current {
        flush(&mut out, done);
    }
    out
}

/// Scales `points` to 0..=1 between their lowest and highest value (all 0.5 when flat);
/// returns the lowest value and the span, to read the real values back.
pub fn normalise(points: &mut [[f64; 2]]) -> (f64, f64) {
    let lo = points.iter().map(|p| p[1]).fold(f64::INFINITY, f64::min);
    let hi = points
        .iter()
        .map(|p| p[1])
        .fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    for p in points.iter_mut() {
        p[1] = if span > 0.0 { (p[1] - lo) / span } else { 0.5 };
    }
    (lo, if span > 0.0 { span } else { 1.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(rx_bytes: u64, tx_bytes: u64, rx_msgs: u64, tx_msgs: u64) -> Counters {
        Counters {
            rx_bytes,
            rx_msgs,
            tx_bytes,
            tx_msgs,
        }
    }

    /// Rates are the counters' growth over the time it took, one sample per period.
    #[test]
    fn rates_over_periods() {
        let mut h = RateHistory::default();
        let t0 = Instant::now();
        let w0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        h.sample(t0, w0, counters(0, 0, 0, 0));
        h.sample(t0 + Duration::from_millis(400), w0, counters(500, 0, 1, 0));
        assert!(h.samples().is_empty(), "no full period yet");
        h.sample(t0 + Duration::from_secs(1), w0, counters(1000, 100, 10, 1));
        h.sample(
            t0 + Duration::from_millis(1500),
            w0,
            counters(9000, 100, 10, 1),
        );
        h.sample(t0 + Duration::from_secs(3), w0, counters(5000, 300, 20, 3));
        let s: Vec<Rates> = h.samples().iter().map(|s| s.rates).collect();
        assert_eq!(s.len(), 2);
        assert!((s[0].rx_bytes - 1000.0).abs() < 1e-9);
        assert!((s[0].tx_bytes - 100.0).abs() < 1e-9);
        assert!((s[0].rx_msgs - 10.0).abs() < 1e-9);
        assert!((s[1].rx_bytes - 2000.0).abs() < 1e-9, "4000 bytes over 2 s");
        assert!((s[1].tx_msgs - 1.0).abs() < 1e-9);
    }

    /// Counters that were reset start a new period instead of a negative rate.
    #[test]
    fn reset_counters_skip_a_sample() {
        let mut h = RateHistory::default();
        let t0 = Instant::now();
        let w = SystemTime::now();
        h.sample(t0, w, counters(10_000, 0, 5, 0));
        h.sample(t0 + Duration::from_secs(1), w, counters(0, 0, 0, 0));
        assert!(h.samples().is_empty());
        h.sample(t0 + Duration::from_secs(2), w, counters(300, 0, 3, 0));
        assert_eq!(h.samples().len(), 1);
        assert!((h.samples()[0].rates.rx_bytes - 300.0).abs() < 1e-9);
    }

    /// An hour of samples at most, however long it runs.
    #[test]
    fn memory_is_bounded() {
        let mut h = RateHistory::default();
        let t0 = Instant::now();
        let w0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        for i in 0..(RATE_SAMPLES as u64 + 500) {
            let d = Duration::from_secs(i);
            h.sample(t0 + d, w0 + d, counters(i * 10, 0, i, 0));
        }
        assert_eq!(h.samples().len(), RATE_SAMPLES);
        let last = h.samples().back().map(|s| s.at);
        assert_eq!(
            last,
            Some(w0 + Duration::from_secs(RATE_SAMPLES as u64 + 499))
        );
        assert!(
            h.samples()
                .iter()
                .all(|s| (s.rates.rx_bytes - 10.0).abs() < 1e-9)
        );
    }

    /// The points in view, plus one either side; none when the view is elsewhere.
    #[test]
    fn visible_points_in_range() {
        let data: VecDeque<[f64; 2]> = (0..100).map(|i| [i as f64, (i * i) as f64]).collect();
        let got = visible_points(&data, |p| *p, (10.5, 20.0), 1000);
        assert_eq!(got.first(), Some(&[10.0, 100.0]));
        assert_eq!(got.last(), Some(&[21.0, 441.0]));
        assert_eq!(got.len(), 12);
        assert!(visible_points(&data, |p| *p, (500.0, 600.0), 1000).len() <= 1);
        let none: VecDeque<[f64; 2]> = VecDeque::new();
        assert!(visible_points(&none, |p| *p, (0.0, 1.0), 10).is_empty());
    }

    /// 100,000 points thin to about `max`, in time order, and a lone spike survives.
    #[test]
    fn thinning_keeps_extremes() {
        let mut data: VecDeque<[f64; 2]> = (0..100_000).map(|i| [i as f64, 1.0]).collect();
        data[54_321][1] = 99.0;
        data[12_345][1] = -7.0;
        let got = visible_points(&data, |p| *p, (0.0, 100_000.0), 1000);
        assert!(got.len() <= 1002, "{} points", got.len());
        assert!(got.windows(2).all(|w| w[0][0] <= w[1][0]), "in time order");
        assert!(got.contains(&[54_321.0, 99.0]));
        assert!(got.contains(&[12_345.0, -7.0]));
    }

    /// Normalised values span 0..1 and give the real ones back.
    #[test]
    fn normalise_round_trip() {
        let mut p = vec![[0.0, 10.0], [1.0, 30.0], [2.0, 20.0]];
        let (lo, span) = normalise(&mut p);
        assert_eq!(
            p.iter().map(|p| p[1]).collect::<Vec<_>>(),
            vec![0.0, 1.0, 0.5]
        );
        assert_eq!(lo + p[2][1] * span, 20.0);
        let mut flat = vec![[0.0, 3.0], [1.0, 3.0]];
        normalise(&mut flat);
        assert!(flat.iter().all(|p| p[1] == 0.5));
    }
}
