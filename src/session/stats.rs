//! Counters that never lie: totals since start and rates over the last second, for the
//! whole view and per peer. They are updated for every byte that reaches the store,
//! before any eviction, so dropping records from the view never changes them.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use crate::engine::{Counters, Direction, SessionId};

use super::hash::FastMap;

/// Totals and activity for one peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerStats {
    /// Bytes and messages each way.
    pub counters: Counters,
    /// When the peer was first seen.
    pub first_seen: SystemTime,
    /// When bytes last moved to or from the peer.
    pub last_activity: SystemTime,
}

/// Rates in bytes and messages per second, each way.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rates {
    /// Received bytes per second.
    pub rx_bytes: f64,
    /// Sent bytes per second.
    pub tx_bytes: f64,
    /// Received messages per second.
    pub rx_msgs: f64,
    /// Sent messages per second.
    pub tx_msgs: f64,
}

/// Most peers with statistics of their own; traffic of the rest is summed in
/// [`Stats::others`] (a sweep of source ports must not grow memory without end).
pub const MAX_PEER_STATS: usize = 4096;

/// Counters of everything the store has seen.
#[derive(Debug, Default)]
pub struct Stats {
    /// Totals over all sessions.
    pub total: Counters,
    /// Totals per engine session.
    pub per_session: FastMap<SessionId, Counters>,
    /// Totals per peer address, for the first [`MAX_PEER_STATS`] peers.
    pub per_peer: FastMap<SocketAddr, PeerStats>,
    /// Totals of every peer beyond [`MAX_PEER_STATS`], summed (the "others" row); None
    /// while every peer has its own entry.
    pub others: Option<PeerStats>,
    window_start: Option<(Instant, Counters)>,
    rates: Rates,
}

impl Stats {
    /// Counts `len` bytes (one message) moving in `dir` with `peer`.
    pub fn count(
        &mut self,
        session: SessionId,
        peer: SocketAddr,
        dir: Direction,
        len: u64,
        at: SystemTime,
    ) {
        add(&mut self.total, dir, len);
        add(self.per_session.entry(session).or_default(), dir, len);
        let fresh = PeerStats {
            counters: Counters::default(),
            first_seen: at,
            last_activity: at,
        };
        let entry = if self.per_peer.len() < MAX_PEER_STATS || self.per_peer.contains_key(&peer) {
            self.per_peer.entry(peer).or_insert(fresh)
        } else {
            self.others.get_or_insert(fresh)
        };
        add(&mut entry.counters, dir, len);
        entry.last_activity = at;
    }

    /// Updates the rates: they are measured over windows of about one second.
    pub fn tick(&mut self, now: Instant) {
        match self.window_start {
            None => self.window_start = Some((now, self.total)),
            Some((start, base)) => {
                let elapsed = now.saturating_duration_since(start);
                if elapsed >= Duration::from_secs(1) {
                    let secs = elapsed.as_secs_f64();
                    let t = self.total;
                    self.rates = Rates {
                        rx_bytes: (t.rx_bytes - base.rx_bytes) as f64 / secs,
                        tx_bytes: (t.tx_bytes - base.tx_bytes) as f64 / secs,
                        rx_msgs: (t.rx_msgs - base.rx_msgs) as f64 / secs,
                        tx_msgs: (t.tx_msgs - base.tx_msgs) as f64 / secs,
                    };
                    self.window_start = Some((now, t));
                }
            }
        }
    }

    /// Rates over the last full window.
    pub fn rates(&self) -> Rates {
        self.rates
    }

    /// Resets every counter and rate.
    pub fn reset(&mut self) {
        *self = Stats::default();
    }
}

fn add(counters: &mut Counters, dir: Direction, len: u64) {
    match dir {
        Direction::Rx => {
            counters.rx_bytes += len;
            counters.rx_msgs += 1;
        }
        Direction::Tx => {
            counters.tx_bytes += len;
            counters.tx_msgs += 1;
        }
    }
}

/// Formats a byte count for people: `999 B`, `12.3 KiB`, `4.56 MiB`, `1.20 GiB`.
pub fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} {}", UNITS[0])
    } else if value < 10.0 {
        format!("{value:.2} {}", UNITS[unit])
    } else if value < 100.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    /// Peers beyond the cap share one "others" entry; totals stay exact.
    #[test]
    fn peer_stats_are_capped_with_others() {
        let mut stats = Stats::default();
        let at = SystemTime::UNIX_EPOCH;
        let n = MAX_PEER_STATS + 1000;
        for i in 0..n {
            let peer = SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 9));
            stats.count(1, peer, Direction::Rx, 10, at);
        }
        assert_eq!(stats.per_peer.len(), MAX_PEER_STATS);
        let others = stats.others.map(|o| o.counters).unwrap_or_default();
        assert_eq!(others.rx_msgs, 1000);
        assert_eq!(stats.total.rx_bytes, 10 * n as u64);
        let sum: u64 = stats.per_peer.values().map(|p| p.counters.rx_bytes).sum();
        assert_eq!(sum + others.rx_bytes, stats.total.rx_bytes);
    }

    use super::*;

    /// Counting per peer and per session adds up to the total.
    #[test]
    fn counts_add_up() {
        let mut stats = Stats::default();
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let now = SystemTime::now();
        stats.count(1, a, Direction::Rx, 10, now);
        stats.count(1, b, Direction::Rx, 5, now);
        stats.count(2, a, Direction::Tx, 7, now);
        assert_eq!(stats.total.rx_bytes, 15);
        assert_eq!(stats.total.rx_msgs, 2);
        assert_eq!(stats.total.tx_bytes, 7);
        assert_eq!(stats.per_session[&1].rx_bytes, 15);
        assert_eq!(stats.per_peer[&a].counters.tx_bytes, 7);
        assert_eq!(stats.per_peer[&b].counters.rx_msgs, 1);
    }

    /// Rates are bytes over the elapsed window.
    #[test]
    fn rates_over_window() {
        let mut stats = Stats::default();
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let t0 = Instant::now();
        stats.tick(t0);
        stats.count(1, a, Direction::Rx, 2000, SystemTime::now());
        stats.tick(t0 + Duration::from_millis(500));
        assert_eq!(stats.rates().rx_bytes, 0.0, "no full window yet");
        stats.tick(t0 + Duration::from_secs(2));
        assert!((stats.rates().rx_bytes - 1000.0).abs() < 1e-6);
    }

    /// Byte counts read naturally.
    #[test]
    fn human_units() {
        assert_eq!(human_bytes(999.0), "999 B");
        assert_eq!(human_bytes(1536.0), "1.50 KiB");
        assert_eq!(human_bytes(50.0 * 1024.0 * 1024.0), "50.0 MiB");
    }
}
