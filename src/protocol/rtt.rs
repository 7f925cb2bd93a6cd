//! Round-trip times ([`RttTracker`]): for each send, the time from its last byte written
//! (the engine's Tx event) to the first frame received on the same connection or from
//! the same UDP peer, kept per command with min / p50 / p95 / max and timeouts.
//!
//! Requests and answers are matched in order per link (a device answers requests in the
//! order it got them), so pipelined sends are measured too. A send counts from its Tx
//! event, matched to the expected send by its length (one Tx event per send, in order).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use crate::engine::ConnId;

/// Where a request went and its answer comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Link {
    /// A TCP connection.
    Conn(ConnId),
    /// A UDP peer.
    Peer(SocketAddr),
}

impl Link {
    /// The link of a TCP connection (when there is one) or else of a UDP peer.
    pub fn of(conn: Option<ConnId>, peer: SocketAddr) -> Link {
        match conn {
            Some(c) => Link::Conn(c),
            None => Link::Peer(peer),
        }
    }
}

/// Most samples kept per command for percentiles (older ones age out).
pub const SAMPLES_KEPT: usize = 10_000;
/// Most sends waiting per link; beyond it the oldest is counted as a timeout.
const WAITING_CAP: usize = 1_000;

/// The statistics of one command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RttSummary {
    /// Answered sends.
    pub count: u64,
    /// Sends that got no answer within the timeout (or before their link closed).
    pub timeouts: u64,
    /// Fastest answer.
    pub min: Duration,
    /// Median of the kept samples.
    pub p50: Duration,
    /// 95th percentile of the kept samples.
    pub p95: Duration,
    /// Slowest answer.
    pub max: Duration,
    /// The latest answer.
    pub last: Duration,
}

#[derive(Clone, Debug, Default)]
struct Stats {
    samples: VecDeque<Duration>,
    count: u64,
    timeouts: u64,
    min: Option<Duration>,
    max: Duration,
    last: Duration,
}

impl Stats {
    fn add(&mut self, rtt: Duration) {
        if self.samples.len() == SAMPLES_KEPT {
            self.samples.pop_front();
        }
        self.samples.push_back(rtt);
        self.count += 1;
        self.min = Some(self.min.map_or(rtt, |m| m.min(rtt)));
        self.max = self.max.max(rtt);
        self.last = rtt;
    }

    fn summary(&self) -> RttSummary {
        let mut sorted: Vec<Duration> = self.samples.iter().copied().collect();
        sorted.sort_unstable();
        // Nearest rank.
        let rank = |p: f64| -> Duration {
            if sorted.is_empty() {
                return Duration::ZERO;
            }
            let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
            sorted[i]
        };
        RttSummary {
            count: self.count,
            timeouts: self.timeouts,
            min: self.min.unwrap_or_default(),
            p50: rank(0.50),
            p95: rank(0.95),
            max: self.max,
            last: self.last,
        }
    }
}

/// One round trip, as measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RttSample {
    /// The command.
    pub label: String,
    /// Where it went.
    pub link: Link,
    /// When its last byte was written.
    pub sent: SystemTime,
    /// The round trip.
    pub rtt: Duration,
}

/// Matches sends with answers and keeps the statistics.
#[derive(Clone, Debug)]
pub struct RttTracker {
    timeout: Duration,
    /// Sends asked for and not written yet: label and byte count, in order.
    expected: HashMap<Link, VecDeque<(String, usize)>>,
    /// Sends written and not answered yet: label and write time, in order.
    waiting: HashMap<Link, VecDeque<(String, SystemTime)>>,
    stats: BTreeMap<String, Stats>,
    /// Samples not taken by [`RttTracker::take_samples`] yet (for logs and plots).
    fresh: Vec<RttSample>,
}

impl RttTracker {
    /// A tracker that counts a send unanswered after `timeout` as a timeout.
    pub fn new(timeout: Duration) -> RttTracker {
        RttTracker {
            timeout,
            expected: HashMap::new(),
            waiting: HashMap::new(),
            stats: BTreeMap::new(),
            fresh: Vec::new(),
        }
    }

    /// The timeout in force.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Changes the timeout (for sends from now on and those waiting).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// A send of `len` bytes labelled `label` was handed to the engine for `link`.
    pub fn expect(&mut self, link: Link, label: &str, len: usize) {
        let q = self.expected.entry(link).or_default();
        if q.len() >= WAITING_CAP {
            q.pop_front();
        }
        q.push_back((label.to_string(), len));
        self.stats.entry(label.to_string()).or_default();
    }

    /// The engine wrote `len` bytes to `link` at `at`: if that is the next expected
    /// send, its round trip starts now.
    pub fn on_tx(&mut self, link: Link, len: usize, at: SystemTime) {
        let Some(q) = self.expected.get_mut(&link) else {
            return;
        };
        if q.front().is_some_and(|(_, n)| *n == len)
            && let Some((label, _)) = q.pop_front()
        {
            if q.is_empty() {
                self.expected.remove(&link);
            }
            let w = self.waiting.entry(link).or_default();
            if w.len() >= WAITING_CAP
                && let Some((old, _)) = w.pop_front()
            {
                self.stats.entry(old).or_default().timeouts += 1;
            }
            w.push_back((label, at));
        }
    }

    /// A frame arrived from `link` at `at`: it answers the oldest waiting send. Returns
    /// the round trip measured, if any.
    pub fn on_frame(&mut self, link: Link, at: SystemTime) -> Option<Duration> {
        // Links leave the maps when nothing waits on them, so the receive path of a
        // session that sends no requests costs an empty-map check per read.
        let q = self.waiting.get_mut(&link)?;
        let (label, sent) = q.pop_front()?;
        if q.is_empty() {
            self.waiting.remove(&link);
        }
        let rtt = at.duration_since(sent).unwrap_or_default();
        self.stats.entry(label.clone()).or_default().add(rtt);
        self.fresh.push(RttSample {
            label,
            link,
            sent,
            rtt,
        });
        Some(rtt)
    }

    /// Counts sends waiting longer than the timeout as timeouts (call it regularly).
    pub fn poll(&mut self, now: SystemTime) {
        for q in self.waiting.values_mut() {
            while let Some((_, sent)) = q.front() {
                if now.duration_since(*sent).unwrap_or_default() < self.timeout {
                    break;
                }
                if let Some((label, _)) = q.pop_front() {
                    self.stats.entry(label).or_default().timeouts += 1;
                }
            }
        }
        self.waiting.retain(|_, q| !q.is_empty());
    }

    /// The link closed: its unanswered sends are timeouts, its unwritten ones forgotten.
    pub fn closed(&mut self, link: Link) {
        self.expected.remove(&link);
        for (label, _) in self.waiting.remove(&link).unwrap_or_default() {
            self.stats.entry(label).or_default().timeouts += 1;
        }
    }

    /// The statistics of one command (None if it was never sent).
    pub fn summary(&self, label: &str) -> Option<RttSummary> {
        self.stats.get(label).map(Stats::summary)
    }

    /// Every command's statistics, by label.
    pub fn summaries(&self) -> Vec<(String, RttSummary)> {
        self.stats
            .iter()
            .map(|(label, s)| (label.clone(), s.summary()))
            .collect()
    }

    /// The samples measured since the last call.
    pub fn take_samples(&mut self) -> Vec<RttSample> {
        std::mem::take(&mut self.fresh)
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.expected.clear();
        self.waiting.clear();
        self.stats.clear();
        self.fresh.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn pipelined_sends_answered_in_order() {
        let mut t = RttTracker::new(Duration::from_secs(1));
        let link = Link::Conn(1);
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        t.expect(link, "read", 8);
        t.expect(link, "write", 12);
        t.on_tx(link, 8, t0);
        t.on_tx(link, 12, t0 + ms(1));
        assert_eq!(t.on_frame(link, t0 + ms(30)), Some(ms(30)));
        assert_eq!(t.on_frame(link, t0 + ms(41)), Some(ms(40)));
        assert_eq!(t.on_frame(link, t0 + ms(50)), None);
        // Nothing waits: the links left the maps (the receive path's check is cheap).
        assert!(t.expected.is_empty() && t.waiting.is_empty());
        assert_eq!(t.summary("read").unwrap().count, 1);
        assert_eq!(t.summary("write").unwrap().max, ms(40));
        assert_eq!(t.take_samples().len(), 2);
    }

    #[test]
    fn an_unexpected_write_is_not_a_request() {
        let mut t = RttTracker::new(Duration::from_secs(1));
        let link = Link::Peer("127.0.0.1:9".parse().unwrap());
        let t0 = SystemTime::now();
        t.expect(link, "ping", 4);
        t.on_tx(link, 99, t0);
        assert_eq!(t.on_frame(link, t0 + ms(5)), None);
        t.on_tx(link, 4, t0 + ms(6));
        assert_eq!(t.on_frame(link, t0 + ms(9)), Some(ms(3)));
    }

    #[test]
    fn percentiles_and_timeouts() {
        let mut t = RttTracker::new(ms(500));
        let link = Link::Conn(7);
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(5000);
        for i in 1..=100u64 {
            let sent = t0 + Duration::from_secs(i);
            t.expect(link, "q", 3);
            t.on_tx(link, 3, sent);
            t.on_frame(link, sent + ms(i));
        }
        let s = t.summary("q").unwrap();
        assert_eq!(
            (s.count, s.min, s.p50, s.p95, s.max),
            (100, ms(1), ms(50), ms(95), ms(100))
        );
        let late = t0 + Duration::from_secs(200);
        t.expect(link, "q", 3);
        t.on_tx(link, 3, late);
        t.poll(late + ms(499));
        assert_eq!(t.summary("q").unwrap().timeouts, 0);
        t.poll(late + ms(500));
        assert_eq!(t.summary("q").unwrap().timeouts, 1);
        // Answered after its timeout: it answers nothing.
        assert_eq!(t.on_frame(link, late + ms(600)), None);
        t.expect(link, "q", 3);
        t.on_tx(link, 3, late + ms(700));
        t.closed(link);
        assert_eq!(t.summary("q").unwrap().timeouts, 2);
    }
}
