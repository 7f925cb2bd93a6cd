//! Receive framing in the store: cutting TCP streams into frames with any of codec's
//! framings (delimiter, idle gap, fixed length, length prefix), and the optional frame
//! check that tags each complete frame "CRC ok" or "CRC bad".

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::codec::checksum::Checksum;
use crate::codec::framing::{FrameMode, FrameOut};

use super::{Store, StreamKey};

impl Store {
    /// The receive framing in force.
    pub fn frame_mode(&self) -> &FrameMode {
        &self.frame_mode
    }

    /// Changes how received streams are cut into records. Bytes pending in the old
    /// framers are flushed as records first, so nothing is lost.
    pub fn set_frame_mode(&mut self, mode: FrameMode) {
        if mode == self.frame_mode {
            return;
        }
        self.flush_framers();
        self.frame_mode = mode;
    }

    /// The frame check in force (`None`: frames are not checked).
    pub fn frame_check(&self) -> Option<Checksum> {
        self.frame_check
    }

    /// Checks every complete received frame with `check` ([`Checksum::verify`]: the
    /// frame ends with the checksum of the bytes before it), readable per record through
    /// [`super::Record::crc_ok`]. Applies only while framing is on (any mode but
    /// [`FrameMode::AsRead`]); `Some(Checksum::None)` is taken as `None`. Like an
    /// encoding switch, changing it re-evaluates the frames already held.
    pub fn set_frame_check(&mut self, check: Option<Checksum>) {
        let check = check.filter(|c| *c != Checksum::None);
        if check == self.frame_check {
            return;
        }
        self.frame_check = check;
        for record in self.records.iter_mut().filter(|r| r.frame) {
            record.crc = check.map(|c| c.verify(&record.bytes));
        }
    }

    /// Once per frame: lets idle-gap framers emit frames whose gap has passed, and counts
    /// the invalid bytes of some records not counted yet.
    pub fn poll(&mut self, now: Instant) {
        self.count_some(super::COUNT_BUDGET);
        self.poll_cutters(now);
        if !matches!(self.frame_mode, FrameMode::IdleGap(_)) {
            return;
        }
        let keys: Vec<StreamKey> = self
            .streams
            .iter()
            .filter(|(_, s)| s.framer.as_ref().is_some_and(|f| f.pending_len() > 0))
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            let mut frames = std::mem::take(&mut self.frame_buf);
            let at = match self.streams.get_mut(&key) {
                Some(state) => {
                    if let Some(framer) = state.framer.as_mut() {
                        framer.poll(now, &mut frames);
                    }
                    state.last_at
                }
                None => SystemTime::now(),
            };
            self.push_frames(key, at, &mut frames, true);
            self.frame_buf = frames;
        }
    }

    /// Adds the frames a framer emitted as records. `complete`: a `Frame` is a whole
    /// frame (false for what a close or mode change leaves over mid-frame).
    pub(super) fn push_frames(
        &mut self,
        key: StreamKey,
        at: SystemTime,
        frames: &mut Vec<FrameOut>,
        complete: bool,
    ) {
        for frame in frames.drain(..) {
            let (bytes, oversize) = match frame {
                FrameOut::Frame(bytes) => (bytes, false),
                FrameOut::Oversize { bytes, .. } => (bytes, true),
            };
            let frame = complete && !oversize;
            self.push_bytes(
                key.session,
                key.conn,
                key.peer,
                key.kind,
                at,
                Arc::from(bytes),
                super::Facts {
                    oversize,
                    frame,
                    ..super::Facts::default()
                },
            );
        }
    }

    /// Emits what a stream's framer holds. Under idle-gap framing the close (or mode
    /// change) ends the frame as a gap would; in the other modes the rest is incomplete.
    pub(super) fn finish_stream(&mut self, key: StreamKey) {
        self.finish_cutter(key);
        let complete = matches!(self.frame_mode, FrameMode::IdleGap(_));
        let mut frames = std::mem::take(&mut self.frame_buf);
        let at = match self.streams.get_mut(&key) {
            Some(state) => {
                if let Some(framer) = state.framer.as_mut() {
                    framer.finish(&mut frames);
                }
                state.last_at
            }
            None => return,
        };
        self.push_frames(key, at, &mut frames, complete);
        self.frame_buf = frames;
    }

    pub(super) fn flush_framers(&mut self) {
        let keys: Vec<StreamKey> = self.streams.keys().copied().collect();
        for key in keys {
            self.finish_stream(key);
            // A framer for the new mode is created on the stream's next bytes.
            if let Some(state) = self.streams.get_mut(&key) {
                state.framer = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{peer, push};
    use super::super::{Record, StoreCaps};
    use super::*;
    use crate::codec::text::TextEncoding;
    use std::time::Duration;

    /// Line framing assembles a line split across reads and keeps every byte.
    #[test]
    fn line_framing_across_reads() {
        let mut store = Store::new(StoreCaps::default(), TextEncoding::Utf8);
        store.set_frame_mode(FrameMode::Delimiter(b"\n".to_vec()));
        push(&mut store, Some(3), b"hel");
        push(&mut store, Some(3), b"lo\nwor");
        assert_eq!(store.len(), 1);
        assert_eq!(&*store.get(0).unwrap().bytes, b"hello\n");
        store.end_conn(1, 3);
        assert_eq!(
            &*store.get(1).unwrap().bytes,
            b"wor",
            "pending bytes flushed on close"
        );
    }

    /// Idle-gap framing emits the pending frame once the gap has passed.
    #[test]
    fn idle_gap_framing() {
        let mut store = Store::new(StoreCaps::default(), TextEncoding::Utf8);
        store.set_frame_mode(FrameMode::IdleGap(Duration::from_millis(20)));
        push(&mut store, Some(3), b"ab");
        push(&mut store, Some(3), b"cd");
        assert_eq!(store.len(), 0);
        store.poll(Instant::now() + Duration::from_millis(50));
        assert_eq!(store.len(), 1);
        assert_eq!(&*store.get(0).unwrap().bytes, b"abcd");
    }

    /// A Modbus RTU request, 01 03 00 00 00 0A with its CRC C5 CD.
    const GOOD: [u8; 8] = [0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD];

    /// The verdict of each record holding bytes (a close adds a byte-less record showing
    /// the partial UTF-8 character the CRC bytes left in the decoder; it is no frame).
    fn verdicts(store: &Store) -> Vec<Option<bool>> {
        assert!(
            store
                .iter()
                .all(|r| !r.bytes.is_empty() || r.crc_ok().is_none())
        );
        store
            .iter()
            .filter(|r| !r.bytes.is_empty())
            .map(Record::crc_ok)
            .collect()
    }

    /// Fixed-length framing with a CRC-16/MODBUS check: a good frame and a bad one, both
    /// split across reads, come out as two frames tagged ok and bad.
    #[test]
    fn modbus_crc_frames_split_across_reads() {
        let mut store = Store::new(StoreCaps::default(), TextEncoding::Utf8);
        store.set_frame_mode(FrameMode::FixedLength(8));
        store.set_frame_check(Some(Checksum::Crc16Modbus));
        let mut bad = GOOD;
        bad[7] ^= 0xFF;
        let stream: Vec<u8> = GOOD.iter().chain(bad.iter()).copied().collect();
        push(&mut store, Some(2), &stream[..3]);
        push(&mut store, Some(2), &stream[3..11]);
        assert_eq!(store.len(), 1, "the second frame is still incomplete");
        push(&mut store, Some(2), &stream[11..]);
        assert_eq!(store.len(), 2);
        assert_eq!(&*store.get(0).unwrap().bytes, &GOOD);
        assert_eq!(&*store.get(1).unwrap().bytes, &bad);
        assert_eq!(verdicts(&store), [Some(true), Some(false)]);
    }

    /// Changing the check re-evaluates the frames already held; no check means no tag;
    /// records that are not frames (sends, "as read", leftovers on close) get no tag.
    #[test]
    fn changing_the_check_reevaluates_held_frames() {
        let mut store = Store::new(StoreCaps::default(), TextEncoding::Utf8);
        push(&mut store, Some(2), &GOOD);
        store.set_frame_mode(FrameMode::FixedLength(8));
        push(&mut store, Some(2), &GOOD);
        push(&mut store, Some(2), &GOOD[..5]);
        assert_eq!(verdicts(&store), [None, None]);
        store.set_frame_check(Some(Checksum::Crc16Modbus));
        assert_eq!(store.frame_check(), Some(Checksum::Crc16Modbus));
        assert_eq!(
            verdicts(&store),
            [None, Some(true)],
            "the as-read record is no frame"
        );
        store.set_frame_check(Some(Checksum::Crc16CcittFalse));
        assert_eq!(verdicts(&store), [None, Some(false)]);
        store.set_frame_check(Some(Checksum::None));
        assert_eq!(store.frame_check(), None);
        assert_eq!(verdicts(&store), [None, None]);
        store.set_frame_check(Some(Checksum::Crc16Modbus));
        store.push_data(
            1,
            Some(2),
            peer(),
            crate::engine::Direction::Tx,
            SystemTime::now(),
            Arc::from(&GOOD[..]),
        );
        store.end_conn(1, 2);
        assert_eq!(
            verdicts(&store),
            [None, Some(true), None, None],
            "a send and the 5 bytes left on close are not checked frames"
        );
    }

    /// Under idle-gap framing a frame ended by the gap or by the close is checked.
    #[test]
    fn idle_gap_frames_are_checked() {
        let mut store = Store::new(StoreCaps::default(), TextEncoding::Utf8);
        store.set_frame_mode(FrameMode::IdleGap(Duration::from_millis(20)));
        store.set_frame_check(Some(Checksum::Crc16Modbus));
        push(&mut store, Some(3), &GOOD[..4]);
        push(&mut store, Some(3), &GOOD[4..]);
        store.poll(Instant::now() + Duration::from_millis(50));
        push(&mut store, Some(3), &GOOD[..7]);
        store.end_conn(1, 3);
        assert_eq!(verdicts(&store), [Some(true), Some(false)]);
    }

    /// Length-prefix framing (Modbus TCP's MBAP header: 4 bytes, then a big-endian
    /// 2-byte length of what follows) reassembles frames cut anywhere, and a 1-byte
    /// prefix frame with a CRC is checked.
    #[test]
    fn length_prefix_framing() {
        let mut store = Store::new(StoreCaps::default(), TextEncoding::Utf8);
        store.set_frame_mode(FrameMode::LengthPrefix {
            width: 2,
            big_endian: true,
            header: 4,
            includes_header: false,
        });
        let first = [0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 10];
        let second = [0, 2, 0, 0, 0, 3, 1, 0x83, 2];
        let stream: Vec<u8> = first.iter().chain(second.iter()).copied().collect();
        for piece in stream.chunks(5) {
            push(&mut store, Some(4), piece);
        }
        assert_eq!(store.len(), 2);
        assert_eq!(&*store.get(0).unwrap().bytes, &first);
        assert_eq!(&*store.get(1).unwrap().bytes, &second);

        let mut store = Store::new(StoreCaps::default(), TextEncoding::Utf8);
        store.set_frame_mode(FrameMode::LengthPrefix {
            width: 1,
            big_endian: true,
            header: 0,
            includes_header: false,
        });
        store.set_frame_check(Some(Checksum::Crc16Modbus));
        // The length byte counts what follows it: the body and its CRC.
        let mut good = vec![4, b'h', b'i'];
        Checksum::Crc16Modbus.append(&mut good);
        let mut bad = good.clone();
        bad[1] = b'H';
        let stream: Vec<u8> = good.iter().chain(bad.iter()).copied().collect();
        push(&mut store, Some(5), &stream[..2]);
        push(&mut store, Some(5), &stream[2..7]);
        push(&mut store, Some(5), &stream[7..]);
        assert_eq!(store.len(), 2);
        assert_eq!(&*store.get(0).unwrap().bytes, &good[..]);
        assert_eq!(verdicts(&store), [Some(true), Some(false)]);
    }

    /// Fixed-length framing keeps every byte: whole frames as they complete, the rest on
    /// close.
    #[test]
    fn fixed_length_framing_keeps_every_byte() {
        let mut store = Store::new(StoreCaps::default(), TextEncoding::Utf8);
        store.set_frame_mode(FrameMode::FixedLength(4));
        push(&mut store, Some(6), b"abcdef");
        push(&mut store, Some(6), b"ghij");
        assert_eq!(store.len(), 2);
        store.end_conn(1, 6);
        let held: Vec<&[u8]> = store.iter().map(|r| &*r.bytes).collect();
        assert_eq!(held, [&b"abcd"[..], b"efgh", b"ij"]);
    }
}
