//! Checksums appended to outgoing messages (and checked on incoming ones).
//!
//! The CRCs are table driven with tables built at compile time; parameters and check
//! values (`"123456789"`) are those of the catalogue of parametrised CRC algorithms.

/// A checksum the send box can append.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum Checksum {
    /// Nothing appended.
    #[default]
    None,
    /// Sum of all bytes modulo 256 (1 byte).
    Sum8,
    /// XOR of all bytes (1 byte).
    Xor8,
    /// CRC-16/MODBUS, appended low byte first as Modbus RTU devices expect (2 bytes).
    Crc16Modbus,
    /// CRC-16/CCITT-FALSE, appended high byte first (2 bytes).
    Crc16CcittFalse,
    /// CRC-32 (ISO-HDLC, as in zlib/PNG), appended high byte first like PNG (4 bytes).
    Crc32,
}

impl Checksum {
    /// Every choice, in the order a picker should list them.
    pub const ALL: [Checksum; 6] = [
        Checksum::None,
        Checksum::Sum8,
        Checksum::Xor8,
        Checksum::Crc16Modbus,
        Checksum::Crc16CcittFalse,
        Checksum::Crc32,
    ];

    /// The name shown in the UI.
    pub fn name(self) -> &'static str {
        match self {
            Checksum::None => "None",
            Checksum::Sum8 => "SUM8",
            Checksum::Xor8 => "XOR8",
            Checksum::Crc16Modbus => "CRC-16/MODBUS",
            Checksum::Crc16CcittFalse => "CRC-16/CCITT-FALSE",
            Checksum::Crc32 => "CRC-32",
        }
    }

    /// How many bytes this checksum adds on the wire.
    pub fn width(self) -> usize {
        match self {
            Checksum::None => 0,
            Checksum::Sum8 | Checksum::Xor8 => 1,
            Checksum::Crc16Modbus | Checksum::Crc16CcittFalse => 2,
            Checksum::Crc32 => 4,
        }
    }

    /// The checksum of `data` as the bytes that go on the wire (see each variant for
    /// the byte order).
    pub fn compute(self, data: &[u8]) -> Vec<u8> {
        match self {
            Checksum::None => Vec::new(),
            Checksum::Sum8 => vec![sum8(data)],
            Checksum::Xor8 => vec![xor8(data)],
            Checksum::Crc16Modbus => crc16_modbus(data).to_le_bytes().to_vec(),
            Checksum::Crc16CcittFalse => crc16_ccitt_false(data).to_be_bytes().to_vec(),
            Checksum::Crc32 => crc32(data).to_be_bytes().to_vec(),
        }
    }

    /// Appends the checksum of `data` to `data`.
    pub fn append(self, data: &mut Vec<u8>) {
        let sum = self.compute(data);
        data.extend_from_slice(&sum);
    }

    /// True when `frame` ends with the correct checksum of the bytes before it (always
    /// true for `None`; false when the frame is shorter than the checksum).
    pub fn verify(self, frame: &[u8]) -> bool {
        match frame.len().checked_sub(self.width()) {
            Some(split) => {
                let (data, sum) = frame.split_at(split);
                self.compute(data) == sum
            }
            None => false,
        }
    }
}

/// Sum of all bytes modulo 256.
pub fn sum8(data: &[u8]) -> u8 {
    data.iter().fold(0u8, |acc, &b| acc.wrapping_add(b))
}

/// XOR of all bytes.
pub fn xor8(data: &[u8]) -> u8 {
    data.iter().fold(0u8, |acc, &b| acc ^ b)
}

/// Table for a reflected (LSB-first) 16-bit CRC with the given reversed polynomial.
const fn reflected_table16(poly_reversed: u16) -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u16;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ poly_reversed
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// Table for a non-reflected (MSB-first) 16-bit CRC.
const fn table16(poly: u16) -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ poly
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// Table for a reflected 32-bit CRC with the given reversed polynomial.
const fn reflected_table32(poly_reversed: u32) -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ poly_reversed
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// Polynomial 0x8005, reflected.
static MODBUS_TABLE: [u16; 256] = reflected_table16(0xA001);
/// Polynomial 0x1021.
static CCITT_TABLE: [u16; 256] = table16(0x1021);
/// Polynomial 0x04C11DB7, reflected.
static CRC32_TABLE: [u32; 256] = reflected_table32(0xEDB8_8320);

/// CRC-16/MODBUS: poly 0x8005, init 0xFFFF, reflected, no final XOR. Check 0x4B37.
pub fn crc16_modbus(data: &[u8]) -> u16 {
    data.iter().fold(0xFFFF, |crc, &b| {
        (crc >> 8) ^ MODBUS_TABLE[usize::from((crc as u8) ^ b)]
    })
}

/// CRC-16/CCITT-FALSE (a.k.a. CRC-16/IBM-3740): poly 0x1021, init 0xFFFF, not
/// reflected, no final XOR. Check 0x29B1.
pub fn crc16_ccitt_false(data: &[u8]) -> u16 {
    data.iter().fold(0xFFFF, |crc, &b| {
        (crc << 8) ^ CCITT_TABLE[usize::from(((crc >> 8) as u8) ^ b)]
    })
}

/// CRC-32 (ISO-HDLC): poly 0x04C11DB7, init and final XOR 0xFFFFFFFF, reflected.
/// Check 0xCBF43926.
pub fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(0xFFFF_FFFF, |crc, &b| {
        (crc >> 8) ^ CRC32_TABLE[usize::from((crc as u8) ^ b)]
    })
}

#[cfg(test)]
// Tests may panic on a broken expectation: that is how they fail.
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const CHECK: &[u8] = b"123456789";

    /// Check values from the CRC catalogue.
    #[test]
    fn catalogue_check_values() {
        assert_eq!(crc16_modbus(CHECK), 0x4B37);
        assert_eq!(crc16_ccitt_false(CHECK), 0x29B1);
        assert_eq!(crc32(CHECK), 0xCBF4_3926);
        assert_eq!(sum8(CHECK), 0xDD);
        assert_eq!(xor8(CHECK), 0x31);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc16_modbus(b""), 0xFFFF);
    }

    /// Wire byte order: MODBUS low byte first, the others high byte first.
    #[test]
    fn wire_order_and_append() {
        assert_eq!(Checksum::Crc16Modbus.compute(CHECK), vec![0x37, 0x4B]);
        assert_eq!(Checksum::Crc16CcittFalse.compute(CHECK), vec![0x29, 0xB1]);
        assert_eq!(Checksum::Crc32.compute(CHECK), vec![0xCB, 0xF4, 0x39, 0x26]);
        assert_eq!(Checksum::None.compute(CHECK), Vec::<u8>::new());
        // A real Modbus RTU request: read 1 holding register at 0 from unit 1.
        let mut frame = vec![0x01, 0x03, 0x00, 0x00, 0x00, 0x01];
        Checksum::Crc16Modbus.append(&mut frame);
        assert_eq!(frame, vec![0x01, 0x03, 0x00, 0x00, 0x00, 0x01, 0x84, 0x0A]);
        for sum in Checksum::ALL {
            let mut data = CHECK.to_vec();
            sum.append(&mut data);
            assert_eq!(data.len(), CHECK.len() + sum.width(), "{}", sum.name());
            assert!(sum.verify(&data), "{}", sum.name());
            if sum != Checksum::None {
                data[0] ^= 1;
                assert!(!sum.verify(&data), "{}", sum.name());
            }
        }
        assert!(!Checksum::Crc32.verify(&[1, 2]));
    }

    /// The tables agree with a bit-at-a-time reference on every single byte value.
    #[test]
    fn tables_match_bitwise_reference() {
        fn modbus_bitwise(data: &[u8]) -> u16 {
            let mut crc = 0xFFFFu16;
            for &b in data {
                crc ^= u16::from(b);
                for _ in 0..8 {
                    crc = if crc & 1 != 0 {
                        (crc >> 1) ^ 0xA001
                    } else {
                        crc >> 1
                    };
                }
            }
            crc
        }
        for b in 0..=255u8 {
            assert_eq!(crc16_modbus(&[b, 0x5A]), modbus_bitwise(&[b, 0x5A]));
        }
    }
}
