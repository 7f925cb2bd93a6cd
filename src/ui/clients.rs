//! The clients list: connected TCP clients in server mode, peers heard from in UDP mode.
//! Address, connected since, bytes in/out, last activity; tick to choose send targets;
//! kick a TCP client. Virtualised, so 10,000 clients cost what the visible rows cost.

use std::time::SystemTime;

use egui::{RichText, ScrollArea, Ui};

use crate::session::stats::human_bytes;
use crate::session::time::format_time;

use super::{ClientKey, SockscopeApp};

/// Draws the clients (or UDP peers) list.
pub fn clients_ui(ui: &mut Ui, app: &mut SockscopeApp) {
    let t = app.texts();
    ui.add_space(4.0);
    // The tab above already says how many there are.
    ui.horizontal(|ui| {
        if ui.small_button(t.select_all).clicked() {
            app.clients.values_mut().for_each(|c| c.selected = true);
        }
        if ui.small_button(t.select_none).clicked() {
            app.clients.values_mut().for_each(|c| c.selected = false);
        }
    });
    ui.separator();
    if app.clients.is_empty() {
        ui.label(RichText::new(t.no_clients).color(egui::Color32::GRAY));
        return;
    }
    ui.label(
        RichText::new(format!(
            "{} · {} · {}/{} · {}",
            t.address, t.since, t.bytes_in, t.bytes_out, t.last_activity
        ))
        .small()
        .color(egui::Color32::GRAY),
    );
    let keys: Vec<ClientKey> = app.clients.keys().copied().collect();
    let row_height = ui.spacing().interact_size.y * 2.0 + ui.spacing().item_spacing.y;
    let mut kick = None;
    ScrollArea::vertical()
        .id_salt("clients_scroll")
        .auto_shrink([false, false])
        .show_rows(ui, row_height, keys.len(), |ui, range| {
            for key in &keys[range] {
                let stats = app
                    .clients
                    .get(key)
                    .and_then(|c| app.store.stats.per_peer.get(&c.peer).copied());
                let Some(client) = app.clients.get_mut(key) else {
                    continue;
                };
                ui.horizontal(|ui| {
                    ui.checkbox(&mut client.selected, client.peer.to_string());
                    if let Some(conn) = client.conn {
                        if ui.small_button(t.kick).clicked() {
                            kick = Some(conn);
                        }
                    }
                });
                let (rx, tx, last) = stats.map_or((0, 0, client.since), |s| {
                    (s.counters.rx_bytes, s.counters.tx_bytes, s.last_activity)
                });
                ui.label(
                    RichText::new(format!(
                        "   {} · ↓{} ↑{} · {}",
                        format_time(client.since),
                        human_bytes(rx as f64),
                        human_bytes(tx as f64),
                        ago(last)
                    ))
                    .small()
                    .monospace(),
                );
            }
        });
    if let Some(conn) = kick {
        if let Some(session) = &app.session {
            if let Err(error) = session.kick(conn) {
                app.last_error = Some(super::errors::error_text(app.settings.lang, &error));
            }
        }
    }
}

/// "3 s ago" style age of a moment.
fn ago(at: SystemTime) -> String {
    match SystemTime::now().duration_since(at) {
        Ok(d) if d.as_secs() >= 3600 => format!("{}h", d.as_secs() / 3600),
        Ok(d) if d.as_secs() >= 60 => format!("{}m", d.as_secs() / 60),
        Ok(d) => format!("{}s", d.as_secs()),
        Err(_) => "0s".into(),
    }
}
