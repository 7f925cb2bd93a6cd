//! Unit tests of `automation::template`, in a file of their own (the module stays under 800 lines).

use super::*;
use crate::codec::checksum::crc16_modbus;
use std::time::Duration;

fn render(spec: &SendSpec, counter: u64) -> Vec<u8> {
    spec.compile().unwrap().render(counter)
}

/// Counter, escapes, braces and the line ending in text mode.
#[test]
fn text_variables_and_braces() {
    let mut spec = SendSpec::text("n={counter} {{x}}\\t", TextEncoding::Utf8);
    spec.line_ending = LineEnding::Lf;
    assert_eq!(render(&spec, 1), b"n=1 {x}\t\n");
    assert_eq!(render(&spec, 42), b"n=42 {x}\t\n");
}

/// Time formats: unix seconds/ms, clock and ISO shapes.
#[test]
fn time_formats() {
    let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
    let t = |s: &str| {
        SendSpec::text(s, TextEncoding::Utf8)
            .compile()
            .unwrap()
            .render_at(1, at)
    };
    assert_eq!(t("{time:unix}"), b"1700000000");
    assert_eq!(t("{time:unix_ms}"), b"1700000000123");
    assert_eq!(t("{time:unix:u32be}"), 1_700_000_000u32.to_be_bytes());
    let clock = String::from_utf8(t("{time}")).unwrap();
    assert_eq!(clock.len(), 12, "{clock}");
    assert!(clock.ends_with(".123"), "{clock}");
    let iso = String::from_utf8(t("{time:iso}")).unwrap();
    assert!(iso.starts_with("2023-11-1"), "{iso}");
}

/// Hex mode: variables become bytes; default counter format is one byte.
#[test]
fn hex_variables_are_bytes() {
    let spec = SendSpec::hex("01 {counter} {counter:u16be}{counter:u16le} FF");
    assert_eq!(
        render(&spec, 258),
        [0x01, 0x02, 0x01, 0x02, 0x02, 0x01, 0xFF]
    );
    let r = render(&SendSpec::hex("AA{rand:5}55"), 1);
    assert_eq!(r.len(), 7);
    assert_eq!((r[0], r[6]), (0xAA, 0x55));
}

/// `{len}` counts the whole data part including itself, not checksum/line ending.
#[test]
fn len_counts_itself_not_the_checksum() {
    let mut spec = SendSpec::hex("AA {len} 01 02");
    spec.checksum = Checksum::Crc16Modbus;
    let r = render(&spec, 1);
    assert_eq!(&r[..4], [0xAA, 4, 1, 2]);
    assert_eq!(r.len(), 6);
    // Decimal text: "len=" + digits; 98 fixed bytes + 3 digits = 101.
    let spec = SendSpec::text(format!("{}{{len}}", "x".repeat(98)), TextEncoding::Utf8);
    let r = render(&spec, 1);
    assert_eq!(r.len(), 101);
    assert!(r.ends_with(b"101"));
    // UTF-16: digits take two bytes each.
    let spec = SendSpec::text("{len}", TextEncoding::Utf16Le);
    assert_eq!(render(&spec, 1), [b'2', 0]);
}

/// Checksum then line ending, as the send box does.
#[test]
fn checksum_then_line_ending() {
    let mut spec = SendSpec::hex("01 03 02 00 2A");
    spec.checksum = Checksum::Crc16Modbus;
    spec.line_ending = LineEnding::CrLf;
    let r = render(&spec, 1);
    let crc = crc16_modbus(&[1, 3, 2, 0, 0x2A]).to_le_bytes();
    assert_eq!(r, [1, 3, 2, 0, 0x2A, crc[0], crc[1], b'\r', b'\n']);
}

/// Constant payloads (what `codec::escape::build_payload` used to build): hex with a
/// Modbus CRC; a hex typo named by position; GBK text with an escape, SUM8 and CRLF;
/// a lone backslash refused.
#[test]
fn constant_payloads() {
    let mut modbus = SendSpec::hex("01 03 00 00 00 01");
    modbus.checksum = Checksum::Crc16Modbus;
    assert_eq!(
        render(&modbus, 1),
        [0x01, 0x03, 0x00, 0x00, 0x00, 0x01, 0x84, 0x0A]
    );
    modbus.text = "01 0G".into();
    assert!(matches!(
        modbus.compile(),
        Err(TemplateError::Hex { position: 5, .. })
    ));
    let mut text = SendSpec::text("你好\\x01", TextEncoding::Gbk);
    text.escapes = true;
    text.line_ending = LineEnding::CrLf;
    text.checksum = Checksum::Sum8;
    assert_eq!(
        render(&text, 1),
        [0xC4, 0xE3, 0xBA, 0xC3, 0x01, 0x25, 0x0D, 0x0A]
    );
    text.text = "\\".into();
    assert!(text.compile().is_err());
}

/// GBK text with a variable.
#[test]
fn gbk_text() {
    let spec = SendSpec::text("第{counter}次", TextEncoding::Gbk);
    let r = render(&spec, 3);
    assert_eq!(r, [0xB5, 0xDA, b'3', 0xB4, 0xCE]);
}

/// Errors name what and where.
#[test]
fn errors_name_the_position() {
    let err = |spec: SendSpec| spec.compile().unwrap_err();
    let e = err(SendSpec::text("ab{nope}", TextEncoding::Utf8));
    assert_eq!(
        e,
        TemplateError::UnknownVariable {
            name: "nope".into(),
            position: 3
        }
    );
    assert!(
        e.to_string()
            .contains("unknown variable {nope} at position 3"),
        "{e}"
    );
    let e = err(SendSpec::text("a{counter", TextEncoding::Utf8));
    assert_eq!(e, TemplateError::Unclosed { position: 2 });
    let e = err(SendSpec::text("a}", TextEncoding::Utf8));
    assert_eq!(e, TemplateError::StrayBrace { position: 2 });
    let e = err(SendSpec::text("{rand:0}", TextEncoding::Utf8));
    assert!(
        matches!(e, TemplateError::BadArgument { position: 1, .. }),
        "{e}"
    );
    let e = err(SendSpec::text("{counter:u12}", TextEncoding::Utf8));
    assert!(e.to_string().contains("u16be"), "{e}");
    let e = err(SendSpec::hex("01 {counter} 0G"));
    assert_eq!(
        e,
        TemplateError::Hex {
            position: 15,
            message: "invalid hex character 'G'".into()
        }
    );
    let e = err(SendSpec::text("ok{counter}\\q", TextEncoding::Utf8));
    assert!(matches!(e, TemplateError::Text { position: 12, .. }), "{e}");
    let e = err(SendSpec::text("x{counter}😀", TextEncoding::Gbk));
    assert!(matches!(e, TemplateError::Text { position: 11, .. }), "{e}");
}

/// SendSpec serialises codec enums by name and reads aliases back.
#[test]
fn spec_json_uses_names() {
    let mut spec = SendSpec::hex("01 03");
    spec.checksum = Checksum::Crc16Modbus;
    spec.line_ending = LineEnding::CrLf;
    spec.encoding = TextEncoding::Gbk;
    let json = serde_json::to_string(&spec).unwrap();
    assert!(
        json.contains("\"CRC-16/MODBUS\"") && json.contains("\"GBK\""),
        "{json}"
    );
    let back: SendSpec = serde_json::from_str(&json).unwrap();
    assert_eq!(back, spec);
    let alias: SendSpec =
        serde_json::from_str(r#"{"text":"x","encoding":"gb2312","checksum":"crc16modbus"}"#)
            .unwrap();
    assert_eq!(alias.encoding, TextEncoding::Gbk);
    assert_eq!(alias.checksum, Checksum::Crc16Modbus);
    let e = serde_json::from_str::<SendSpec>(r#"{"encoding":"klingon"}"#).unwrap_err();
    assert!(
        e.to_string().contains("unknown encoding \"klingon\""),
        "{e}"
    );
}
