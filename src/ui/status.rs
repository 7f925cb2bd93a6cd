//! The status bar: RX/TX bytes and messages, current rates, records shown vs dropped from
//! the view, decode errors in the current encoding, UDP drops, the view memory all tabs
//! share, and the last error.

use egui::{RichText, Ui};

use crate::codec::text::{self, TextEncoding};
use crate::session::stats::human_bytes;
use crate::session::store::{RecordKind, Store};

use super::action::UiAction;
use super::i18n::Texts;
use super::tab::{Losses, Notice};
use super::widgets::{ERROR_COLOR, OK_COLOR, RX_COLOR, TX_COLOR};

/// Memory the views of all tabs hold, against the one budget they share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewBudget {
    /// Bytes held by every tab's view together.
    pub used: usize,
    /// Bytes of the cap kept free for data on its way to the views (the queues between
    /// the network and the window).
    pub reserved: usize,
    /// The shared cap in bytes.
    pub cap: usize,
    /// How many tabs share it.
    pub tabs: usize,
}

/// What the status bar shows besides the store.
#[derive(Clone, Copy, Debug)]
pub struct StatusFacts<'a> {
    /// Datagrams the engine dropped because the UI fell behind (UDP).
    pub udp_dropped: u64,
    /// Memory all tabs' views hold.
    pub budget: ViewBudget,
    /// Records that match the filter, when one is set.
    pub filter_shown: Option<usize>,
    /// Other losses and limits of the session.
    pub losses: Losses,
    /// Round-trip statistics (the last one and its command's median are shown).
    pub rtt: &'a super::frames::rtt::RttStats,
}

/// Draws the status bar of one tab: one line that never wraps (what does not fit is cut).
pub fn status_ui(
    ui: &mut Ui,
    t: &Texts,
    store: &Store,
    facts: StatusFacts<'_>,
    actions: &mut Vec<UiAction>,
) {
    let budget = facts.budget;
    ui.horizontal(|ui| {
        // The view's memory sits at the right end and stays whole however narrow the
        // window (a flood's long counters used to push it off a 1024 px window); what
        // does not fit to its left is cut there.
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            view_memory_ui(ui, t, budget);
            ui.separator();
            ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                ui.shrink_clip_rect(ui.max_rect());
                counters_ui(ui, t, store, facts, actions);
            });
        });
    });
}

/// The status bar's counters, left to right: RX, TX, round trips, decode errors,
/// losses, records shown and dropped from the view.
fn counters_ui(
    ui: &mut Ui,
    t: &Texts,
    store: &Store,
    facts: StatusFacts<'_>,
    actions: &mut Vec<UiAction>,
) {
    let total = store.stats.total;
    let rates = store.stats.rates();
    let direction = |tag: &str, bytes: u64, msgs: u64, rate: f64| {
        format!(
            "{tag} {} ({msgs} {}) {}{}",
            human_bytes(bytes as f64),
            t.msgs,
            human_bytes(rate),
            t.per_second
        )
    };
    let rx = direction(t.rx, total.rx_bytes, total.rx_msgs, rates.rx_bytes);
    ui.label(RichText::new(rx).color(RX_COLOR).monospace());
    ui.separator();
    let tx = direction(t.tx, total.tx_bytes, total.tx_msgs, rates.tx_bytes);
    ui.label(RichText::new(tx).color(TX_COLOR).monospace());
    ui.separator();
    if let Some(text) = facts.rtt.status_text(t) {
        ui.label(RichText::new(text).monospace())
            .on_hover_text(t.fr_rtt_tip);
        ui.separator();
    }
    let errors = store.decode_errors();
    // While bytes are still to be counted (a flood outruns counting) the count so far
    // is a lower bound: "≥ N", with how much is left in the tooltip, so the status
    // bar does not grow during a flood.
    let uncounted = store.uncounted_bytes() > 0 && store.redecoding().is_none();
    let text = format!(
        "{} ({}): {}{errors}",
        t.decode_errors,
        store.encoding().name(),
        if uncounted { "≥ " } else { "" }
    );
    let tip = if uncounted {
        format!(
            "{}\n+ {} {}",
            t.decode_errors_tip,
            human_bytes(store.uncounted_bytes() as f64),
            t.to_count
        )
    } else {
        t.decode_errors_tip.to_string()
    };
    if errors > 0 {
        ui.label(RichText::new(text).color(ERROR_COLOR))
            .on_hover_text(&tip);
        if let Some(better) = better_encoding(store) {
            let hint = format!("{} {}?", t.looks_like, better.name());
            if ui
                .small_button(hint)
                .on_hover_text(t.looks_like_tip)
                .clicked()
            {
                actions.push(UiAction::SetEncoding(better));
            }
        }
    } else {
        ui.label(text).on_hover_text(&tip);
    }
    // Re-decoding after a switch goes on a few MiB per frame: say how far it is.
    if let Some(done) = store.redecoding() {
        ui.label(format!("{} {:.0}%", t.redecoding, f64::from(done) * 100.0))
            .on_hover_text(t.redecoding_tip);
    }
    let losses = facts.losses;
    for (count, words, tip) in [
        (facts.udp_dropped, t.udp_dropped, t.udp_dropped_tip),
        (
            losses.kernel_dropped,
            t.kernel_dropped,
            t.kernel_dropped_tip,
        ),
        (losses.not_recorded, t.not_recorded, t.not_recorded_tip),
    ] {
        if count > 0 {
            ui.separator();
            ui.label(RichText::new(format!("{words}: {count}")).color(ERROR_COLOR))
                .on_hover_text(tip);
        }
    }
    if losses.discarded > 0 {
        ui.separator();
        ui.label(
            RichText::new(format!(
                "{}: {}",
                t.discarded_unsent,
                human_bytes(losses.discarded as f64)
            ))
            .color(ERROR_COLOR),
        )
        .on_hover_text(t.discarded_unsent_tip);
    }
    // Shown only when the system gave less than asked (Linux reports twice the usable
    // size, so an honoured request reads back at least as large).
    if let Some((asked, granted)) = losses.recv_buffer.filter(|(a, g)| g < a) {
        ui.separator();
        let text = format!("{} {}", t.recv_buffer_short, human_bytes(granted as f64));
        let tip = format!(
            "{}: {} → {}",
            t.recv_buffer_tip,
            human_bytes(asked as f64),
            human_bytes(granted as f64)
        );
        ui.label(RichText::new(text).color(crate::ui::widgets::INFO_COLOR))
            .on_hover_text(tip);
    }
    ui.separator();
    let shown = match facts.filter_shown {
        Some(n) => format!("{} {n} / {}", t.shown, store.len()),
        None => format!("{} {}", t.shown, store.len()),
    };
    ui.label(format!(
        "{shown} · {} {} ({})",
        t.dropped_from_view,
        store.evicted_records(),
        human_bytes(store.evicted_bytes() as f64)
    ))
    .on_hover_text(t.shown_tip);
}

/// Memory all tabs' views hold + the part kept for data on its way / the shared cap.
fn view_memory_ui(ui: &mut Ui, t: &Texts, budget: ViewBudget) {
    ui.label(format!(
        "{} {} + {} / {}",
        t.view_memory,
        human_bytes(budget.used as f64),
        human_bytes(budget.reserved as f64),
        human_bytes(budget.cap as f64),
    ))
    .on_hover_text(format!(
        "{} ({})\n+ {}: {}",
        t.view_memory_tip,
        budget.tabs,
        human_bytes(budget.reserved as f64),
        t.view_reserved_tip
    ));
}

/// An encoding in which the newest received bytes decode cleanly when the view's does
/// not: GBK for Chinese from a Windows device, UTF-8 the other way round.
pub fn better_encoding(store: &Store) -> Option<TextEncoding> {
    let current = store.encoding();
    let mut sample = Vec::new();
    for record in store.iter().rev().take(64) {
        if record.kind == RecordKind::Rx && record.invalid().unwrap_or(0) > 0 {
            sample.extend_from_slice(&record.bytes[..record.bytes.len().min(4096)]);
            if sample.len() >= 16 * 1024 {
                break;
            }
        }
    }
    if sample.is_empty() {
        return None;
    }
    [TextEncoding::Gbk, TextEncoding::Utf8, TextEncoding::Big5]
        .into_iter()
        .filter(|e| *e != current)
        .find(|e| text::decode_to_string(*e, &sample).1 == 0)
}

/// The message strip: the tab's one message (green or red) with its ×, cut to one line
/// (whole on hover); an empty line of the same height when there is none.
pub fn notice_ui(ui: &mut Ui, t: &Texts, notice: Option<&Notice>, actions: &mut Vec<UiAction>) {
    let height = ui.spacing().interact_size.y;
    ui.allocate_ui_with_layout(
        egui::vec2(ui.available_width(), height),
        egui::Layout::left_to_right(egui::Align::Center),
        |ui| {
            ui.set_min_height(height);
            let Some(notice) = notice else {
                return;
            };
            if ui.small_button("×").on_hover_text(t.dismiss).clicked() {
                actions.push(UiAction::DismissNotice);
            }
            let color = if notice.ok { OK_COLOR } else { ERROR_COLOR };
            let mark = if notice.ok { "✔" } else { "!" };
            let text = format!("{mark} {}", notice.text);
            ui.add(egui::Label::new(RichText::new(&text).color(color)).truncate())
                .on_hover_text(text);
        },
    );
}
