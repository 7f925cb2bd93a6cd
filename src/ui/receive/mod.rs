//! The receive view: a virtualised list of records (one line each, drawn only for the
//! rows on screen), a toolbar (view mode, encoding, framing, pause, clear, auto-scroll,
//! compare, filter) and a detail pane for the selected record with its full hexdump and
//! text, or the GBK / UTF-8 comparison.
//!
//! Here: the view's state, the list and the toolbar; the filter and row index are in
//! `filter`, drawing a row and the detail pane in `rows`.

mod filter;
mod rows;

use egui::{Color32, RichText, ScrollArea, TextEdit, Ui};

use crate::codec::checksum::Checksum;
use crate::codec::hex;
use crate::codec::text::TextEncoding;
use crate::lang::Lang;
use crate::session::store::{Record, RecordKind, Store};
use crate::session::{Framing, ViewMode};

use super::action::UiAction;
use super::errors::hex_error_text;
use super::i18n::Texts;
use super::settings::ViewSettings;
use super::widgets::{
    ERROR_COLOR, INFO_COLOR, ROWS_FONT, enum_picker, keep_together, none_or, panel_menu,
};

use self::filter::{FilterCache, LineIndex, Rows};
use self::rows::{detail_ui, dump_line_job, row_job};

/// Most payload characters drawn in a list row; the detail pane shows everything.
const ROW_CHARS: usize = 240;
/// Most bytes shown as hex in a list row.
const ROW_HEX_BYTES: usize = 80;
/// Time the filter may spend looking through records in one frame.
const FILTER_BUDGET: std::time::Duration = std::time::Duration::from_millis(4);
/// Most bytes the detail pane lays out (the rest is summarised).
const DETAIL_BYTES: usize = 16 * 1024;

/// State of the receive view.
#[derive(Debug)]
pub struct ReceiveState {
    /// When paused: the sequence number of the first record not shown.
    pub paused_at: Option<u64>,
    /// Keep the newest record in view.
    pub auto_scroll: bool,
    /// The selected record (by sequence number).
    pub selected: Option<u64>,
    /// Show the GBK / UTF-8 comparison of the selected record.
    pub compare: bool,
    /// Filter text.
    pub filter: String,
    /// The filter is hex bytes rather than text.
    pub filter_hex: bool,
    /// Good frames show their field values in their row (with a frame definition).
    pub show_fields: bool,
    filter_cache: FilterCache,
    lines: LineIndex,
}

impl Default for ReceiveState {
    fn default() -> Self {
        ReceiveState {
            paused_at: None,
            auto_scroll: true,
            selected: None,
            compare: false,
            filter: String::new(),
            filter_hex: false,
            show_fields: true,
            filter_cache: FilterCache::default(),
            lines: LineIndex::default(),
        }
    }
}

/// Draws the receive view of one tab.
pub fn receive_ui(
    ui: &mut Ui,
    lang: Lang,
    state: &mut ReceiveState,
    view_settings: &ViewSettings,
    store: &Store,
    actions: &mut Vec<UiAction>,
) {
    let t = lang.texts();
    let was_comparing = state.compare;
    let filter_error = state
        .filter_cache
        .error
        .as_ref()
        .map(|e| hex_error_text(lang, e));
    let progress = state.filter_progress(store);
    toolbar_ui(
        ui,
        t,
        state,
        view_settings,
        store,
        (filter_error, progress),
        actions,
    );
    state.refresh_filter(store);
    if state.filter_progress(store).is_some() {
        ui.ctx().request_repaint();
    }
    if state.compare && !was_comparing {
        // Compare what the lesson is about: the newest received record that does not
        // read cleanly, else the newest received one.
        state.selected = newest_to_compare(store);
    }

    // The detail pane opens with a selection or the comparison, so the list keeps its
    // height otherwise; the comparison gets a panel of its own size.
    if state.selected.is_some() || state.compare {
        // Sizes in proportion to the room there is, never less than what makes the pane
        // useful nor more than leaves the list half the height.
        let room = ui.available_height();
        let info_selected = state
            .selected
            .and_then(|seq| store.index_of_seq(seq))
            .and_then(|i| store.get(i))
            .is_some_and(|r| r.kind == RecordKind::Info);
        let (detail_id, detail_size, least) = if state.compare {
            ("record_compare", room * 0.5, 170.0)
        } else if info_selected {
            // An event in words (a TLS handshake: ten wrapped lines at 1024 px) is read
            // whole without scrolling.
            ("record_info", room * 0.55, 120.0)
        } else {
            ("record_detail", room * 0.35, 100.0)
        };
        egui::Panel::bottom(detail_id)
            .resizable(true)
            .default_size(detail_size.max(least))
            .min_size(least.min(room * 0.6))
            .max_size((room * 0.6).max(least))
            .show(ui, |ui| detail_ui(ui, t, state, store, actions));
    }

    let rows = state.rows(store);
    if rows.count() == 0 {
        ui.label(RichText::new(t.no_records).color(Color32::GRAY));
        return;
    }
    let font = ROWS_FONT;
    // Rows are buttons: their height is the text plus the button padding.
    let row_height = ui.fonts_mut(|f| f.row_height(&font)) + 2.0 * ui.spacing().button_padding.y;
    let view = view_settings.view;
    let mut clicked = None;
    let text_color = ui.visuals().text_color();
    let max_chars =
        (ui.available_width() / ui.fonts_mut(|f| f.glyph_width(&font, '0')).max(1.0)) as usize + 2;
    if view == ViewMode::Both {
        let limit = state.paused_at.unwrap_or(u64::MAX);
        let filter_on = !state.filter.is_empty();
        state
            .lines
            .update(store, &state.filter_cache, filter_on, limit);
    }
    let total = if view == ViewMode::Both {
        state.lines.count()
    } else {
        rows.count()
    };
    ScrollArea::both()
        .auto_shrink([false, false])
        .stick_to_bottom(state.auto_scroll)
        .show_rows(ui, row_height, total, |ui, range| {
            for row in range {
                let (record, line) = if view == ViewMode::Both {
                    match state.lines.locate(row) {
                        Some((seq, line)) => {
                            (store.index_of_seq(seq).and_then(|i| store.get(i)), line)
                        }
                        None => (None, 0),
                    }
                } else {
                    let record = match &rows {
                        Rows::All(_) => store.get(row),
                        Rows::Filtered(_) => state
                            .filter_cache
                            .matches
                            .get(row)
                            .and_then(|&seq| store.index_of_seq(seq))
                            .and_then(|i| store.get(i)),
                    };
                    (record, 0)
                };
                let Some(record) = record else {
                    ui.label("");
                    continue;
                };
                let selected = state.selected == Some(record.seq);
                let note = if line == 0 {
                    rows::frame_note(t, store, record, state.show_fields)
                } else {
                    None
                };
                let job = if line == 0 {
                    ui.fonts_mut(|fonts| {
                        let mut drawable = |c: char| fonts.has_glyph(&font, c);
                        // Info rows carry their own text; binary rows of the text view
                        // show hex, so their text is not made.
                        let binary = view == ViewMode::Text && rows::looks_binary(record);
                        let text = if record.kind == RecordKind::Info || binary {
                            std::borrow::Cow::Borrowed("")
                        } else {
                            store.text_start(record, ROW_CHARS * 4)
                        };
                        let cx = rows::RowContext {
                            view,
                            font: &font,
                            text_color,
                            note: note.as_ref(),
                            max_chars,
                            binary,
                        };
                        row_job(record, &text, &cx, t, &mut drawable)
                    })
                } else {
                    dump_line_job(record, line, &font, t)
                };
                let response = ui.add(
                    egui::Button::selectable(selected, job)
                        .frame_when_inactive(false)
                        .truncate()
                        .min_size(egui::vec2(0.0, row_height)),
                );
                // An event in words may be longer than the row: whole (wrapped) on hover,
                // and in the detail pane when clicked.
                let response = if record.kind == RecordKind::Info {
                    response.on_hover_text(record.stored_text().unwrap_or_default())
                } else {
                    response
                };
                if response.clicked() {
                    clicked = Some(record.seq);
                }
                response.context_menu(|ui| record_menu(ui, t, store, record, actions));
            }
        });
    if let Some(seq) = clicked {
        state.selected = if state.selected == Some(seq) && !state.compare {
            None
        } else {
            Some(seq)
        };
    }
}

/// The newest received record that does not decode cleanly, else the newest received.
fn newest_to_compare(store: &Store) -> Option<u64> {
    let recent = || {
        store
            .iter()
            .rev()
            .take(4096)
            .filter(|r| r.kind == RecordKind::Rx)
    };
    recent()
        .find(|r| store.invalid_of(r) > 0)
        .or_else(|| recent().next())
        .map(|r| r.seq)
}

/// The right-click menu of a record: copy it, send it again, answer its peer.
fn record_menu(
    ui: &mut Ui,
    t: &Texts,
    store: &Store,
    record: &Record,
    actions: &mut Vec<UiAction>,
) {
    if ui.button(t.copy_text).clicked() {
        ui.ctx().copy_text(store.text(record).into_owned());
        ui.close();
    }
    if ui.button(t.copy_hex).clicked() {
        ui.ctx().copy_text(hex::to_spaced(&record.bytes));
        ui.close();
    }
    if record.kind == RecordKind::Info {
        return;
    }
    ui.separator();
    if ui
        .button(t.put_in_compose)
        .on_hover_text(t.put_in_compose_tip)
        .clicked()
    {
        actions.push(UiAction::ComposeBytes(record.bytes.to_vec()));
        ui.close();
    }
    if let Some(peer) = record.peer
        && record.kind == RecordKind::Rx
        && ui
            .button(format!("{} {peer}", t.reply_to_this))
            .on_hover_text(t.reply_to_this_tip)
            .clicked()
    {
        actions.push(UiAction::TargetPeer(peer));
        ui.close();
    }
}

/// The framing menu's name of a kind.
fn framing_label(framing: Framing, t: &Texts) -> &'static str {
    match framing {
        Framing::AsRead => t.frame_as_read,
        Framing::Line => t.frame_line,
        Framing::CrLf => t.frame_crlf,
        Framing::Idle { .. } => t.frame_idle,
        Framing::Fixed { .. } => t.frame_fixed,
        Framing::LengthPrefix { .. } => t.frame_length_prefix,
    }
}

/// The framing menu: a button that says how streams are cut (and checked), opening the
/// kinds, the chosen kind's parameters and the frame check. Returns the new framing and
/// check when the user changed them.
fn framing_menu(
    ui: &mut Ui,
    t: &Texts,
    current: Framing,
    check: Checksum,
) -> (Option<Framing>, Option<Checksum>) {
    let mut next = current;
    let mut next_check = check;
    let mut summary = framing_label(current, t).to_string();
    if check != Checksum::None {
        summary.push_str(&format!(" · {}", check.name()));
    }
    let label = ui.label(t.framing);
    panel_menu(ui, format!("{summary} …"), |ui| {
        ui.label(RichText::new(t.framing_tip).color(Color32::GRAY));
        for kind in Framing::KINDS {
            if ui
                .selectable_label(next.same_kind(kind), framing_label(kind, t))
                .clicked()
                && !next.same_kind(kind)
            {
                next = kind;
            }
        }
        let number = |ui: &mut Ui, label: &str, value: &mut u32, range| {
            ui.horizontal(|ui| {
                let l = ui.label(label);
                ui.add(egui::DragValue::new(value).range(range))
                    .labelled_by(l.id);
            });
        };
        match &mut next {
            Framing::Idle { ms } => number(ui, t.idle_ms, ms, 1..=60_000),
            Framing::Fixed { len } => number(ui, t.frame_bytes, len, 1..=1 << 20),
            Framing::LengthPrefix {
                header,
                width,
                big_endian,
                includes_header,
            } => {
                number(ui, t.header_bytes, header, 0..=1024);
                ui.horizontal(|ui| {
                    ui.label(t.length_width);
                    for w in [1, 2, 4] {
                        ui.selectable_value(width, w, format!("{w} B"));
                    }
                });
                ui.checkbox(big_endian, t.big_endian);
                ui.checkbox(includes_header, t.length_counts_all);
            }
            _ => {}
        }
        ui.separator();
        ui.label(RichText::new(t.frame_check).strong());
        ui.horizontal_wrapped(|ui| {
            for c in Checksum::ALL {
                ui.selectable_value(&mut next_check, c, none_or(c.name(), t));
            }
        });
    })
    .labelled_by(label.id)
    .on_hover_text(t.framing_tip);
    (
        (next != current).then_some(next),
        (next_check != check).then_some(next_check),
    )
}

/// Width kept after the filter field for its × and the "Match hex" checkbox (either
/// language).
const FILTER_TAIL: f32 = 140.0;

fn toolbar_ui(
    ui: &mut Ui,
    t: &Texts,
    state: &mut ReceiveState,
    settings: &ViewSettings,
    store: &Store,
    (filter_error, progress): (Option<String>, Option<f32>),
    actions: &mut Vec<UiAction>,
) {
    // Two rows that never wrap (what does not fit a narrow window is cut at the right).
    ui.horizontal(|ui| {
        for (mode, text) in [
            (ViewMode::Text, t.view_text),
            (ViewMode::Hex, t.view_hex),
            (ViewMode::Both, t.view_both),
        ] {
            if ui.selectable_label(settings.view == mode, text).clicked() {
                actions.push(UiAction::SetView(mode));
            }
        }
        ui.separator();
        let mut encoding = store.encoding();
        if enum_picker(
            ui,
            "view_encoding",
            t.encoding,
            &mut encoding,
            &TextEncoding::ALL,
            |e| e.name().to_string(),
        ) {
            actions.push(UiAction::SetEncoding(encoding));
        }
        let (framing, check) = framing_menu(ui, t, settings.framing, settings.frame_check);
        if let Some(framing) = framing {
            actions.push(UiAction::SetFraming(framing));
        }
        if let Some(check) = check {
            actions.push(UiAction::SetFrameCheck(check));
        }
    });
    ui.horizontal(|ui| {
        let paused = state.paused_at.is_some();
        let pause_text = if paused {
            RichText::new(format!("▶ {}", t.resume)).color(INFO_COLOR)
        } else {
            RichText::new(t.pause)
        };
        let tip = if paused { t.paused_note } else { t.pause_tip };
        if ui.button(pause_text).on_hover_text(tip).clicked() {
            actions.push(UiAction::TogglePause);
        }
        if ui.button(t.clear).on_hover_text(t.clear_tip).clicked() {
            actions.push(UiAction::Clear);
        }
        ui.checkbox(&mut state.auto_scroll, t.auto_scroll)
            .on_hover_text(t.auto_scroll_tip);
        ui.checkbox(&mut state.compare, t.compare)
            .on_hover_text(t.compare_tip);
        // Field values in the rows: only with a definition that has fields.
        if store.frame_def().is_some_and(|d| !d.fields.is_empty()) {
            ui.checkbox(&mut state.show_fields, t.fr_show_fields)
                .on_hover_text(t.fr_show_fields_tip);
        }
        ui.separator();

        keep_together(ui, |ui| {
            let label = ui.label(t.filter);
            // The field gives up width (down to 48 px) before the × and "Match hex" after
            // it would be cut off at the panel's edge (a 1024 px window).
            let width = (ui.available_width() - FILTER_TAIL).clamp(48.0, 120.0);
            let mut edit = TextEdit::singleline(&mut state.filter)
                .desired_width(width)
                .hint_text(t.filter_hint);
            if filter_error.is_some() {
                edit = edit.text_color(ERROR_COLOR);
            }
            let response = ui.add(edit).labelled_by(label.id);
            match &filter_error {
                Some(error) => response.on_hover_text(format!("! {error}")),
                None => response.on_hover_text(t.filter_tip),
            };
            // Always there (greyed when empty), so nothing moves as the filter is typed.
            if ui
                .add_enabled(!state.filter.is_empty(), egui::Button::new("×").small())
                .on_hover_text(t.clear_filter)
                .clicked()
            {
                state.filter.clear();
            }
            ui.checkbox(&mut state.filter_hex, t.filter_hex)
                .on_hover_text(t.filter_hex_tip);
            if let Some(done) = progress {
                ui.label(
                    RichText::new(format!("{} {:.0}%", t.filtering, done * 100.0))
                        .color(Color32::GRAY),
                );
            }
        });
    });
}

#[cfg(test)]
mod tests;
