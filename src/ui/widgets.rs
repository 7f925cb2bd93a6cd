//! Pieces every panel uses: colours, a labelled enum picker, a message line, and the one
//! editor for a send template's options (compose box, quick commands, rule replies).

use egui::{Color32, RichText, Ui};

use crate::automation::SendSpec;
use crate::codec::checksum::Checksum;
use crate::codec::escape::LineEnding;
use crate::codec::text::TextEncoding;
use crate::session::recorder::LogFormat;

use super::i18n::Texts;

/// Colour for problems.
pub const ERROR_COLOR: Color32 = Color32::from_rgb(0xE0, 0x40, 0x40);
/// Colour for a running session and for success.
pub const OK_COLOR: Color32 = Color32::from_rgb(0x30, 0xB0, 0x50);
/// Received-bytes colour.
pub const RX_COLOR: Color32 = Color32::from_rgb(0x3C, 0xB3, 0x71);
/// Sent-bytes colour.
pub const TX_COLOR: Color32 = Color32::from_rgb(0x4A, 0x90, 0xE2);
/// Information-line colour.
pub const INFO_COLOR: Color32 = Color32::from_rgb(0xC0, 0x9A, 0x30);
/// The font of the receive list's rows (with the hexdump lines of the Both view) and of
/// the GBK / UTF-8 comparison; the glyph warm-up rasterises it before traffic comes.
pub const ROWS_FONT: egui::FontId = egui::FontId::monospace(13.0);

/// Lays out `add` left to right as one piece that a wrapping row never splits: when the
/// piece (as wide as it was last frame) does not fit in what is left of the row, the row
/// ends first. So a label stays beside its field, and nothing runs off the edge.
pub fn keep_together<R>(ui: &mut Ui, add: impl FnOnce(&mut Ui) -> R) -> R {
    let id = ui.next_auto_id().with("keep_together");
    let last_width: Option<f32> = ui.data(|d| d.get_temp(id));
    // In a wrapping row, `available_width` is the whole row; what is left is measured
    // from the cursor.
    let left = ui.max_rect().right() - ui.cursor().min.x;
    let row_started = ui.cursor().min.x > ui.max_rect().min.x + 1.0;
    if let Some(width) = last_width
        && row_started
        && width > left
    {
        ui.end_row();
    }
    let response = ui.horizontal(add);
    ui.data_mut(|d| d.insert_temp(id, response.response.rect.width()));
    response.inner
}

/// A label and a drop-down of `all`, the label naming the drop-down for screen readers
/// and tests. Returns true when the user picked another value.
pub fn enum_picker<T: Copy + PartialEq>(
    ui: &mut Ui,
    id_salt: impl std::hash::Hash + std::fmt::Debug,
    label: &str,
    value: &mut T,
    all: &[T],
    name: impl Fn(T) -> String,
) -> bool {
    let before = *value;
    keep_together(ui, |ui| {
        let label = ui.label(label);
        // As wide as the longest choice needs, not a fixed width: rows stay short.
        let font = egui::TextStyle::Button.resolve(ui.style());
        let widest = all
            .iter()
            .map(|&v| {
                ui.fonts_mut(|f| {
                    f.layout_no_wrap(name(v), font.clone(), egui::Color32::WHITE)
                        .size()
                        .x
                })
            })
            .fold(0.0, f32::max)
            .min(96.0);
        egui::ComboBox::from_id_salt(id_salt)
            .width(widest + ui.spacing().icon_width + 2.0 * ui.spacing().button_padding.x)
            .selected_text(name(*value))
            .show_ui(ui, |ui| {
                for &v in all {
                    ui.selectable_value(value, v, name(v));
                }
            })
            .response
            .labelled_by(label.id);
    });
    *value != before
}

/// The last word of an action: green when it went well, red when not.
pub fn message_label(ui: &mut Ui, message: Option<&(bool, String)>) {
    if let Some((ok, text)) = message {
        ui.label(RichText::new(text).color(if *ok { OK_COLOR } else { ERROR_COLOR }));
    }
}

/// Encoding, escapes, line ending and checksum of a send template. Returns true when
/// something changed.
pub fn spec_options_ui(
    ui: &mut Ui,
    spec: &mut SendSpec,
    t: &Texts,
    id: impl std::hash::Hash + std::fmt::Debug + Copy,
) -> bool {
    let before = spec.clone();
    if !spec.hex {
        enum_picker(
            ui,
            ("spec_encoding", id),
            t.send_encoding,
            &mut spec.encoding,
            &TextEncoding::ALL,
            |e| e.name().to_string(),
        );
        ui.checkbox(&mut spec.escapes, t.escapes)
            .on_hover_text(t.escapes_tip);
    }
    appended_pickers(ui, spec, t, id);
    *spec != before
}

/// The line ending and checksum menus of a send template (what is appended to its data).
pub fn appended_pickers(
    ui: &mut Ui,
    spec: &mut SendSpec,
    t: &Texts,
    id: impl std::hash::Hash + std::fmt::Debug + Copy,
) {
    enum_picker(
        ui,
        ("spec_line_ending", id),
        t.line_ending,
        &mut spec.line_ending,
        &LineEnding::ALL,
        |l| none_or(l.name(), t),
    );
    enum_picker(
        ui,
        ("spec_checksum", id),
        t.checksum,
        &mut spec.checksum,
        &Checksum::ALL,
        |c| none_or(c.name(), t),
    );
}

/// A codec choice's name for a menu, with "None" in the UI language.
pub fn none_or(name: &str, t: &Texts) -> String {
    if name == "None" {
        t.none.to_string()
    } else {
        name.to_string()
    }
}

/// A log format's name for a menu, in the UI language.
pub fn log_format_label(format: LogFormat, t: &Texts) -> String {
    match format {
        LogFormat::Text => t.log_text.to_string(),
        LogFormat::TextHex => t.log_text_hex.to_string(),
        LogFormat::Raw => t.log_raw.to_string(),
        other => other.name().to_string(),
    }
}

/// A button that opens a small panel of controls (not a menu of commands): it stays open
/// while the user clicks and types inside, and closes on a click outside or Escape.
pub fn panel_menu(
    ui: &mut Ui,
    text: impl Into<egui::WidgetText>,
    add: impl FnOnce(&mut Ui),
) -> egui::Response {
    let config = egui::containers::menu::MenuConfig::new()
        .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside);
    egui::containers::menu::MenuButton::new(text.into())
        .config(config)
        .ui(ui, add)
        .0
}
