//! Protocol frames the user defines, the values read out of them, and round-trip times.
//!
//! - [`def`]: a frame definition ([`FrameDef`]: sync bytes, a length field / fixed
//!   length / terminator, an idle-gap fallback, a checksum with its range, position and
//!   byte order) and its presets (Modbus RTU, Modbus TCP, a u16 length prefix, text
//!   lines); saved with the session and exported as JSON.
//! - [`cut`]: cutting a stream into frames by a definition, each with a [`Verdict`]
//!   (good, bad checksum, impossible length, short, no sync, too long), counting the
//!   times it had to find the frame boundary again.
//! - [`field`]: named numbers inside a frame (u8…i32, f32, either byte order, bit
//!   fields, scale and offset, unit, labels).
//! - [`rtt`]: round-trip times per command (min / p50 / p95 / max, timeouts).
//!
//! Like `codec`, nothing here touches sockets or egui: the session store, the recorder,
//! the window and the tests all use it.

pub mod cut;
pub mod def;
pub mod field;
pub mod rtt;

pub use cut::{Cut, FrameCutter, Verdict};
pub use def::{Endian, FrameChecksum, FrameDef, FrameLength, LengthCounts};
pub use field::{Bits, FieldDef, FieldKind, FieldValue, Label};
pub use rtt::{Link, RttSample, RttSummary, RttTracker};
