//! The status bar: RX/TX bytes and messages, current rates, records shown vs dropped from
//! the view, decode errors in the current encoding, UDP drops, the view memory all tabs
//! share, and the last error.

use egui::{RichText, Ui};

use crate::session::stats::human_bytes;
use crate::session::store::Store;

use super::action::UiAction;
use super::i18n::Texts;
use super::widgets::{ERROR_COLOR, RX_COLOR, TX_COLOR};

/// Memory the views of all tabs hold, against the one budget they share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewBudget {
    /// Bytes held by every tab's view together.
    pub used: usize,
    /// The shared cap in bytes.
    pub cap: usize,
    /// How many tabs share it.
    pub tabs: usize,
}

/// Draws the status bar of one tab.
pub fn status_ui(
    ui: &mut Ui,
    t: &Texts,
    store: &Store,
    udp_dropped: u64,
    last_error: Option<&str>,
    budget: ViewBudget,
    actions: &mut Vec<UiAction>,
) {
    let total = store.stats.total;
    let rates = store.stats.rates();
    ui.horizontal_wrapped(|ui| {
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
        ui.label(format!(
            "{} {} · {} {} ({})",
            t.shown,
            store.len(),
            t.dropped_from_view,
            store.evicted_records(),
            human_bytes(store.evicted_bytes() as f64)
        ));
        ui.separator();
        ui.label(format!(
            "{} {} / {}",
            t.view_memory,
            human_bytes(budget.used as f64),
            human_bytes(budget.cap as f64),
        ))
        .on_hover_text(format!("{} ({})", t.view_memory_tip, budget.tabs));
        ui.separator();
        let errors = store.decode_errors();
        let text = format!(
            "{} ({}): {errors}",
            t.decode_errors,
            store.encoding().name()
        );
        if errors > 0 {
            ui.label(RichText::new(text).color(ERROR_COLOR));
        } else {
            ui.label(text);
        }
        if udp_dropped > 0 {
            ui.separator();
            ui.label(RichText::new(format!("{}: {udp_dropped}", t.udp_dropped)).color(ERROR_COLOR));
        }
        if let Some(error) = last_error {
            ui.separator();
            ui.label(RichText::new(format!("{}: {error}", t.error)).color(ERROR_COLOR));
            if ui.small_button("x").on_hover_text(t.dismiss).clicked() {
                actions.push(UiAction::DismissError);
            }
        }
    });
}
