//! The compare pane: a record's bytes with their GBK and UTF-8 readings underneath, each
//! character drawn under the bytes that made it and invalid bytes marked in red.
//! This is the tutorials' lesson made visible: `C4 E3 BA C3` is `你好` in GBK and four
//! invalid bytes in UTF-8.

use egui::{Align2, Color32, FontId, Rect, RichText, Sense, Stroke, Ui, vec2};

use crate::codec::text::{CharSpan, TextEncoding, char_spans};

/// Bytes per line of the comparison.
const PER_LINE: usize = 16;
/// Most bytes compared (the pane is for reading, not for megabytes).
const MAX_BYTES: usize = 4096;

/// The encodings compared, top to bottom.
pub const COMPARED: [TextEncoding; 2] = [TextEncoding::Gbk, TextEncoding::Utf8];

/// Bytes of `spans` that are not valid in their encoding.
fn invalid_bytes(spans: &[CharSpan]) -> usize {
    spans
        .iter()
        .filter(|s| !s.valid)
        .map(|s| s.range.len())
        .sum()
}

/// The comparison in one sentence: which reading is valid and why the other is not.
pub fn verdict(t: &super::i18n::Texts, bytes: &[u8]) -> (String, Option<TextEncoding>) {
    let counts: Vec<(TextEncoding, usize)> = COMPARED
        .iter()
        .map(|&enc| (enc, invalid_bytes(&char_spans(enc, bytes))))
        .collect();
    let valid: Vec<TextEncoding> = counts.iter().filter(|c| c.1 == 0).map(|c| c.0).collect();
    let invalid: Vec<String> = counts
        .iter()
        .filter(|c| c.1 > 0)
        .map(|(enc, n)| format!("{n} {} {}", t.bytes_invalid_as, enc.name()))
        .collect();
    let ascii = bytes.iter().all(u8::is_ascii);
    let text = match (valid.as_slice(), ascii) {
        (_, true) => t.verdict_ascii.to_string(),
        ([only], false) => format!(
            "{} {}; {}. {}",
            t.verdict_valid,
            only.name(),
            invalid.join(", "),
            t.verdict_why
        ),
        ([], false) => format!("{}: {}", t.verdict_neither, invalid.join(", ")),
        (_, false) => t.verdict_both.to_string(),
    };
    let suggest = match valid.as_slice() {
        [only] if !ascii => Some(*only),
        _ => None,
    };
    (text, suggest)
}

/// Draws the comparison of `bytes`; returns the encoding the user chose to view with.
pub fn compare_ui(
    ui: &mut Ui,
    t: &super::i18n::Texts,
    bytes: &[u8],
    view: TextEncoding,
) -> Option<TextEncoding> {
    let bytes = &bytes[..bytes.len().min(MAX_BYTES)];
    let mut chosen = None;
    let (text, suggest) = verdict(t, bytes);
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(text).strong());
        if let Some(enc) = suggest.filter(|e| *e != view)
            && ui.button(format!("{} {}", t.view_as, enc.name())).clicked()
        {
            chosen = Some(enc);
        }
    });
    let readings: Vec<(TextEncoding, Vec<CharSpan>)> = COMPARED
        .iter()
        .map(|&enc| (enc, char_spans(enc, bytes)))
        .collect();
    let font = super::widgets::ROWS_FONT;
    let cjk = FontId::proportional(15.0);
    let cell = ui.fonts_mut(|f| f.glyph_width(&font, '0')) * 3.0;
    let line_h = ui.fonts_mut(|f| f.row_height(&cjk)) + 4.0;
    let label_w = cell * 3.5;
    let text_color = ui.visuals().text_color();
    let invalid_bg = Color32::from_rgba_unmultiplied(0xE0, 0x40, 0x40, 90);
    let valid_bg = ui.visuals().faint_bg_color;

    for line_start in (0..bytes.len()).step_by(PER_LINE) {
        let line_end = (line_start + PER_LINE).min(bytes.len());
        let rows = 1 + readings.len();
        let (rect, _) = ui.allocate_exact_size(
            vec2(label_w + cell * PER_LINE as f32, line_h * rows as f32 + 6.0),
            Sense::hover(),
        );
        let painter = ui.painter_at(rect);
        let x0 = rect.left() + label_w;
        // Offset and hex bytes.
        painter.text(
            rect.left_top(),
            Align2::LEFT_TOP,
            format!("{line_start:06X}"),
            font.clone(),
            Color32::GRAY,
        );
        for (i, byte) in bytes[line_start..line_end].iter().enumerate() {
            painter.text(
                egui::pos2(x0 + cell * i as f32, rect.top()),
                Align2::LEFT_TOP,
                format!("{byte:02X}"),
                font.clone(),
                text_color,
            );
        }
        // One row per encoding: each span spans the columns of its bytes.
        for (row, (enc, spans)) in readings.iter().enumerate() {
            let y = rect.top() + line_h * (row + 1) as f32;
            painter.text(
                egui::pos2(rect.left(), y),
                Align2::LEFT_TOP,
                enc.name(),
                font.clone(),
                Color32::GRAY,
            );
            for span in spans
                .iter()
                .filter(|s| s.range.end > line_start && s.range.start < line_end)
            {
                let first = span.range.start.max(line_start) - line_start;
                let last = span.range.end.min(line_end) - line_start;
                let cell_rect = Rect::from_min_size(
                    egui::pos2(x0 + cell * first as f32, y),
                    vec2(cell * (last - first) as f32 - 3.0, line_h - 2.0),
                );
                let (bg, color) = if span.valid {
                    (valid_bg, text_color)
                } else {
                    (invalid_bg, Color32::from_rgb(0xFF, 0x70, 0x70))
                };
                painter.rect_filled(cell_rect, 2.0, bg);
                painter.rect_stroke(
                    cell_rect,
                    2.0,
                    Stroke::new(0.5, Color32::GRAY),
                    egui::StrokeKind::Inside,
                );
                // A span that started on an earlier line is shown there; here just the box.
                if span.range.start >= line_start {
                    let shown = visible_char(&span.text);
                    // A valid character the bundled font cannot draw is named by code
                    // point instead of drawn as an empty box.
                    let drawable = ui.fonts_mut(|f| f.has_glyphs(&cjk, &shown));
                    let (font, text) = if span.valid && drawable {
                        (cjk.clone(), shown)
                    } else if span.valid {
                        let code: String = span
                            .text
                            .chars()
                            .map(|c| format!("U+{:04X}", c as u32))
                            .collect();
                        (FontId::monospace(9.0), code)
                    } else {
                        // The byte's value is in the row above; the cell only marks it.
                        (FontId::monospace(12.0), "?".to_string())
                    };
                    painter.text(cell_rect.center(), Align2::CENTER_CENTER, text, font, color);
                }
            }
        }
    }
    ui.separator();
    // A plain-text line per encoding, for copying and for screen readers.
    for (enc, spans) in &readings {
        let invalid = invalid_bytes(spans);
        let font = super::widgets::ROWS_FONT;
        let text: String = ui.fonts_mut(|f| {
            spans
                .iter()
                .map(|s| {
                    let shown = visible_char(&s.text);
                    if !s.valid || f.has_glyphs(&font, &shown) {
                        shown
                    } else {
                        s.text
                            .chars()
                            .map(|c| format!("\\u{{{:X}}}", c as u32))
                            .collect()
                    }
                })
                .collect()
        });
        ui.label(
            RichText::new(format!(
                "{}: {text}  ({invalid} {})",
                enc.name(),
                t.invalid_bytes_short
            ))
            .monospace(),
        );
    }
    chosen
}

/// Control characters shown by name so the cell is never blank.
fn visible_char(text: &str) -> String {
    match text {
        "\r" => "\\r".into(),
        "\n" => "\\n".into(),
        "\t" => "\\t".into(),
        " " => "SP".into(),
        t if t.chars().all(char::is_control) => {
            t.chars().map(|c| format!("\\x{:02X}", c as u32)).collect()
        }
        t => t.to_string(),
    }
}
