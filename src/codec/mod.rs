//! Bytes ⇄ what a user reads, and typed text → bytes to send.
//!
//! Raw bytes are the truth everywhere in Sockscope; this module only renders them
//! (hex, hexdump, text in an encoding) and builds them (hex input, text with escapes,
//! line endings, checksums). It depends on nothing but `encoding_rs`, never on egui or
//! sockets, so the engine, the session store and the fuzz targets can all use it.
//!
//! - [`hex`]: parse pasted hex (`48 65 6C`, `0x48,0x65`, …), format spaced hex and hexdump rows.
//! - [`text`]: text encodings, a streaming [`text::StreamDecoder`] per connection and
//!   direction, strict encoding of text to send, and side-by-side byte → character spans.
//! - [`escape`]: `\r \n \t \\ \0 \xNN` in typed text, line endings, and the whole send payload.
//! - [`checksum`]: sum8, XOR8, CRC-16/MODBUS, CRC-16/CCITT-FALSE, CRC-32 (table driven).
//! - [`framing`]: cutting a received stream into messages (delimiter, idle gap, fixed
//!   length, length prefix), streaming and bounded.
//! - [`lazy`]: the per-read facts that let text be made when it is looked at, exactly as
//!   the streaming decoder made it.

pub mod checksum;
pub mod escape;
pub mod framing;
pub mod hex;
pub mod lazy;
pub mod text;
