//! Where a tab's panels sit: connection and log on top, status and compose at the bottom,
//! clients / quick commands / auto-reply on the right, the receive view in the middle.
//! Each panel gets only its own state; what they ask for is applied once they are drawn.

use crate::lang::Lang;

use super::action::UiAction;
use super::settings::Mode;
use super::tab::SessionTab;
use super::{automation, clients, connection, log, receive, send, status};

/// Draws one tab's panels and applies what they asked for.
pub fn tab_ui(ui: &mut egui::Ui, lang: Lang, tab: &mut SessionTab, budget: status::ViewBudget) {
    let t = lang.texts();
    let mut actions = Vec::new();
    let running = tab.running();
    let uid = tab.uid;
    egui::Panel::top("connection").show(ui, |ui| {
        ui.push_id(uid, |ui| {
            let groups = match &tab.session {
                Some(session) if tab.settings.connection.mode == Mode::Udp => {
                    session.multicast_groups()
                }
                _ => Vec::new(),
            };
            let facts = connection::SessionFacts {
                status: &tab.status,
                running,
                groups: &groups,
                tls: &tab.tls,
            };
            connection::connection_ui(ui, lang, &mut tab.settings.connection, facts, &mut actions);
            let row = log::LogRowState {
                recording: tab.recording(),
                dialog_open: tab.files.dialog_open(),
                busy: tab.files.busy(),
            };
            log::log_ui(ui, t, &mut tab.settings.log, &tab.log, row, &mut actions);
        });
    });
    egui::Panel::bottom("status").show(ui, |ui| {
        let facts = status::StatusFacts {
            udp_dropped: tab.udp_dropped,
            budget,
            filter_shown: tab.receive.filtered_count(),
            losses: tab.losses,
            rtt: &tab.rtt,
        };
        status::status_ui(ui, t, &tab.store, facts, &mut actions);
    });
    // One line of fixed height for the tab's one message: messages never move controls.
    egui::Panel::bottom("notice")
        .resizable(false)
        .show_separator_line(false)
        .show(ui, |ui| {
            status::notice_ui(ui, t, tab.notice.as_ref(), &mut actions)
        });
    egui::Panel::bottom("send")
        .resizable(true)
        .default_size(150.0)
        .show(ui, |ui| {
            ui.push_id(uid, |ui| {
                let target = tab.target();
                let cx = send::ComposeContext {
                    connection: &mut tab.settings.connection,
                    clients: &mut tab.clients,
                    target,
                    last_sender: tab.last_sender,
                    view_encoding: tab.settings.view.encoding,
                };
                send::compose_ui(
                    ui,
                    lang,
                    &mut tab.settings.compose,
                    &mut tab.compose,
                    cx,
                    &mut actions,
                );
                automation::compose_automation_ui(
                    ui,
                    lang,
                    &mut tab.settings.compose,
                    &tab.automation,
                    tab.files.dialog_open(),
                    &mut actions,
                );
            });
        });
    // At most 40% of the window (300 px at least): no tab's content (a plot's controls,
    // a long label) can widen it over the receive view.
    let side_max = (ui.available_width() * 0.4).max(300.0);
    egui::Panel::right("side")
        .resizable(true)
        .default_size(340.0)
        .max_size(side_max)
        .show(ui, |ui| {
            ui.push_id(uid, |ui| side_ui(ui, lang, tab, &mut actions))
        });
    egui::CentralPanel::default().show(ui, |ui| {
        ui.push_id(uid, |ui| {
            receive::receive_ui(
                ui,
                lang,
                &mut tab.receive,
                &tab.settings.view,
                &tab.store,
                &mut actions,
            );
        });
    });
    tab.apply(lang, actions);
}

/// The right-hand panel: clients (server and UDP modes), quick commands, auto-reply.
fn side_ui(ui: &mut egui::Ui, lang: Lang, tab: &mut SessionTab, actions: &mut Vec<UiAction>) {
    let t = lang.texts();
    // Editors wrap inside the panel's width instead of widening the panel and moving
    // every control under the pointer.
    ui.set_max_width(ui.available_width());
    let mode = tab.settings.connection.mode;
    let has_clients = mode != Mode::TcpClient;
    let state = &mut tab.automation;
    if !has_clients && state.tab == automation::RightTab::Clients {
        state.tab = automation::RightTab::Commands;
    }
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        if has_clients {
            let title = if mode == Mode::Udp {
                t.peers
            } else {
                t.clients
            };
            ui.selectable_value(
                &mut state.tab,
                automation::RightTab::Clients,
                format!("{title} ({})", tab.clients.len()),
            );
        }
        ui.selectable_value(
            &mut state.tab,
            automation::RightTab::Commands,
            t.tab_commands,
        );
        let auto = if state.responder.is_some() {
            format!("{} ●", t.tab_auto_reply)
        } else {
            t.tab_auto_reply.to_string()
        };
        ui.selectable_value(&mut state.tab, automation::RightTab::AutoReply, auto);
        ui.selectable_value(&mut state.tab, automation::RightTab::Frames, t.tab_frames);
        ui.selectable_value(&mut state.tab, automation::RightTab::Plot, t.tab_plot);
    });
    ui.separator();
    match state.tab {
        automation::RightTab::Clients => clients::clients_ui(
            ui,
            t,
            mode == Mode::Udp,
            &mut tab.clients,
            &tab.store.stats,
            actions,
        ),
        automation::RightTab::Commands => automation::commands_ui(
            ui,
            lang,
            &mut tab.settings.automation,
            &mut tab.automation,
            &tab.rtt,
            tab.files.dialog_open(),
            actions,
        ),
        automation::RightTab::Frames => super::frames::frames_ui(
            ui,
            lang,
            &mut tab.frames,
            &mut tab.settings.frames,
            &tab.store,
            &tab.rtt,
            tab.files.dialog_open(),
            actions,
        ),
        automation::RightTab::Plot => super::plot::plot_ui(ui, lang, &mut tab.plot, &tab.store),
        automation::RightTab::AutoReply => {
            let hits = state
                .responder
                .as_ref()
                .map(|r| r.hits())
                .unwrap_or_default();
            let view = automation::AutoReplyView {
                on: state.responder.is_some(),
                hits: &hits,
                error: state.rule_error.as_deref(),
            };
            automation::auto_reply_ui(
                ui,
                t,
                &mut tab.settings.automation.auto_reply,
                view,
                actions,
            );
        }
    }
}
