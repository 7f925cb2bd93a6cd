//! The clients list: connected TCP clients in server mode, peers heard from in UDP mode.
//! Address, connected since, bytes in/out, last activity; tick to choose send targets;
//! kick a TCP client. Virtualised, so 10,000 clients cost what the visible rows cost.

use std::time::SystemTime;

use egui::{RichText, ScrollArea, Ui};

use crate::session::stats::{Stats, human_bytes};
use crate::session::time::format_time;

use super::action::UiAction;
use super::i18n::Texts;
use super::tab::{ClientKey, Clients};

/// Draws the clients (or UDP peers) list; ticks change the rows in place.
pub fn clients_ui(
    ui: &mut Ui,
    t: &Texts,
    udp: bool,
    clients: &mut Clients,
    stats: &Stats,
    actions: &mut Vec<UiAction>,
) {
    ui.add_space(4.0);
    // The tab above already says how many there are.
    ui.horizontal(|ui| {
        if ui
            .small_button(t.select_all)
            .on_hover_text(t.tick_tip)
            .clicked()
        {
            clients.values_mut().for_each(|c| c.selected = true);
        }
        if ui.small_button(t.select_none).clicked() {
            clients.values_mut().for_each(|c| c.selected = false);
        }
    });
    ui.separator();
    if clients.is_empty() {
        let empty = if udp { t.no_peers } else { t.no_clients };
        ui.label(RichText::new(empty).color(egui::Color32::GRAY));
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
    if let Some(others) = &stats.others {
        // Peers beyond the list's bound (a sweep of source ports): one summed row.
        ui.label(
            RichText::new(format!(
                "{} · ↓{} ↑{} · {}",
                t.other_peers,
                human_bytes(others.counters.rx_bytes as f64),
                human_bytes(others.counters.tx_bytes as f64),
                ago(others.last_activity)
            ))
            .small()
            .monospace(),
        )
        .on_hover_text(t.other_peers_tip);
    }
    let keys: Vec<ClientKey> = clients.keys().copied().collect();
    let row_height = ui.spacing().interact_size.y * 2.0 + ui.spacing().item_spacing.y;
    ScrollArea::vertical()
        .id_salt("clients_scroll")
        .auto_shrink([false, false])
        .show_rows(ui, row_height, keys.len(), |ui, range| {
            for key in &keys[range] {
                let Some(client) = clients.get_mut(key) else {
                    continue;
                };
                let peer_stats = stats.per_peer.get(&client.peer).copied();
                ui.horizontal(|ui| {
                    ui.checkbox(&mut client.selected, client.peer.to_string())
                        .on_hover_text(t.tick_tip);
                    if let Some(conn) = client.conn
                        && ui.small_button(t.kick).clicked()
                    {
                        actions.push(UiAction::Kick(conn));
                    }
                });
                let (rx, tx, last) = peer_stats.map_or((0, 0, client.since), |s| {
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
