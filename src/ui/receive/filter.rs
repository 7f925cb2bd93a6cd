//! The filter and the row index of the receive view: which records match (worked
//! through a bounded slice per frame), and which list row shows which record (and which
//! line of it, in the hexdump views).

use std::collections::VecDeque;

use crate::codec::hex;
use crate::codec::text::TextEncoding;
use crate::session::store::{Record, RecordKind, Store};

use super::{FILTER_BUDGET, ReceiveState};

/// Sequence numbers of records that match the filter, kept up to date incrementally.
#[derive(Debug, Default)]
pub(super) struct FilterCache {
    key: Option<(String, bool, TextEncoding)>,
    pub(super) matches: VecDeque<u64>,
    scanned_to: u64,
    pub(super) error: Option<hex::HexError>,
}

/// The compiled filter.
enum Needle {
    Text(String),
    Bytes(Vec<u8>),
}

impl Needle {
    fn matches(&self, store: &Store, record: &Record) -> bool {
        match self {
            Needle::Text(text) => store.text(record).contains(text.as_str()),
            Needle::Bytes(bytes) => {
                bytes.is_empty()
                    || record
                        .bytes
                        .windows(bytes.len())
                        .any(|w| w == bytes.as_slice())
            }
        }
    }
}

impl ReceiveState {
    /// Records that match the filter, when one is set (the status bar's "shown").
    pub fn filtered_count(&self) -> Option<usize> {
        (!self.filter.is_empty()).then_some(self.filter_cache.matches.len())
    }

    /// Brings the filter cache up to date with the store; returns the filter error, if any.
    pub(super) fn refresh_filter(&mut self, store: &Store) {
        let key = (self.filter.clone(), self.filter_hex, store.encoding());
        let cache = &mut self.filter_cache;
        if cache.key.as_ref() != Some(&key) {
            cache.key = Some(key);
            cache.matches.clear();
            cache.scanned_to = 0;
            cache.error = None;
        }
        if self.filter.is_empty() {
            return;
        }
        let needle = if self.filter_hex {
            match hex::parse(&self.filter) {
                Ok(bytes) => Needle::Bytes(bytes),
                Err(error) => {
                    cache.error = Some(error);
                    return;
                }
            }
        } else {
            Needle::Text(self.filter.clone())
        };
        // Forget matches that were evicted from the store.
        let first = store.get(0).map_or(store.next_seq(), |r| r.seq);
        while cache.matches.front().is_some_and(|&seq| seq < first) {
            cache.matches.pop_front();
        }
        let start = store
            .index_of_seq(cache.scanned_to)
            .unwrap_or(if cache.scanned_to < first {
                0
            } else {
                store.len()
            });
        // A few milliseconds per frame: a filter typed over a full store fills the list
        // over a few frames (the toolbar shows how far it got) instead of stalling one.
        let deadline = std::time::Instant::now() + FILTER_BUDGET;
        for (i, record) in store.iter().enumerate().skip(start) {
            if i % 64 == 0 && std::time::Instant::now() >= deadline {
                cache.scanned_to = record.seq;
                return;
            }
            if record.kind != RecordKind::Info && needle.matches(store, record) {
                cache.matches.push_back(record.seq);
            }
        }
        cache.scanned_to = store.next_seq();
    }

    /// How far the filter has looked through the store (`None` when it is done or off).
    pub fn filter_progress(&self, store: &Store) -> Option<f32> {
        if self.filter.is_empty() || self.filter_cache.scanned_to >= store.next_seq() {
            return None;
        }
        let first = store.get(0).map_or(store.next_seq(), |r| r.seq);
        let done = self.filter_cache.scanned_to.saturating_sub(first) as f32;
        let all = store.next_seq().saturating_sub(first).max(1) as f32;
        Some(done / all)
    }

    /// Number of rows the list shows, and a way to map a row to a store index.
    pub(super) fn rows(&self, store: &Store) -> Rows {
        let limit = self.paused_at.unwrap_or(u64::MAX);
        if self.filter.is_empty() {
            let newer = store.next_seq().saturating_sub(limit) as usize;
            Rows::All(store.len().saturating_sub(newer))
        } else {
            Rows::Filtered(
                self.filter_cache
                    .matches
                    .partition_point(|&seq| seq < limit),
            )
        }
    }
}

/// Most payload bytes a record shows as hexdump lines in the "both" view.
pub(super) const BOTH_MAX_BYTES: usize = 1024;

/// Lines a record takes in the "both" view: a header, then 16 bytes a line, then a
/// "more bytes" line when it was cut.
fn lines_of(record: &Record) -> u64 {
    if record.kind == RecordKind::Info {
        return 1;
    }
    let shown = record.bytes.len().min(BOTH_MAX_BYTES);
    1 + shown.div_ceil(hex::ROW_BYTES) as u64 + u64::from(record.bytes.len() > BOTH_MAX_BYTES)
}

/// Where each shown record starts in the "both" view's line numbering, kept up to date
/// incrementally (new records appended, evicted ones dropped from the front), so the view
/// stays virtualised even though records take different numbers of lines.
#[derive(Debug, Default)]
pub(super) struct LineIndex {
    key: Option<(String, bool, TextEncoding)>,
    seqs: VecDeque<u64>,
    starts: VecDeque<u64>,
    end: u64,
    next_seq: u64,
}

impl LineIndex {
    /// Brings the index up to date with the rows the list shows.
    pub(super) fn update(
        &mut self,
        store: &Store,
        state_filter: &FilterCache,
        filter_on: bool,
        limit: u64,
    ) {
        let key = if filter_on {
            state_filter.key.clone()
        } else {
            None
        };
        if key != self.key {
            *self = LineIndex {
                key,
                ..LineIndex::default()
            };
        }
        let first = store.get(0).map_or(store.next_seq(), |r| r.seq);
        while self.seqs.front().is_some_and(|&seq| seq < first) {
            self.seqs.pop_front();
            self.starts.pop_front();
        }
        let next_seq = self.next_seq;
        let mut add = |record: &Record| {
            self.seqs.push_back(record.seq);
            self.starts.push_back(self.end);
            self.end += lines_of(record);
            self.next_seq = record.seq + 1;
        };
        if filter_on {
            let from = state_filter.matches.partition_point(|&seq| seq < next_seq);
            for &seq in state_filter.matches.range(from..) {
                if seq >= limit {
                    break;
                }
                if let Some(record) = store.index_of_seq(seq).and_then(|i| store.get(i)) {
                    add(record);
                }
            }
        } else {
            let from = store.index_of_seq(next_seq).unwrap_or(if next_seq < first {
                0
            } else {
                store.len()
            });
            for record in store.iter().skip(from).take_while(|r| r.seq < limit) {
                add(record);
            }
        }
    }

    /// Lines shown.
    pub(super) fn count(&self) -> usize {
        self.starts
            .front()
            .map_or(0, |&first| (self.end - first) as usize)
    }

    /// The record and the line within it for a visible line number.
    pub(super) fn locate(&self, line: usize) -> Option<(u64, u64)> {
        let absolute = self.starts.front()? + line as u64;
        let pos = self
            .starts
            .partition_point(|&start| start <= absolute)
            .checked_sub(1)?;
        Some((self.seqs[pos], absolute - self.starts[pos]))
    }
}

pub(super) enum Rows {
    All(usize),
    Filtered(usize),
}

impl Rows {
    pub(super) fn count(&self) -> usize {
        match self {
            Rows::All(n) | Rows::Filtered(n) => *n,
        }
    }
}
