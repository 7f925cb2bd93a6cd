//! Named values inside a frame ([`FieldDef`]): integers and floats of either byte order,
//! bit fields, a scale and offset with a unit, and labels for enumerated values.

use serde::{Deserialize, Serialize};

use super::def::Endian;

/// The number type of a field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// Unsigned 8-bit.
    U8,
    /// Signed 8-bit.
    I8,
    /// Unsigned 16-bit.
    #[default]
    U16,
    /// Signed 16-bit.
    I16,
    /// Unsigned 32-bit.
    U32,
    /// Signed 32-bit.
    I32,
    /// IEEE 754 single precision.
    F32,
}

impl FieldKind {
    /// Every kind, in the order a picker lists them.
    pub const ALL: [FieldKind; 7] = [
        FieldKind::U8,
        FieldKind::I8,
        FieldKind::U16,
        FieldKind::I16,
        FieldKind::U32,
        FieldKind::I32,
        FieldKind::F32,
    ];

    /// Its bytes.
    pub fn width(self) -> usize {
        match self {
            FieldKind::U8 | FieldKind::I8 => 1,
            FieldKind::U16 | FieldKind::I16 => 2,
            FieldKind::U32 | FieldKind::I32 | FieldKind::F32 => 4,
        }
    }

    /// "u16", "f32", …
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::U8 => "u8",
            FieldKind::I8 => "i8",
            FieldKind::U16 => "u16",
            FieldKind::I16 => "i16",
            FieldKind::U32 => "u32",
            FieldKind::I32 => "i32",
            FieldKind::F32 => "f32",
        }
    }
}

/// Some bits of an integer field: `width` bits starting `shift` bits from the least
/// significant one (`shift 4, width 3` is `(raw >> 4) & 0b111`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Bits {
    /// Bits right of the field's lowest bit.
    pub shift: u8,
    /// How many bits (1..=32).
    pub width: u8,
}

/// One label of an enumerated field: `value` is shown as `label`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// The raw value (after the bit field, before scaling).
    pub value: i64,
    /// What it means.
    pub label: String,
}

/// A named value at a fixed offset in a frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldDef {
    /// Its name (column title, plot series).
    pub name: String,
    /// Its first byte, from the frame's first byte.
    pub offset: usize,
    /// Its number type.
    pub kind: FieldKind,
    /// Its byte order.
    #[serde(default)]
    pub endian: Endian,
    /// Only these bits of it (integers only).
    #[serde(default)]
    pub bits: Option<Bits>,
    /// The value shown is `raw * scale + add`.
    #[serde(default = "one")]
    pub scale: f64,
    /// Added after scaling.
    #[serde(default)]
    pub add: f64,
    /// Unit shown after the value (`°C`, `V`); may be empty.
    #[serde(default)]
    pub unit: String,
    /// Labels for raw values (a status code's meaning).
    #[serde(default)]
    pub labels: Vec<Label>,
}

fn one() -> f64 {
    1.0
}

/// A field read out of one frame.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldValue {
    /// The raw number (after the bit field).
    pub raw: f64,
    /// `raw * scale + add`.
    pub value: f64,
    /// As shown: the label if the raw value has one, else the value and unit.
    pub text: String,
}

impl FieldDef {
    /// A plain number: no bits, scale 1, no unit, no labels.
    pub fn number(name: &str, offset: usize, kind: FieldKind, endian: Endian) -> FieldDef {
        FieldDef {
            name: name.into(),
            offset,
            kind,
            endian,
            bits: None,
            scale: 1.0,
            add: 0.0,
            unit: String::new(),
            labels: Vec::new(),
        }
    }

    /// What is wrong with this field, in English (None: usable).
    pub fn problem(&self) -> Option<String> {
        if let Some(bits) = self.bits {
            if self.kind == FieldKind::F32 {
                return Some("bit fields apply to integers only".into());
            }
            let total = self.kind.width() * 8;
            if bits.width == 0 || usize::from(bits.shift) + usize::from(bits.width) > total {
                return Some(format!(
                    "bits {}..{} do not fit in {} bits",
                    bits.shift,
                    u16::from(bits.shift) + u16::from(bits.width),
                    total
                ));
            }
        }
        if !self.scale.is_finite() || !self.add.is_finite() {
            return Some("scale and offset must be numbers".into());
        }
        None
    }

    /// Reads this field from `frame`; None when the frame is too short for it.
    pub fn read(&self, frame: &[u8]) -> Option<FieldValue> {
        let width = self.kind.width();
        let bytes = frame.get(self.offset..self.offset.checked_add(width)?)?;
        let mut word = [0u8; 4];
        match self.endian {
            Endian::Big => word[4 - width..].copy_from_slice(bytes),
            Endian::Little => {
                for (i, b) in bytes.iter().enumerate() {
                    word[3 - i] = *b;
                }
            }
        }
        let unsigned = u32::from_be_bytes(word);
        let raw: f64 = match (self.kind, self.bits) {
            (FieldKind::F32, _) => f64::from(f32::from_bits(unsigned)),
            (_, Some(bits)) => {
                let mask = if bits.width >= 32 {
                    u32::MAX
                } else {
                    (1u32 << bits.width) - 1
                };
                f64::from(unsigned.checked_shr(u32::from(bits.shift)).unwrap_or(0) & mask)
            }
            (FieldKind::U8 | FieldKind::U16 | FieldKind::U32, None) => f64::from(unsigned),
            (FieldKind::I8, None) => f64::from(unsigned as u8 as i8),
            (FieldKind::I16, None) => f64::from(unsigned as u16 as i16),
            (FieldKind::I32, None) => f64::from(unsigned as i32),
        };
        let value = raw * self.scale + self.add;
        let label = (raw.fract() == 0.0)
            .then(|| self.labels.iter().find(|l| l.value as f64 == raw))
            .flatten();
        let text = match label {
            Some(l) => l.label.clone(),
            None => {
                let number = if value.fract() == 0.0 && value.abs() < 1e15 {
                    format!("{value:.0}")
                } else {
                    let s = format!("{value:.6}");
                    s.trim_end_matches('0').trim_end_matches('.').to_string()
                };
                if self.unit.is_empty() {
                    number
                } else {
                    format!("{number} {}", self.unit)
                }
            }
        };
        Some(FieldValue { raw, value, text })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(kind: FieldKind, endian: Endian) -> FieldDef {
        FieldDef::number("f", 1, kind, endian)
    }

    #[test]
    fn every_kind_in_both_orders() {
        let frame = [0xAA, 0xFF, 0xFE, 0x00, 0x01, 0x99];
        let read = |k, e| field(k, e).read(&frame).unwrap().raw;
        assert_eq!(read(FieldKind::U8, Endian::Big), 255.0);
        assert_eq!(read(FieldKind::I8, Endian::Big), -1.0);
        assert_eq!(read(FieldKind::U16, Endian::Big), 65534.0);
        assert_eq!(read(FieldKind::U16, Endian::Little), 65279.0);
        assert_eq!(read(FieldKind::I16, Endian::Big), -2.0);
        assert_eq!(read(FieldKind::I16, Endian::Little), -257.0);
        assert_eq!(read(FieldKind::U32, Endian::Big), 4_294_836_225.0);
        assert_eq!(read(FieldKind::I32, Endian::Big), -131_071.0);
        assert_eq!(read(FieldKind::U32, Endian::Little), 0x0100_FEFF as f64);
        let float = 21.5f32.to_be_bytes();
        let frame = [0, float[0], float[1], float[2], float[3]];
        assert_eq!(
            field(FieldKind::F32, Endian::Big).read(&frame).unwrap().raw,
            21.5
        );
        let le = 21.5f32.to_le_bytes();
        let frame = [0, le[0], le[1], le[2], le[3]];
        assert_eq!(
            field(FieldKind::F32, Endian::Little)
                .read(&frame)
                .unwrap()
                .raw,
            21.5
        );
    }

    #[test]
    fn too_short_is_none() {
        assert!(
            field(FieldKind::U32, Endian::Big)
                .read(&[0, 1, 2, 3])
                .is_none()
        );
        assert!(field(FieldKind::U8, Endian::Big).read(&[0]).is_none());
    }

    #[test]
    fn scale_unit_bits_and_labels() {
        let mut f = FieldDef::number("temp", 0, FieldKind::I16, Endian::Big);
        f.scale = 0.1;
        f.add = -40.0;
        f.unit = "°C".into();
        let v = f.read(&615i16.to_be_bytes()).unwrap();
        assert!((v.value - 21.5).abs() < 1e-9);
        assert_eq!(v.text, "21.5 °C");

        let mut status = FieldDef::number("mode", 0, FieldKind::U8, Endian::Big);
        status.bits = Some(Bits { shift: 4, width: 3 });
        status.labels = vec![
            Label {
                value: 2,
                label: "running".into(),
            },
            Label {
                value: 0,
                label: "idle".into(),
            },
        ];
        assert_eq!(status.read(&[0b1010_1111]).unwrap().text, "running");
        assert_eq!(status.read(&[0b1000_0000]).unwrap().text, "idle");
        assert_eq!(status.read(&[0b0111_0000]).unwrap().text, "7");
    }

    #[test]
    fn problems_in_words() {
        let mut f = FieldDef::number("x", 0, FieldKind::U8, Endian::Big);
        f.bits = Some(Bits { shift: 6, width: 3 });
        assert!(f.problem().unwrap().contains("do not fit in 8 bits"));
        f.kind = FieldKind::F32;
        assert!(f.problem().unwrap().contains("integers only"));
        f.bits = None;
        assert!(f.problem().is_none());
    }
}
