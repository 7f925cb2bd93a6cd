//! Lock-free byte/message counters. Workers bump them on every read and write; the UI
//! reads a snapshot at any time without taking a lock or waiting for the event queue.

use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes and messages in each direction (a snapshot).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Reads (TCP) or datagrams (UDP) received.
    pub rx_msgs: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Writes (TCP) or datagrams (UDP) sent.
    pub tx_msgs: u64,
}

/// Live counters, shared between workers and handles.
#[derive(Debug, Default)]
pub(crate) struct CounterCell {
    rx_bytes: AtomicU64,
    rx_msgs: AtomicU64,
    tx_bytes: AtomicU64,
    tx_msgs: AtomicU64,
}

impl CounterCell {
    pub(crate) fn add_rx(&self, bytes: usize) {
        self.rx_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.rx_msgs.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_tx(&self, bytes: usize) {
        self.tx_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.tx_msgs.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Counters {
        Counters {
            rx_bytes: self.rx_bytes.load(Ordering::Relaxed),
            rx_msgs: self.rx_msgs.load(Ordering::Relaxed),
            tx_bytes: self.tx_bytes.load(Ordering::Relaxed),
            tx_msgs: self.tx_msgs.load(Ordering::Relaxed),
        }
    }
}
