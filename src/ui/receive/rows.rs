//! Drawing records: one list row (time, direction, peer, length, payload in the view
//! mode) and the detail pane of the selected record.

use egui::text::LayoutJob;
use egui::{Color32, FontId, RichText, ScrollArea, TextFormat, Ui};

use crate::codec::hex;
use crate::session::ViewMode;
use crate::session::store::{Record, RecordKind, Store};
use crate::session::time::format_time;
use crate::ui::action::UiAction;
use crate::ui::compare;
use crate::ui::frames::rtt::verdict_text;
use crate::ui::i18n::Texts;
use crate::ui::widgets::{ERROR_COLOR, INFO_COLOR, RX_COLOR, TX_COLOR};

use super::filter::BOTH_MAX_BYTES;
use super::{DETAIL_BYTES, ROW_CHARS, ROW_HEX_BYTES, ReceiveState};

/// Colour of field values in a row.
const FIELD_COLOR: Color32 = Color32::from_rgb(0x5A, 0xB4, 0xD0);

/// What a row says about its frame besides its bytes.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum FrameNote {
    /// Not a good frame: why, in words.
    Bad(String),
    /// A good frame's field values (`temperature=21.5 °C register 0=200`).
    Fields(String),
}

/// The note of a received record cut by a frame definition: the verdict of a bad one,
/// the field values of a good one (when `fields` is on).
pub(super) fn frame_note(
    t: &Texts,
    store: &Store,
    record: &Record,
    fields: bool,
) -> Option<FrameNote> {
    if record.kind != RecordKind::Rx {
        return None;
    }
    let verdict = record.verdict()?;
    if !verdict.is_good() {
        return Some(FrameNote::Bad(verdict_text(t, verdict)));
    }
    if !fields {
        return None;
    }
    let values = store.field_values(record);
    let text = values
        .iter()
        .filter_map(|(name, v)| Some(format!("{name}={}", v.as_ref()?.text)))
        .collect::<Vec<_>>()
        .join("  ");
    (!text.is_empty()).then_some(FrameNote::Fields(text))
}

/// How rows are drawn.
pub(super) struct RowContext<'a> {
    /// Text, hex or both.
    pub(super) view: ViewMode,
    /// The rows' font.
    pub(super) font: &'a FontId,
    /// The payload's colour.
    pub(super) text_color: Color32,
    /// What the frame definition says about this record.
    pub(super) note: Option<&'a FrameNote>,
    /// The most characters a row can show at the list's width: the payload is cut
    /// there (the row is cut at the edge anyway), so a flood's rows are not laid out
    /// three times longer than what is seen.
    pub(super) max_chars: usize,
    /// The Text view shows this record as hex: it [`looks_binary`].
    pub(super) binary: bool,
}

/// One list row: time, direction, peer, length, the frame's verdict or field values, and
/// the payload in the chosen view.
pub(super) fn row_job(
    record: &Record,
    text: &str,
    cx: &RowContext<'_>,
    t: &Texts,
    drawable: &mut dyn FnMut(char) -> bool,
) -> LayoutJob {
    let (view, font, text_color) = (cx.view, cx.font, cx.text_color);
    let mut job = LayoutJob::default();
    let fmt = |color: Color32| TextFormat::simple(font.clone(), color);
    job.append(&format_time(record.at), 0.0, fmt(Color32::GRAY));
    let (tag, color) = match record.kind {
        RecordKind::Rx => ("RX", RX_COLOR),
        RecordKind::Tx => ("TX", TX_COLOR),
        RecordKind::Info => ("--", INFO_COLOR),
    };
    job.append(tag, 8.0, fmt(color));
    if let Some(peer) = record.peer {
        job.append(&peer.to_string(), 8.0, fmt(Color32::GRAY));
    }
    // A datagram addressed to a multicast group names it (where the OS says).
    if let Some(group) = &record.group {
        job.append(&format!("→ {group}"), 4.0, fmt(INFO_COLOR));
    }
    if record.kind == RecordKind::Info {
        job.append(
            record.stored_text().unwrap_or_default(),
            8.0,
            fmt(INFO_COLOR),
        );
        return job;
    }
    job.append(
        &format!("[{}]", record.bytes.len()),
        8.0,
        fmt(Color32::GRAY),
    );
    match (cx.note, record.crc_ok()) {
        // The verdict says it in full.
        (Some(FrameNote::Bad(_)), _) => {}
        (_, Some(true)) => job.append(t.crc_ok, 4.0, fmt(RX_COLOR)),
        (_, Some(false)) => job.append(t.crc_bad, 4.0, fmt(ERROR_COLOR)),
        (_, None) => {}
    }
    match cx.note {
        Some(FrameNote::Bad(why)) => job.append(&format!("✖ {why}"), 6.0, fmt(ERROR_COLOR)),
        Some(FrameNote::Fields(values)) => job.append(values, 6.0, fmt(FIELD_COLOR)),
        None => {}
    }
    if record.oversize {
        job.append(&format!("! {}", t.oversize), 4.0, fmt(ERROR_COLOR));
    }
    let hex_part = |bytes: &[u8]| {
        let shown = &bytes[..bytes.len().min(ROW_HEX_BYTES).min(cx.max_chars / 3 + 1)];
        let mut s = String::with_capacity(shown.len() * 3 + 2);
        hex::format_spaced(shown, &mut s);
        if bytes.len() > shown.len() {
            s.push_str(" …");
        }
        s
    };
    // A frame whose checksum does not match, or that is not a good frame, is red.
    let text_color = if record.crc_ok() == Some(false) || matches!(cx.note, Some(FrameNote::Bad(_)))
    {
        ERROR_COLOR
    } else {
        text_color
    };
    match view {
        // Binary data (a hex frame sent or received) reads as hex, not as mojibake.
        ViewMode::Text if cx.binary => {
            job.append(t.hex_tag.trim_end(), 8.0, fmt(Color32::GRAY));
            job.append(&hex_part(&record.bytes), 4.0, fmt(text_color))
        }
        ViewMode::Text => job.append(
            &row_text(text, drawable, cx.max_chars),
            8.0,
            fmt(text_color),
        ),
        ViewMode::Hex => job.append(&hex_part(&record.bytes), 8.0, fmt(text_color)),
        // The hexdump lines follow the header (see `dump_line_job`).
        ViewMode::Both => job.append(&row_text(text, drawable, cx.max_chars), 8.0, fmt(color)),
    }
    job
}

/// True when a record is not text, judged on its first 512 bytes (see [`bytes_look_binary`]).
pub(super) fn looks_binary(record: &Record) -> bool {
    bytes_look_binary(&record.bytes[..record.bytes.len().min(512)])
}

/// True when `sample` is not text: a tenth or more of its bytes are control bytes (other
/// than tab, CR, LF), or a twentieth or more are and fewer than half are printable ASCII.
/// Random bytes have 11–12% control bytes on average, so a tenth alone called some
/// 512-byte samples of the same binary flood text and its rows flipped between hex and
/// escapes; with the second rule they never do (under half of random bytes are printable
/// ASCII), while ASCII with some control bytes (STX/ETX frames, colour codes) stays text.
/// Bytes invalid in the view's encoding do not count: text in another encoding stays text
/// (the decode-error count and Compare explain it).
pub(super) fn bytes_look_binary(sample: &[u8]) -> bool {
    if sample.is_empty() {
        return false;
    }
    let (mut controls, mut ascii) = (0, 0);
    for &b in sample {
        if (0x20..0x7F).contains(&b) {
            ascii += 1;
        } else if (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n')) || b == 0x7F {
            controls += 1;
        }
    }
    controls * 10 >= sample.len() || (controls * 20 >= sample.len() && ascii * 2 < sample.len())
}

/// Line `line` (1-based below the header) of a record's hexdump in the "both" view.
pub(super) fn dump_line_job(record: &Record, line: u64, font: &FontId, t: &Texts) -> LayoutJob {
    let mut job = LayoutJob::default();
    let start = (line as usize - 1) * hex::ROW_BYTES;
    let shown = record.bytes.len().min(BOTH_MAX_BYTES);
    let mut text = String::from("    ");
    if start < shown {
        let end = (start + hex::ROW_BYTES).min(shown);
        hex::hexdump_row(start, &record.bytes[start..end], &mut text);
    } else {
        text.push_str(&format!(
            "… {} {} ({})",
            record.bytes.len() - shown,
            t.more_bytes,
            t.select_to_see_all
        ));
    }
    job.append(&text, 0.0, TextFormat::simple(font.clone(), Color32::GRAY));
    job
}

/// The payload text for a single row: control characters made visible, characters the
/// fonts cannot draw named by code point (`\u{3E2}`) instead of an empty box, cut at
/// ROW_CHARS characters of the text or `max_chars` written (what the row can show),
/// whichever comes first.
pub(super) fn row_text(
    text: &str,
    drawable: &mut dyn FnMut(char) -> bool,
    max_chars: usize,
) -> String {
    let mut out = String::with_capacity(text.len().min(ROW_CHARS * 4));
    // Characters of the text taken, and characters written (escapes write several).
    let mut written = 0;
    for (count, ch) in text.chars().enumerate() {
        if count >= ROW_CHARS || written >= max_chars {
            out.push('…');
            break;
        }
        let before = out.len();
        match ch {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if c.is_ascii() || drawable(c) => out.push(c),
            c => out.push_str(&format!("\\u{{{:X}}}", c as u32)),
        }
        written += out[before..].chars().count();
    }
    out
}

/// A received frame's verdict when it is not good, and the field table (name, raw,
/// value) of a good one.
fn frame_detail_ui(ui: &mut Ui, t: &Texts, store: &Store, record: &Record) {
    if record.kind != RecordKind::Rx {
        return;
    }
    let Some(verdict) = record.verdict() else {
        return;
    };
    if !verdict.is_good() {
        ui.label(RichText::new(format!("✖ {}", verdict_text(t, verdict))).color(ERROR_COLOR));
        ui.separator();
        return;
    }
    let values = store.field_values(record);
    if values.is_empty() {
        return;
    }
    egui::Grid::new("field_table")
        .num_columns(3)
        .striped(true)
        .spacing([16.0, 2.0])
        .show(ui, |ui| {
            for head in [t.fr_field, t.fr_raw, t.fr_value] {
                ui.label(RichText::new(head).strong());
            }
            ui.end_row();
            for (name, value) in &values {
                ui.label(name);
                match value {
                    Some(v) => {
                        ui.label(RichText::new(number(v.raw)).monospace());
                        ui.label(RichText::new(&v.text).monospace().color(FIELD_COLOR));
                    }
                    None => {
                        ui.label("-");
                        ui.label(RichText::new(t.fr_too_short).color(Color32::GRAY));
                    }
                }
                ui.end_row();
            }
        });
    ui.separator();
}

/// A raw value: whole numbers without a point.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// The detail pane: the selected record in full (hexdump and text), or the comparison.
pub(super) fn detail_ui(
    ui: &mut Ui,
    t: &Texts,
    state: &mut ReceiveState,
    store: &Store,
    actions: &mut Vec<UiAction>,
) {
    // With nothing selected, the comparison follows the newest received record (looked
    // for among the last few thousand only, so a long run of sends costs nothing).
    let record = match state.selected {
        Some(seq) => store.index_of_seq(seq).and_then(|i| store.get(i)),
        None if state.compare => store
            .iter()
            .rev()
            .take(4096)
            .find(|r| r.kind == RecordKind::Rx),
        None => None,
    };
    ui.horizontal(|ui| {
        if ui.small_button("×").on_hover_text(t.close_detail).clicked() {
            state.selected = None;
            state.compare = false;
        }
        ui.strong(t.selected);
        if let Some(record) = &record {
            ui.label(format!(
                "#{} {} {} B, {} {}",
                record.seq,
                format_time(record.at),
                record.bytes.len(),
                store.invalid_of(record),
                t.invalid_bytes
            ));
            if ui.button(t.copy_hex).clicked() {
                ui.ctx().copy_text(hex::to_spaced(&record.bytes));
            }
            if ui.button(t.copy_text).clicked() {
                ui.ctx().copy_text(store.text(record).into_owned());
            }
        }
    });
    let Some(record) = record else {
        ui.label(RichText::new(t.select_hint).color(Color32::GRAY));
        return;
    };
    if record.kind == RecordKind::Info {
        // An event in words (a TLS handshake runs to a few hundred characters): the
        // whole of it, wrapped to the pane, instead of a hexdump of its letters.
        ScrollArea::vertical()
            .id_salt("detail_scroll")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                ui.add(
                    egui::Label::new(
                        RichText::new(record.stored_text().unwrap_or_default())
                            .monospace()
                            .color(INFO_COLOR),
                    )
                    .wrap(),
                );
            });
        return;
    }
    let text = store.text_start(record, DETAIL_BYTES * 4);
    // Laying out megabytes of text would stall the frame: show the start, copy the rest.
    let text_end = text
        .char_indices()
        .nth(DETAIL_BYTES)
        .map_or(text.len(), |(i, _)| i);
    ScrollArea::vertical()
        .id_salt("detail_scroll")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            frame_detail_ui(ui, t, store, record);
            let shown = &record.bytes[..record.bytes.len().min(DETAIL_BYTES)];
            if state.compare {
                if let Some(encoding) = compare::compare_ui(ui, t, shown, store.encoding()) {
                    actions.push(UiAction::SetEncoding(encoding));
                }
            } else {
                let mut dump = String::new();
                hex::hexdump(shown, &mut dump);
                if record.bytes.len() > shown.len() {
                    dump.push_str(&format!(
                        "\n… {} {} ({})",
                        record.bytes.len() - shown.len(),
                        t.more_bytes,
                        t.copy_to_see_all
                    ));
                }
                ui.label(RichText::new(dump).monospace());
                ui.separator();
                let mut shown_text = text[..text_end].to_string();
                if text_end < text.len() {
                    shown_text.push_str(&format!("\n… ({})", t.copy_to_see_all));
                }
                ui.label(RichText::new(shown_text).monospace());
            }
        });
}
