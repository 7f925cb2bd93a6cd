//! How a view's memory is split between the store and the queue that feeds it.
//!
//! A window drains the engine's queue once a frame, so under a flood everything that
//! arrives between two frames waits in the queue, and the readers wait when it is full:
//! the rate through the window is at most the queue's bound times the frame rate. Both
//! come out of one budget (the view's cap), so a larger queue means a smaller store.
//! [`QueueSizer`] moves the split with the traffic: while data trickles in the queue is
//! small and the store keeps nearly the whole cap of history; when a drain finds the
//! queue nearly full it doubles (up to 3/4 of the cap, at most [`MAX_QUEUE`]); after a
//! second of calm it halves again, back to [`window_queue_bytes`]. An eighth of the cap
//! stays for the allocator's slack ([`super::Store::slack`]), so the store keeps at least
//! an eighth. While the view is live the queue sheds what the store would evict, and it
//! grows only as far as shedding needs (a little over half of what the view keeps), so
//! after a flood the view holds three eighths of its cap.

use std::time::{Duration, Instant};

/// The most a queue for a window grows to (enough for ~3.8 GB/s at 60 frames/s).
pub const MAX_QUEUE: usize = 64 << 20;

/// How long drains must find the queue nearly empty before it shrinks by half.
const CALM: Duration = Duration::from_secs(1);

/// The queue bound a window starts with for a view of `view_bytes`: a quarter of the
/// view, between 1 and 16 MiB (a trickle never needs more; a flood grows it). The store
/// keeps that much of its cap free, and the allocator's slack ([`super::Store::set_reserve`]),
/// so the store and the queue together stay within the view's cap, heap holes and all.
pub fn window_queue_bytes(view_bytes: usize) -> usize {
    (view_bytes / 4).clamp(1 << 20, 16 << 20)
}

/// The part of a view's memory kept free for the allocator's holes while data is on its
/// way to the store ([`super::Store::slack`]): an eighth.
pub fn allocator_slack(view_bytes: usize) -> usize {
    view_bytes / 8
}

/// The bound of one window's queue, moved with the traffic (see the module doc).
#[derive(Clone, Debug)]
pub struct QueueSizer {
    base: usize,
    max: usize,
    /// The most while the queue sheds ([`QueueSizer::observe`]).
    shed_max: usize,
    limit: usize,
    calm_since: Option<Instant>,
}

impl QueueSizer {
    /// A sizer for a view of `view_bytes`, starting at [`window_queue_bytes`].
    pub fn new(view_bytes: usize) -> QueueSizer {
        let base = window_queue_bytes(view_bytes);
        let max = (view_bytes / 4 * 3).min(MAX_QUEUE).max(base);
        let kept = view_bytes - allocator_slack(view_bytes);
        let shed_max = (kept / 2 + view_bytes / 16).clamp(base, max);
        QueueSizer {
            base,
            max,
            shed_max,
            limit: base,
            calm_since: None,
        }
    }

    /// The bound in force.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Told what a drain found queued (before it drained) at `now`: the new bound when it
    /// changes. Nearly full (¾ of the bound) doubles it: the readers were about to wait
    /// for the next frame. An eighth or less for [`CALM`] halves it, towards the start.
    ///
    /// While the queue sheds (`shedding`: a live view, see
    /// [`crate::engine::Engine::set_shedding`]) a full queue no longer makes the readers
    /// wait once its bound is over half of what the view keeps (the view less the
    /// allocator's slack): then it sheds what the store would evict. So it grows only
    /// that far (and a sixteenth of the view more); every byte more would be taken from
    /// the store's share, and after a flood the view would hold that much less (an eighth
    /// of the view at 3/4, three eighths here).
    pub fn observe(&mut self, queued: usize, now: Instant, shedding: bool) -> Option<usize> {
        let before = self.limit;
        let ceiling = if shedding { self.shed_max } else { self.max };
        if self.limit > ceiling {
            self.limit = ceiling;
            self.calm_since = None;
        } else if queued >= self.limit / 4 * 3 {
            self.limit = (self.limit * 2).min(ceiling);
            self.calm_since = None;
        } else if queued <= self.limit / 8 {
            let since = *self.calm_since.get_or_insert(now);
            if now.duration_since(since) >= CALM {
                self.limit = (self.limit / 2).max(self.base);
                self.calm_since = Some(now);
            }
        } else {
            self.calm_since = None;
        }
        (self.limit != before).then_some(self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flood doubles the bound at each full drain up to 3/4 of the view (or 64 MiB);
    /// calm halves it once a second back to the start; in between nothing moves.
    #[test]
    fn the_queue_grows_with_a_flood_and_shrinks_after_it() {
        let t0 = Instant::now();
        let mut sizer = QueueSizer::new(64 << 20);
        assert_eq!(sizer.limit(), 16 << 20);
        assert_eq!(sizer.observe(16 << 20, t0, false), Some(32 << 20));
        assert_eq!(sizer.observe(32 << 20, t0, false), Some(48 << 20));
        assert_eq!(
            sizer.observe(48 << 20, t0, false),
            None,
            "at most 3/4 of the view"
        );
        // Half full: neither.
        assert_eq!(sizer.observe(28 << 20, t0, false), None);
        // Calm: nothing until a second has passed, then one halving a second.
        assert_eq!(sizer.observe(0, t0, false), None);
        assert_eq!(
            sizer.observe(0, t0 + Duration::from_millis(500), false),
            None
        );
        assert_eq!(sizer.observe(0, t0 + CALM, false), Some(24 << 20));
        assert_eq!(
            sizer.observe(0, t0 + CALM + Duration::from_millis(10), false),
            None
        );
        assert_eq!(sizer.observe(0, t0 + CALM * 2, false), Some(16 << 20));
        assert_eq!(
            sizer.observe(0, t0 + CALM * 3, false),
            None,
            "never below the start"
        );
        // A big view is bounded by MAX_QUEUE, a small one by its start.
        let mut big = QueueSizer::new(1 << 30);
        for _ in 0..10 {
            let limit = big.limit();
            big.observe(limit, t0, false);
        }
        assert_eq!(big.limit(), MAX_QUEUE);
        let mut small = QueueSizer::new(1 << 20);
        assert_eq!(small.limit(), 1 << 20);
        assert_eq!(small.observe(1 << 20, t0, false), None);
    }

    /// While the queue sheds it grows only past half of what the view keeps (56 MiB of
    /// 64, so 28) with a margin: 32 MiB, leaving the store 24 MiB after a flood. A queue
    /// grown while the view could not shed comes down at the first drain that sheds.
    #[test]
    fn a_shedding_queue_stops_where_shedding_works() {
        let t0 = Instant::now();
        let mut sizer = QueueSizer::new(64 << 20);
        assert_eq!(sizer.observe(16 << 20, t0, true), Some(32 << 20));
        assert_eq!(sizer.observe(32 << 20, t0, true), None, "sheds from here");
        assert_eq!(sizer.observe(32 << 20, t0, false), Some(48 << 20));
        assert_eq!(sizer.observe(48 << 20, t0, true), Some(32 << 20));
        // A view whose start is already past that point stays at its start.
        let mut small = QueueSizer::new(2 << 20);
        assert_eq!(small.limit(), 1 << 20);
        assert_eq!(small.observe(1 << 20, t0, true), None);
        assert_eq!(window_queue_bytes(1 << 30), 16 << 20);
    }
}
