//! What a user defines: a frame ([`FrameDef`]: sync bytes, length rule, idle-gap
//! fallback, checksum, fields) and its presets; saved with the session and exported as
//! JSON like quick commands.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::codec::checksum::Checksum;

use super::field::{FieldDef, FieldKind};

/// Byte order of a multi-byte number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endian {
    /// Most significant byte first (network order).
    #[default]
    Big,
    /// Least significant byte first.
    Little,
}

impl Endian {
    /// "BE" or "LE".
    pub fn short(self) -> &'static str {
        match self {
            Endian::Big => "BE",
            Endian::Little => "LE",
        }
    }
}

/// What a length field counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LengthCounts {
    /// The bytes after the length field (Modbus TCP's MBAP length, a u16 prefix).
    #[default]
    AfterField,
    /// The whole frame, from its first byte.
    WholeFrame,
}

/// How long a frame is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FrameLength {
    /// A length field inside the frame: `width` bytes at `offset` (from the frame's
    /// first byte, the sync bytes included), counting what `counts` says, plus `adjust`
    /// bytes it does not count (e.g. +2 for a CRC after the counted data).
    Field {
        /// Where the field starts.
        offset: usize,
        /// 1, 2 or 4 bytes.
        width: u8,
        /// Its byte order.
        endian: Endian,
        /// What it counts.
        counts: LengthCounts,
        /// Added to the value (may be negative).
        adjust: i64,
    },
    /// Every frame is this many bytes.
    Fixed {
        /// The length.
        len: usize,
    },
    /// A frame ends just after these bytes (kept in the frame), e.g. `0A` for lines.
    Terminator {
        /// The terminator, as spaced hex in JSON (`"0D 0A"`).
        #[serde(with = "hex_text")]
        bytes: Vec<u8>,
    },
}

/// Where a frame's checksum is and what it covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameChecksum {
    /// The algorithm (from the send box's set).
    #[serde(with = "crate::automation::template::names::checksum")]
    pub kind: Checksum,
    /// The first byte it covers (0: from the frame's first byte).
    pub from: usize,
    /// Bytes after the checksum at the end of the frame (0: the checksum ends the
    /// frame; 2 for a checksum followed by `\r\n`). It covers `from` up to itself.
    pub trailer: usize,
    /// Its byte order; None: the algorithm's usual order (CRC-16/MODBUS low byte first,
    /// the others high byte first).
    pub endian: Option<Endian>,
}

/// A frame definition: how received bytes are cut into frames, checked and read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameDef {
    /// Its name (shown in pickers, the field table and the plot legend).
    pub name: String,
    /// Bytes every frame starts with (empty: none); bytes before them are skipped and
    /// shown as such, which is how the cutter finds its way back after garbage.
    #[serde(with = "hex_text", default)]
    pub sync: Vec<u8>,
    /// How long a frame is.
    pub length: FrameLength,
    /// When no byte has arrived for this long, what is pending ends the frame (the
    /// fallback for a device that sends a short or unterminated frame); None: wait.
    #[serde(default)]
    pub idle_gap_ms: Option<u64>,
    /// The checksum, if frames carry one.
    #[serde(default)]
    pub checksum: Option<FrameChecksum>,
    /// The longest frame accepted; a length field saying more is an impossible length.
    pub max_len: usize,
    /// Named values read out of each good frame.
    #[serde(default)]
    pub fields: Vec<FieldDef>,
}

impl FrameDef {
    /// The idle-gap fallback as a duration.
    pub fn idle_gap(&self) -> Option<Duration> {
        self.idle_gap_ms.map(Duration::from_millis)
    }

    /// Every preset, in the order a picker lists them.
    pub fn presets() -> Vec<FrameDef> {
        vec![
            FrameDef::modbus_rtu(),
            FrameDef::modbus_tcp(),
            FrameDef::u16_length_prefix(),
            FrameDef::text_lines(),
        ]
    }

    /// Modbus RTU responses to "read holding/input registers" (function 03/04): address,
    /// function, byte count N, N data bytes, CRC-16/MODBUS (low byte first). The byte
    /// count is the length field (+2 for the CRC); a 3.5-character gap at 9600 baud ends
    /// anything else. Fields: the first two registers.
    pub fn modbus_rtu() -> FrameDef {
        FrameDef {
            name: "Modbus RTU".into(),
            sync: Vec::new(),
            length: FrameLength::Field {
                offset: 2,
                width: 1,
                endian: Endian::Big,
                counts: LengthCounts::AfterField,
                adjust: 2,
            },
            idle_gap_ms: Some(50),
            checksum: Some(FrameChecksum {
                kind: Checksum::Crc16Modbus,
                from: 0,
                trailer: 0,
                endian: None,
            }),
            max_len: 256,
            fields: vec![
                FieldDef::number("register 0", 3, FieldKind::U16, Endian::Big),
                FieldDef::number("register 1", 5, FieldKind::U16, Endian::Big),
            ],
        }
    }

    /// Modbus TCP: the MBAP header (transaction, protocol, length, unit) whose length
    /// counts the bytes after it. Fields: the first register of a read response.
    pub fn modbus_tcp() -> FrameDef {
        FrameDef {
            name: "Modbus TCP".into(),
            sync: Vec::new(),
            length: FrameLength::Field {
                offset: 4,
                width: 2,
                endian: Endian::Big,
                counts: LengthCounts::AfterField,
                adjust: 0,
            },
            idle_gap_ms: None,
            checksum: None,
            max_len: 260,
            fields: vec![
                FieldDef::number("transaction", 0, FieldKind::U16, Endian::Big),
                FieldDef::number("function", 7, FieldKind::U8, Endian::Big),
                FieldDef::number("register 0", 9, FieldKind::U16, Endian::Big),
            ],
        }
    }

    /// A big-endian u16 length, then that many bytes.
    pub fn u16_length_prefix() -> FrameDef {
        FrameDef {
            name: "u16 BE length prefix".into(),
            sync: Vec::new(),
            length: FrameLength::Field {
                offset: 0,
                width: 2,
                endian: Endian::Big,
                counts: LengthCounts::AfterField,
                adjust: 0,
            },
            idle_gap_ms: None,
            checksum: None,
            max_len: 65_537,
            fields: Vec::new(),
        }
    }

    /// Newline-delimited text (`\n`, a `\r` before it stays in the frame).
    pub fn text_lines() -> FrameDef {
        FrameDef {
            name: "Text lines".into(),
            sync: Vec::new(),
            length: FrameLength::Terminator { bytes: vec![b'\n'] },
            idle_gap_ms: None,
            checksum: None,
            max_len: 64 << 10,
            fields: Vec::new(),
        }
    }

    /// What is wrong with this definition, in English (None: usable).
    pub fn problem(&self) -> Option<String> {
        if self.max_len == 0 {
            return Some("the longest frame must be at least 1 byte".into());
        }
        match &self.length {
            FrameLength::Field { width, offset, .. } => {
                if ![1, 2, 4].contains(width) {
                    return Some(format!("a length field is 1, 2 or 4 bytes, not {width}"));
                }
                if offset + usize::from(*width) > self.max_len {
                    return Some("the length field lies beyond the longest frame".into());
                }
            }
            FrameLength::Fixed { len } if *len == 0 || *len > self.max_len => {
                return Some(format!(
                    "a fixed length must be 1 to {} bytes (the longest frame)",
                    self.max_len
                ));
            }
            FrameLength::Terminator { bytes } if bytes.is_empty() => {
                return Some("the terminator is empty".into());
            }
            _ => {}
        }
        if self.sync.len() >= self.max_len {
            return Some("the sync bytes are as long as the longest frame".into());
        }
        for field in &self.fields {
            if field.name.trim().is_empty() {
                return Some("a field has no name".into());
            }
            if let Some(p) = field.problem() {
                return Some(format!("field {}: {p}", field.name));
            }
        }
        None
    }
}

/// Bytes as spaced hex text in JSON (`"AA 55"`), read back by `codec::hex::parse`.
mod hex_text {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::codec::hex::to_spaced(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        crate::codec::hex::parse(&text).map_err(|e| D::Error::custom(e.to_string()))
    }
}
