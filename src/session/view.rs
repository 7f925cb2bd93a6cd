//! View choices that belong to a session rather than to the window: how payloads are
//! shown and how received streams are cut into records. Plain data, so the command line,
//! the settings and the window share them without importing egui.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::codec::framing::FrameMode;

/// How payloads are shown in the receive view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ViewMode {
    /// Decoded text in the chosen encoding.
    #[default]
    Text,
    /// Hex bytes.
    Hex,
    /// Hex and text: a header line, then hexdump rows.
    Both,
}

impl ViewMode {
    /// Every mode, in menu order.
    pub const ALL: [ViewMode; 3] = [ViewMode::Text, ViewMode::Hex, ViewMode::Both];

    /// A `--view` value: `text`, `hex` or `both`, any case.
    pub fn from_arg(arg: &str) -> Option<ViewMode> {
        match arg.to_ascii_lowercase().as_str() {
            "text" => Some(ViewMode::Text),
            "hex" => Some(ViewMode::Hex),
            "both" => Some(ViewMode::Both),
            _ => None,
        }
    }
}

/// How received TCP streams are cut into records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Framing {
    /// One record per read.
    #[default]
    AsRead,
    /// Split after `\n`.
    Line,
    /// Split after `\r\n`.
    CrLf,
    /// A record ends after this many milliseconds of silence.
    Idle {
        /// Silence that ends a record, in milliseconds.
        ms: u32,
    },
    /// Every record is this many bytes.
    Fixed {
        /// Bytes per record.
        len: u32,
    },
    /// A header, a length field, then that many bytes (device protocols, Modbus TCP).
    LengthPrefix {
        /// Bytes before the length field.
        header: u32,
        /// Size of the length field: 1, 2 or 4.
        width: u8,
        /// The length is big-endian (network order).
        big_endian: bool,
        /// The length counts the whole frame, not only the body after it.
        includes_header: bool,
    },
}

impl Framing {
    /// One of each kind with typical parameters, in menu order.
    pub const KINDS: [Framing; 6] = [
        Framing::AsRead,
        Framing::Line,
        Framing::CrLf,
        Framing::Idle { ms: 20 },
        Framing::Fixed { len: 8 },
        Framing::LengthPrefix {
            header: 0,
            width: 2,
            big_endian: true,
            includes_header: false,
        },
    ];

    /// True when both are the same kind, whatever their parameters.
    pub fn same_kind(self, other: Framing) -> bool {
        std::mem::discriminant(&self) == std::mem::discriminant(&other)
    }

    /// The codec's framing mode for this choice.
    pub fn mode(self) -> FrameMode {
        match self {
            Framing::AsRead => FrameMode::AsRead,
            Framing::Line => FrameMode::Delimiter(b"\n".to_vec()),
            Framing::CrLf => FrameMode::Delimiter(b"\r\n".to_vec()),
            Framing::Idle { ms } => FrameMode::IdleGap(Duration::from_millis(u64::from(ms.max(1)))),
            Framing::Fixed { len } => FrameMode::FixedLength(len.max(1) as usize),
            Framing::LengthPrefix {
                header,
                width,
                big_endian,
                includes_header,
            } => FrameMode::LengthPrefix {
                width: width.clamp(1, 8),
                big_endian,
                header: header as usize,
                includes_header,
            },
        }
    }
}
