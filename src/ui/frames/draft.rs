//! The definition as the Frames panel edits it ([`Draft`]): every number and hex string
//! as typed, so a half-typed value survives and the panel can say, next to the field
//! and in the UI language, what is wrong with it. [`Draft::to_def`] builds the
//! [`FrameDef`] the store cuts by, or the problems by place.

use crate::codec::checksum::Checksum;
use crate::codec::hex;
use crate::lang::Lang;
use crate::protocol::{
    Bits, Endian, FieldDef, FieldKind, FrameChecksum, FrameDef, FrameLength, Label, LengthCounts,
};
use crate::ui::errors::hex_error_text;

/// How a frame's length is known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LengthKind {
    /// A length field inside the frame.
    #[default]
    Field,
    /// Every frame is the same length.
    Fixed,
    /// A frame ends with these bytes.
    Terminator,
}

/// One field as typed.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldDraft {
    /// Its name.
    pub name: String,
    /// Its first byte.
    pub offset: String,
    /// Its number type.
    pub kind: FieldKind,
    /// Its byte order.
    pub endian: Endian,
    /// Only some bits of it.
    pub bits: bool,
    /// Bits right of the lowest one taken.
    pub shift: String,
    /// Bits taken.
    pub bit_width: String,
    /// `raw * scale + add`.
    pub scale: String,
    /// Added after scaling.
    pub add: String,
    /// Shown after the value.
    pub unit: String,
    /// `0=idle, 1=running`.
    pub labels: String,
}

/// The definition as typed.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    /// Its name.
    pub name: String,
    /// Sync bytes, hex.
    pub sync: String,
    /// Which length rule.
    pub length: LengthKind,
    /// Length field: offset.
    pub len_offset: String,
    /// Length field: 1, 2 or 4 bytes.
    pub len_width: u8,
    /// Length field: byte order.
    pub len_endian: Endian,
    /// Length field: what it counts.
    pub len_counts: LengthCounts,
    /// Length field: bytes it does not count.
    pub len_adjust: String,
    /// Fixed length.
    pub fixed_len: String,
    /// Terminator, hex.
    pub terminator: String,
    /// Idle gap in ms (empty: none).
    pub idle_gap: String,
    /// Checksum algorithm (`None`: frames carry none).
    pub checksum: Checksum,
    /// First byte the checksum covers.
    pub ck_from: String,
    /// Bytes after the checksum.
    pub ck_trailer: String,
    /// The checksum's byte order (None: the algorithm's usual one).
    pub ck_endian: Option<Endian>,
    /// Longest frame.
    pub max_len: String,
    /// The fields.
    pub fields: Vec<FieldDraft>,
}

/// Where a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spot {
    /// Sync bytes.
    Sync,
    /// Length field offset.
    LenOffset,
    /// Length adjustment.
    LenAdjust,
    /// Fixed length.
    FixedLen,
    /// Terminator.
    Terminator,
    /// Idle gap.
    IdleGap,
    /// Checksum start.
    CkFrom,
    /// Checksum trailer.
    CkTrailer,
    /// Longest frame.
    MaxLen,
    /// Field `n`'s name.
    FieldName(usize),
    /// Field `n`'s offset.
    FieldOffset(usize),
    /// Field `n`'s bits.
    FieldBits(usize),
    /// Field `n`'s scale or addend.
    FieldScale(usize),
    /// Field `n`'s labels.
    FieldLabels(usize),
    /// The definition as a whole.
    Whole,
}

impl Spot {
    /// True for a place in the frame rule (not a field's).
    pub fn in_frame(self) -> bool {
        !matches!(
            self,
            Spot::FieldName(_)
                | Spot::FieldOffset(_)
                | Spot::FieldBits(_)
                | Spot::FieldScale(_)
                | Spot::FieldLabels(_)
                | Spot::Whole
        )
    }
}

/// Problems of a draft, each at its place, in the UI language.
pub type Problems = Vec<(Spot, String)>;

fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        n.to_string()
    }
}

impl FieldDraft {
    /// A field as typed from its definition.
    pub fn from_def(f: &FieldDef) -> Self {
        let bits = f.bits.unwrap_or(Bits { shift: 0, width: 1 });
        FieldDraft {
            name: f.name.clone(),
            offset: f.offset.to_string(),
            kind: f.kind,
            endian: f.endian,
            bits: f.bits.is_some(),
            shift: bits.shift.to_string(),
            bit_width: bits.width.to_string(),
            scale: number_text(f.scale),
            add: number_text(f.add),
            unit: f.unit.clone(),
            labels: labels_text(&f.labels),
        }
    }

    /// A new field after `after` bytes (a u16 named `field n`).
    pub fn new(n: usize, offset: usize) -> Self {
        let def = FieldDef::number(&format!("field {n}"), offset, FieldKind::U16, Endian::Big);
        FieldDraft::from_def(&def)
    }
}

impl Draft {
    /// The definition as typed.
    pub fn from_def(d: &FrameDef) -> Self {
        let mut draft = Draft {
            name: d.name.clone(),
            sync: hex::to_spaced(&d.sync),
            length: LengthKind::Field,
            len_offset: "0".into(),
            len_width: 2,
            len_endian: Endian::Big,
            len_counts: LengthCounts::AfterField,
            len_adjust: "0".into(),
            fixed_len: "8".into(),
            terminator: "0A".into(),
            idle_gap: d.idle_gap_ms.map(|g| g.to_string()).unwrap_or_default(),
            checksum: Checksum::None,
            ck_from: "0".into(),
            ck_trailer: "0".into(),
            ck_endian: None,
            max_len: d.max_len.to_string(),
            fields: d.fields.iter().map(FieldDraft::from_def).collect(),
        };
        match &d.length {
            FrameLength::Field {
                offset,
                width,
                endian,
                counts,
                adjust,
            } => {
                draft.len_offset = offset.to_string();
                draft.len_width = *width;
                draft.len_endian = *endian;
                draft.len_counts = *counts;
                draft.len_adjust = adjust.to_string();
            }
            FrameLength::Fixed { len } => {
                draft.length = LengthKind::Fixed;
                draft.fixed_len = len.to_string();
            }
            FrameLength::Terminator { bytes } => {
                draft.length = LengthKind::Terminator;
                draft.terminator = hex::to_spaced(bytes);
            }
        }
        if let Some(c) = &d.checksum {
            draft.checksum = c.kind;
            draft.ck_from = c.from.to_string();
            draft.ck_trailer = c.trailer.to_string();
            draft.ck_endian = c.endian;
        }
        draft
    }

    /// A blank definition of one's own: a u16 big-endian length prefix, no fields.
    pub fn custom(name: &str) -> Self {
        let mut def = FrameDef::u16_length_prefix();
        def.name = name.to_string();
        def.max_len = 1024;
        Draft::from_def(&def)
    }

    /// The definition, or every problem found, at its place, in `lang`.
    pub fn to_def(&self, lang: Lang) -> Result<FrameDef, Problems> {
        let t = lang.texts();
        let mut problems = Problems::new();
        let mut whole = |spot: Spot, text: &str| -> Option<usize> {
            match text.trim().parse::<usize>() {
                Ok(n) => Some(n),
                Err(_) => {
                    problems.push((spot, t.fr_p_whole.to_string()));
                    None
                }
            }
        };
        let max_len = whole(Spot::MaxLen, &self.max_len);
        let len_offset = whole(Spot::LenOffset, &self.len_offset);
        let fixed_len = whole(Spot::FixedLen, &self.fixed_len);
        let ck_from = whole(Spot::CkFrom, &self.ck_from);
        let ck_trailer = whole(Spot::CkTrailer, &self.ck_trailer);
        let hex_of = |spot: Spot, text: &str, problems: &mut Problems| match hex::parse(text) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                problems.push((spot, hex_error_text(lang, &e)));
                None
            }
        };
        let sync = hex_of(Spot::Sync, &self.sync, &mut problems);
        let terminator = hex_of(Spot::Terminator, &self.terminator, &mut problems);
        let adjust = match self.len_adjust.trim().parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                problems.push((Spot::LenAdjust, t.fr_p_integer.to_string()));
                None
            }
        };
        let idle_gap_ms = match self.idle_gap.trim() {
            "" => Some(None),
            text => match text.parse::<u64>() {
                Ok(n) if n > 0 => Some(Some(n)),
                _ => {
                    problems.push((Spot::IdleGap, t.fr_p_gap.to_string()));
                    None
                }
            },
        };
        // Checks against the longest frame only when it is known and sensible.
        let max = max_len.filter(|&m| m > 0).unwrap_or(usize::MAX);
        if max_len == Some(0) {
            problems.push((Spot::MaxLen, t.fr_p_max_zero.to_string()));
        }
        let length = match self.length {
            LengthKind::Field => {
                if let Some(offset) = len_offset
                    && offset.saturating_add(usize::from(self.len_width)) > max
                {
                    problems.push((Spot::LenOffset, t.fr_p_len_beyond.to_string()));
                }
                FrameLength::Field {
                    offset: len_offset.unwrap_or(0),
                    width: self.len_width,
                    endian: self.len_endian,
                    counts: self.len_counts,
                    adjust: adjust.unwrap_or(0),
                }
            }
            LengthKind::Fixed => {
                if let Some(len) = fixed_len
                    && (len == 0 || len > max)
                {
                    problems.push((Spot::FixedLen, t.fr_p_fixed.to_string()));
                }
                FrameLength::Fixed {
                    len: fixed_len.unwrap_or(1),
                }
            }
            LengthKind::Terminator => {
                if terminator.as_ref().is_some_and(Vec::is_empty) {
                    problems.push((Spot::Terminator, t.fr_p_term_empty.to_string()));
                }
                FrameLength::Terminator {
                    bytes: terminator.unwrap_or_default(),
                }
            }
        };
        if let Some(sync) = &sync
            && sync.len() >= max
        {
            problems.push((Spot::Sync, t.fr_p_sync_long.to_string()));
        }
        let mut fields = Vec::with_capacity(self.fields.len());
        for (i, f) in self.fields.iter().enumerate() {
            if let Some(field) = f.to_def(i, lang, max, &mut problems) {
                if self.fields[..i]
                    .iter()
                    .any(|other| other.name.trim() == field.name)
                {
                    problems.push((Spot::FieldName(i), t.fr_p_name_twice.to_string()));
                }
                fields.push(field);
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let def = FrameDef {
            name: self.name.trim().to_string(),
            sync: sync.unwrap_or_default(),
            length,
            idle_gap_ms: idle_gap_ms.flatten(),
            checksum: (self.checksum != Checksum::None).then(|| FrameChecksum {
                kind: self.checksum,
                from: ck_from.unwrap_or(0),
                trailer: ck_trailer.unwrap_or(0),
                endian: self.ck_endian,
            }),
            max_len: max_len.unwrap_or(1),
            fields,
        };
        // Whatever the checks above missed, in the protocol's own (English) words.
        match def.problem() {
            Some(p) => Err(vec![(Spot::Whole, format!("{}: {p}", t.fr_p_other))]),
            None => Ok(def),
        }
    }
}

impl FieldDraft {
    fn to_def(
        &self,
        i: usize,
        lang: Lang,
        max_len: usize,
        problems: &mut Problems,
    ) -> Option<FieldDef> {
        let t = lang.texts();
        let before = problems.len();
        let name = self.name.trim();
        if name.is_empty() {
            problems.push((Spot::FieldName(i), t.fr_p_no_name.to_string()));
        }
        let offset = match self.offset.trim().parse::<usize>() {
            Ok(o) if o.saturating_add(self.kind.width()) > max_len => {
                problems.push((Spot::FieldOffset(i), t.fr_p_field_beyond.to_string()));
                None
            }
            Ok(o) => Some(o),
            Err(_) => {
                problems.push((Spot::FieldOffset(i), t.fr_p_whole.to_string()));
                None
            }
        };
        let bits = if self.bits {
            if self.kind == FieldKind::F32 {
                problems.push((Spot::FieldBits(i), t.fr_p_bits_int.to_string()));
                None
            } else {
                match (
                    self.shift.trim().parse::<u8>(),
                    self.bit_width.trim().parse::<u8>(),
                ) {
                    (Ok(shift), Ok(width))
                        if width > 0
                            && usize::from(shift) + usize::from(width) <= self.kind.width() * 8 =>
                    {
                        Some(Bits { shift, width })
                    }
                    _ => {
                        problems.push((Spot::FieldBits(i), t.fr_p_bits_fit.to_string()));
                        None
                    }
                }
            }
        } else {
            None
        };
        let decimal = |text: &str| text.trim().parse::<f64>().ok().filter(|v| v.is_finite());
        let scale = decimal(&self.scale);
        let add = decimal(if self.add.trim().is_empty() {
            "0"
        } else {
            &self.add
        });
        if scale.is_none() || add.is_none() {
            problems.push((Spot::FieldScale(i), t.fr_p_decimal.to_string()));
        }
        let labels = match parse_labels(&self.labels) {
            Some(labels) => labels,
            None => {
                problems.push((Spot::FieldLabels(i), t.fr_p_labels.to_string()));
                Vec::new()
            }
        };
        if problems.len() > before {
            return None;
        }
        Some(FieldDef {
            name: name.to_string(),
            offset: offset.unwrap_or(0),
            kind: self.kind,
            endian: self.endian,
            bits,
            scale: scale.unwrap_or(1.0),
            add: add.unwrap_or(0.0),
            unit: self.unit.trim().to_string(),
            labels,
        })
    }
}

/// Labels as typed: `0=idle, 1=running`.
pub fn labels_text(labels: &[Label]) -> String {
    labels
        .iter()
        .map(|l| format!("{}={}", l.value, l.label))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads `0=idle, 1=running` (commas, semicolons or Chinese commas between; values in
/// decimal or `0x` hex); None when a part is not `value=label`.
pub fn parse_labels(text: &str) -> Option<Vec<Label>> {
    let mut labels = Vec::new();
    for part in text.split([',', ';', '，', '；']) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (value, label) = part.split_once('=')?;
        let value = value.trim();
        let value = match value
            .strip_prefix("0x")
            .or_else(|| value.strip_prefix("0X"))
        {
            Some(h) => i64::from_str_radix(h, 16).ok()?,
            None => value.parse::<i64>().ok()?,
        };
        let label = label.trim();
        if label.is_empty() {
            return None;
        }
        labels.push(Label {
            value,
            label: label.to_string(),
        });
    }
    Some(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every preset goes to the form and back unchanged.
    #[test]
    fn presets_round_trip_through_the_form() {
        for def in FrameDef::presets() {
            let draft = Draft::from_def(&def);
            assert_eq!(draft.to_def(Lang::En).unwrap(), def, "{}", def.name);
        }
    }

    /// Problems are found at their place, in the UI language.
    #[test]
    fn problems_at_their_place() {
        let mut d = Draft::from_def(&FrameDef::modbus_rtu());
        d.sync = "A".into();
        d.max_len = "x".into();
        d.fields[0].offset = "-1".into();
        d.fields[1].bits = true;
        d.fields[1].shift = "14".into();
        d.fields[1].bit_width = "3".into();
        d.fields.push(FieldDraft::new(3, 9));
        d.fields[2].labels = "0=idle, running".into();
        d.fields[2].scale = "abc".into();
        let problems = d.to_def(Lang::Zh).unwrap_err();
        let spots: Vec<Spot> = problems.iter().map(|(s, _)| *s).collect();
        for spot in [
            Spot::Sync,
            Spot::MaxLen,
            Spot::FieldOffset(0),
            Spot::FieldBits(1),
            Spot::FieldLabels(2),
            Spot::FieldScale(2),
        ] {
            assert!(spots.contains(&spot), "{spot:?} in {problems:?}");
        }
        let zh = crate::ui::i18n::ZH;
        assert!(problems.iter().any(|(_, p)| p == zh.fr_p_labels));

        let mut d = Draft::from_def(&FrameDef::text_lines());
        d.terminator = String::new();
        d.fields.push(FieldDraft::new(1, 0));
        d.fields.push(FieldDraft::new(1, 2));
        let problems = d.to_def(Lang::En).unwrap_err();
        assert!(problems.contains(&(Spot::Terminator, crate::ui::i18n::EN.fr_p_term_empty.into())));
        assert!(problems.contains(&(
            Spot::FieldName(1),
            crate::ui::i18n::EN.fr_p_name_twice.into()
        )));
    }

    /// A field with a scale, a unit, bits and labels is read as typed.
    #[test]
    fn a_typed_field_reads() {
        let mut d = Draft::from_def(&FrameDef::modbus_rtu());
        let mut f = FieldDraft::new(3, 9);
        f.name = "temperature".into();
        f.scale = "0.1".into();
        f.unit = "°C".into();
        d.fields.push(f);
        let mut mode = FieldDraft::new(4, 3);
        mode.name = "mode".into();
        mode.kind = FieldKind::U8;
        mode.bits = true;
        mode.shift = "4".into();
        mode.bit_width = "3".into();
        mode.labels = "0=idle，2 = running; 0x3=fault".into();
        d.fields.push(mode);
        let def = d.to_def(Lang::En).unwrap();
        let frame = [0x01, 0x03, 0x08, 0x20, 0, 0, 0, 0, 0, 0x00, 0xD7, 0, 0];
        assert_eq!(def.fields[2].read(&frame).unwrap().text, "21.5 °C");
        assert_eq!(def.fields[3].read(&frame).unwrap().text, "running");
        assert_eq!(def.fields[3].labels.len(), 3);
        assert_eq!(
            labels_text(&def.fields[3].labels),
            "0=idle, 2=running, 3=fault"
        );
    }
}
