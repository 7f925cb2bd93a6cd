//! The status bar: RX/TX bytes and messages, current rates, records shown vs dropped from
//! the view, decode errors in the current encoding, UDP drops and the last error.

use egui::{RichText, Ui};

use crate::session::stats::human_bytes;

use super::SockscopeApp;
use super::connection::ERROR_COLOR;
use super::receive::{RX_COLOR, TX_COLOR};

/// Draws the status bar.
pub fn status_ui(ui: &mut Ui, app: &mut SockscopeApp) {
    let t = app.texts();
    let total = app.store.stats.total;
    let rates = app.store.stats.rates();
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
            app.store.len(),
            t.dropped_from_view,
            app.store.evicted_records(),
            human_bytes(app.store.evicted_bytes() as f64)
        ));
        ui.separator();
        let errors = app.store.decode_errors();
        let text = format!(
            "{} ({}): {errors}",
            t.decode_errors,
            app.store.encoding().name()
        );
        if errors > 0 {
            ui.label(RichText::new(text).color(ERROR_COLOR));
        } else {
            ui.label(text);
        }
        if app.udp_dropped > 0 {
            ui.separator();
            ui.label(
                RichText::new(format!("{}: {}", t.udp_dropped, app.udp_dropped)).color(ERROR_COLOR),
            );
        }
        if let Some(error) = app.last_error.clone() {
            ui.separator();
            ui.label(RichText::new(format!("{}: {error}", t.error)).color(ERROR_COLOR));
            if ui.small_button("x").clicked() {
                app.last_error = None;
            }
        }
    });
}
