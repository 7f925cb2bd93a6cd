//! The receive view: a virtualised list of records (one line each, drawn only for the
//! rows on screen), a toolbar (view mode, encoding, framing, pause, clear, auto-scroll,
//! compare, filter) and a detail pane for the selected record with its full hexdump and
//! text, or the GBK / UTF-8 comparison.

use std::collections::VecDeque;

use egui::text::LayoutJob;
use egui::{Color32, FontId, RichText, ScrollArea, TextEdit, TextFormat, Ui};

use crate::codec::checksum::Checksum;
use crate::codec::hex;
use crate::codec::text::TextEncoding;
use crate::lang::Lang;
use crate::session::store::{Record, RecordKind, Store};
use crate::session::time::format_time;
use crate::session::{Framing, ViewMode};

use super::action::UiAction;
use super::compare;
use super::errors::hex_error_text;
use super::i18n::Texts;
use super::settings::ViewSettings;
use super::widgets::{
    ERROR_COLOR, INFO_COLOR, RX_COLOR, TX_COLOR, enum_picker, keep_together, none_or, panel_menu,
};

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
            filter_cache: FilterCache::default(),
            lines: LineIndex::default(),
        }
    }
}

/// Sequence numbers of records that match the filter, kept up to date incrementally.
#[derive(Debug, Default)]
struct FilterCache {
    key: Option<(String, bool, TextEncoding)>,
    matches: VecDeque<u64>,
    scanned_to: u64,
    error: Option<hex::HexError>,
}

/// The compiled filter.
enum Needle {
    Text(String),
    Bytes(Vec<u8>),
}

impl Needle {
    fn matches(&self, store: &Store, record: &Record) -> bool {
        match self {
            Needle::Text(text) => store.text(record).contains(text.as_str()),
            Needle::Bytes(bytes) => {
                bytes.is_empty()
                    || record
                        .bytes
                        .windows(bytes.len())
                        .any(|w| w == bytes.as_slice())
            }
        }
    }
}

impl ReceiveState {
    /// Records that match the filter, when one is set (the status bar's "shown").
    pub fn filtered_count(&self) -> Option<usize> {
        (!self.filter.is_empty()).then_some(self.filter_cache.matches.len())
    }

    /// Brings the filter cache up to date with the store; returns the filter error, if any.
    fn refresh_filter(&mut self, store: &Store) {
        let key = (self.filter.clone(), self.filter_hex, store.encoding());
        let cache = &mut self.filter_cache;
        if cache.key.as_ref() != Some(&key) {
            cache.key = Some(key);
            cache.matches.clear();
            cache.scanned_to = 0;
            cache.error = None;
        }
        if self.filter.is_empty() {
            return;
        }
        let needle = if self.filter_hex {
            match hex::parse(&self.filter) {
                Ok(bytes) => Needle::Bytes(bytes),
                Err(error) => {
                    cache.error = Some(error);
                    return;
                }
            }
        } else {
            Needle::Text(self.filter.clone())
        };
        // Forget matches that were evicted from the store.
        let first = store.get(0).map_or(store.next_seq(), |r| r.seq);
        while cache.matches.front().is_some_and(|&seq| seq < first) {
            cache.matches.pop_front();
        }
        let start = store
            .index_of_seq(cache.scanned_to)
            .unwrap_or(if cache.scanned_to < first {
                0
            } else {
                store.len()
            });
        // A few milliseconds per frame: a filter typed over a full store fills the list
        // over a few frames (the toolbar shows how far it got) instead of stalling one.
        let deadline = std::time::Instant::now() + FILTER_BUDGET;
        for (i, record) in store.iter().enumerate().skip(start) {
            if i % 64 == 0 && std::time::Instant::now() >= deadline {
                cache.scanned_to = record.seq;
                return;
            }
            if record.kind != RecordKind::Info && needle.matches(store, record) {
                cache.matches.push_back(record.seq);
            }
        }
        cache.scanned_to = store.next_seq();
    }

    /// How far the filter has looked through the store (`None` when it is done or off).
    pub fn filter_progress(&self, store: &Store) -> Option<f32> {
        if self.filter.is_empty() || self.filter_cache.scanned_to >= store.next_seq() {
            return None;
        }
        let first = store.get(0).map_or(store.next_seq(), |r| r.seq);
        let done = self.filter_cache.scanned_to.saturating_sub(first) as f32;
        let all = store.next_seq().saturating_sub(first).max(1) as f32;
        Some(done / all)
    }

    /// Number of rows the list shows, and a way to map a row to a store index.
    fn rows(&self, store: &Store) -> Rows {
        let limit = self.paused_at.unwrap_or(u64::MAX);
        if self.filter.is_empty() {
            let newer = store.next_seq().saturating_sub(limit) as usize;
            Rows::All(store.len().saturating_sub(newer))
        } else {
            Rows::Filtered(
                self.filter_cache
                    .matches
                    .partition_point(|&seq| seq < limit),
            )
        }
    }
}

/// Most payload bytes a record shows as hexdump lines in the "both" view.
const BOTH_MAX_BYTES: usize = 1024;

/// Lines a record takes in the "both" view: a header, then 16 bytes a line, then a
/// "more bytes" line when it was cut.
fn lines_of(record: &Record) -> u64 {
    if record.kind == RecordKind::Info {
        return 1;
    }
    let shown = record.bytes.len().min(BOTH_MAX_BYTES);
    1 + shown.div_ceil(hex::ROW_BYTES) as u64 + u64::from(record.bytes.len() > BOTH_MAX_BYTES)
}

/// Where each shown record starts in the "both" view's line numbering, kept up to date
/// incrementally (new records appended, evicted ones dropped from the front), so the view
/// stays virtualised even though records take different numbers of lines.
#[derive(Debug, Default)]
struct LineIndex {
    key: Option<(String, bool, TextEncoding)>,
    seqs: VecDeque<u64>,
    starts: VecDeque<u64>,
    end: u64,
    next_seq: u64,
}

impl LineIndex {
    /// Brings the index up to date with the rows the list shows.
    fn update(&mut self, store: &Store, state_filter: &FilterCache, filter_on: bool, limit: u64) {
        let key = if filter_on {
            state_filter.key.clone()
        } else {
            None
        };
        if key != self.key {
            *self = LineIndex {
                key,
                ..LineIndex::default()
            };
        }
        let first = store.get(0).map_or(store.next_seq(), |r| r.seq);
        while self.seqs.front().is_some_and(|&seq| seq < first) {
            self.seqs.pop_front();
            self.starts.pop_front();
        }
        let next_seq = self.next_seq;
        let mut add = |record: &Record| {
            self.seqs.push_back(record.seq);
            self.starts.push_back(self.end);
            self.end += lines_of(record);
            self.next_seq = record.seq + 1;
        };
        if filter_on {
            let from = state_filter.matches.partition_point(|&seq| seq < next_seq);
            for &seq in state_filter.matches.range(from..) {
                if seq >= limit {
                    break;
                }
                if let Some(record) = store.index_of_seq(seq).and_then(|i| store.get(i)) {
                    add(record);
                }
            }
        } else {
            let from = store.index_of_seq(next_seq).unwrap_or(if next_seq < first {
                0
            } else {
                store.len()
            });
            for record in store.iter().skip(from).take_while(|r| r.seq < limit) {
                add(record);
            }
        }
    }

    /// Lines shown.
    fn count(&self) -> usize {
        self.starts
            .front()
            .map_or(0, |&first| (self.end - first) as usize)
    }

    /// The record and the line within it for a visible line number.
    fn locate(&self, line: usize) -> Option<(u64, u64)> {
        let absolute = self.starts.front()? + line as u64;
        let pos = self
            .starts
            .partition_point(|&start| start <= absolute)
            .checked_sub(1)?;
        Some((self.seqs[pos], absolute - self.starts[pos]))
    }
}

enum Rows {
    All(usize),
    Filtered(usize),
}

impl Rows {
    fn count(&self) -> usize {
        match self {
            Rows::All(n) | Rows::Filtered(n) => *n,
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
        let (detail_id, detail_size, least) = if state.compare {
            ("record_compare", room * 0.5, 170.0)
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
    let font = FontId::monospace(13.0);
    // Rows are buttons: their height is the text plus the button padding.
    let row_height = ui.fonts_mut(|f| f.row_height(&font)) + 2.0 * ui.spacing().button_padding.y;
    let view = view_settings.view;
    let mut clicked = None;
    let text_color = ui.visuals().text_color();
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
                let job = if line == 0 {
                    ui.fonts_mut(|fonts| {
                        let mut drawable = |c: char| fonts.has_glyph(&font, c);
                        let text = if record.kind == RecordKind::Info {
                            std::borrow::Cow::Borrowed("")
                        } else {
                            store.text_start(record, ROW_CHARS * 4)
                        };
                        row_job(record, &text, view, &font, text_color, t, &mut drawable)
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
        ui.separator();

        keep_together(ui, |ui| {
            let label = ui.label(t.filter);
            let mut edit = TextEdit::singleline(&mut state.filter)
                .desired_width(120.0)
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

/// One list row: time, direction, peer, length and the payload in the chosen view.
#[allow(clippy::too_many_arguments)]
fn row_job(
    record: &Record,
    text: &str,
    view: ViewMode,
    font: &FontId,
    text_color: Color32,
    t: &Texts,
    drawable: &mut dyn FnMut(char) -> bool,
) -> LayoutJob {
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
    match record.crc_ok() {
        Some(true) => job.append(t.crc_ok, 4.0, fmt(RX_COLOR)),
        Some(false) => job.append(t.crc_bad, 4.0, fmt(ERROR_COLOR)),
        None => {}
    }
    if record.oversize {
        job.append(&format!("! {}", t.oversize), 4.0, fmt(ERROR_COLOR));
    }
    let hex_part = |bytes: &[u8]| {
        let shown = &bytes[..bytes.len().min(ROW_HEX_BYTES)];
        let mut s = String::with_capacity(shown.len() * 3 + 2);
        hex::format_spaced(shown, &mut s);
        if bytes.len() > shown.len() {
            s.push_str(" …");
        }
        s
    };
    // A frame whose checksum does not match is drawn in red.
    let text_color = if record.crc_ok() == Some(false) {
        ERROR_COLOR
    } else {
        text_color
    };
    match view {
        // Binary data (a hex frame sent or received) reads as hex, not as mojibake.
        ViewMode::Text if looks_binary(record) => {
            job.append(t.hex_tag.trim_end(), 8.0, fmt(Color32::GRAY));
            job.append(&hex_part(&record.bytes), 4.0, fmt(text_color))
        }
        ViewMode::Text => job.append(&row_text(text, drawable), 8.0, fmt(text_color)),
        ViewMode::Hex => job.append(&hex_part(&record.bytes), 8.0, fmt(text_color)),
        // The hexdump lines follow the header (see `dump_line_job`).
        ViewMode::Both => job.append(&row_text(text, drawable), 8.0, fmt(color)),
    }
    job
}

/// True when a record is not text: a tenth or more of its bytes are control bytes (other
/// than tab, CR, LF). Bytes invalid in the view's encoding do not count: text in another
/// encoding stays text (the decode-error count and Compare explain it).
fn looks_binary(record: &Record) -> bool {
    let sample = &record.bytes[..record.bytes.len().min(512)];
    if sample.is_empty() {
        return false;
    }
    let controls = sample
        .iter()
        .filter(|&&b| (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n')) || b == 0x7F)
        .count();
    controls * 10 >= sample.len()
}

/// Line `line` (1-based below the header) of a record's hexdump in the "both" view.
fn dump_line_job(record: &Record, line: u64, font: &FontId, t: &Texts) -> LayoutJob {
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
/// ROW_CHARS.
fn row_text(text: &str, drawable: &mut dyn FnMut(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len().min(ROW_CHARS * 4));
    for (count, ch) in text.chars().enumerate() {
        if count >= ROW_CHARS {
            out.push('…');
            break;
        }
        match ch {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if c.is_ascii() || drawable(c) => out.push(c),
            c => out.push_str(&format!("\\u{{{:X}}}", c as u32)),
        }
    }
    out
}

/// The detail pane: the selected record in full (hexdump and text), or the comparison.
fn detail_ui(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Direction;
    use crate::session::store::StoreCaps;

    /// A filter over a full store is worked through over several calls (frames), and
    /// once done it has found exactly the records a full scan finds, in order.
    #[test]
    fn filter_over_a_full_store_finds_every_match() {
        let mut store = Store::new(StoreCaps::default(), TextEncoding::Utf8);
        let peer = "127.0.0.1:9".parse().unwrap();
        for i in 0..100_000u32 {
            let line = if i % 1000 == 7 {
                format!("{i} the needle is here\n")
            } else {
                format!("{i} hay \u{00FF}\u{3000} and more hay\n")
            };
            let at = std::time::SystemTime::now();
            let bytes = std::sync::Arc::from(line.into_bytes());
            store.push_data(1, Some(1), peer, Direction::Rx, at, bytes);
        }
        let mut state = ReceiveState {
            filter: "needle".into(),
            ..ReceiveState::default()
        };
        let mut calls = 0;
        loop {
            state.refresh_filter(&store);
            calls += 1;
            if state.filter_progress(&store).is_none() {
                break;
            }
            assert!(calls < 100_000, "the filter never finished");
        }
        let expected: Vec<u64> = store
            .iter()
            .filter(|r| store.text(r).contains("needle"))
            .map(|r| r.seq)
            .collect();
        assert_eq!(expected.len(), 100);
        assert_eq!(Vec::from(state.filter_cache.matches.clone()), expected);
    }
}
