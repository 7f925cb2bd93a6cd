//! The connection panel: mode, addresses, start/stop, a status line in words, and the
//! engine's options under "Advanced". Invalid fields are flagged in red beside the field
//! and the start button stays disabled until they are fixed.

use egui::{Color32, RichText, TextEdit, Ui};

use crate::engine::{GroupSpec, GroupState, GroupStatus};
use crate::lang::Lang;

use super::action::UiAction;
use super::interfaces::{PickerKind, picker_ui};
use super::settings::{ConnectionSettings, Field, Mode};
use super::tab::Status;
use super::tls::{TlsFacts, tls_advanced_ui, tls_line_ui};
use super::widgets::{ERROR_COLOR, OK_COLOR, keep_together, panel_menu};

/// What the connection panel shows of the session besides its settings.
#[derive(Clone, Copy, Debug)]
pub struct SessionFacts<'a> {
    /// What the session is doing.
    pub status: &'a Status,
    /// True while it runs.
    pub running: bool,
    /// The running UDP session's multicast groups and where each stands (empty
    /// otherwise).
    pub groups: &'a [GroupState],
    /// What its TLS told us.
    pub tls: &'a TlsFacts,
}

/// Draws the connection panel of one tab.
pub fn connection_ui(
    ui: &mut Ui,
    lang: Lang,
    settings: &mut ConnectionSettings,
    facts: SessionFacts<'_>,
    actions: &mut Vec<UiAction>,
) {
    let SessionFacts {
        status,
        running,
        tls,
        ..
    } = facts;
    let t = lang.texts();
    let errors = settings.field_errors(t);
    let error_for = |field: Field| errors.iter().find(|(f, _)| *f == field).map(|(_, m)| *m);

    ui.add_space(2.0);
    // One row that never wraps: a long status is cut (whole on hover) instead of pushing
    // the panels below down; field problems show on their field (red, reason on hover).
    ui.horizontal(|ui| {
        ui.label(t.mode);
        ui.add_enabled_ui(!running, |ui| {
            for mode in Mode::ALL {
                ui.selectable_value(&mut settings.mode, mode, mode.label(t))
                    .on_disabled_hover_text(t.stop_first);
            }
        });
        ui.separator();

        let (host_text, port_text, host_tip) = match settings.mode {
            Mode::TcpClient => (t.remote_host, t.remote_port, t.remote_host_tip),
            _ => (t.local_host, t.local_port, t.local_host_tip),
        };
        let mode = settings.mode;
        let (host, port) = settings.endpoint_fields();
        let field = |ui: &mut Ui, label: &str, value: &mut String, width: f32, which, tip| {
            keep_together(ui, |ui| {
                let l = ui.label(label);
                let mut edit = TextEdit::singleline(value).desired_width(width);
                if let Some(message) = error_for(which) {
                    edit = edit.text_color(ERROR_COLOR);
                    let r = ui.add_enabled(!running, edit).labelled_by(l.id);
                    r.on_hover_text(format!("! {message}"))
                        .on_disabled_hover_text(t.stop_first);
                } else {
                    ui.add_enabled(!running, edit)
                        .labelled_by(l.id)
                        .on_hover_text(tip)
                        .on_disabled_hover_text(t.stop_first);
                }
            });
        };
        field(ui, host_text, host, 120.0, Field::Host, host_tip);
        if mode != Mode::TcpClient {
            ui.add_enabled_ui(!running, |ui| {
                picker_ui(ui, t, lang, "bind", host, PickerKind::Bind, &[]);
            });
        }
        let port_tip = if mode == Mode::TcpClient {
            t.remote_port_tip
        } else {
            t.local_port_tip
        };
        field(ui, port_text, port, 50.0, Field::Port, port_tip);
        if let Some(switch) = settings.tls.switch(mode) {
            ui.add_enabled(!running, egui::Checkbox::new(switch, t.tls))
                .on_hover_text(t.tls_tip)
                .on_disabled_hover_text(t.stop_first);
        }

        let (start_text, stop_text) = match settings.mode {
            Mode::TcpClient => (t.connect, t.disconnect),
            Mode::TcpServer => (t.listen, t.stop),
            Mode::Udp => (t.open, t.close),
        };
        if running {
            if ui.button(RichText::new(stop_text).strong()).clicked() {
                actions.push(UiAction::Stop);
            }
        } else {
            let first_error = errors
                .first()
                .map(|(_, m)| format!("{}: {m}", t.fix_fields_first));
            let response = ui.add_enabled(
                errors.is_empty(),
                egui::Button::new(RichText::new(start_text).strong()),
            );
            let response = match &first_error {
                Some(reason) => response.on_disabled_hover_text(reason),
                None => response,
            };
            if response.clicked() {
                actions.push(UiAction::Start);
            }
        }
        panel_menu(ui, format!("{} …", t.advanced), |ui| {
            advanced_ui(ui, lang, settings, facts, &errors, actions)
        })
        .on_hover_text(t.advanced_tip);
        ui.separator();
        let (text, color) = match errors.first() {
            Some((_, message)) if !running => (format!("! {message}"), ERROR_COLOR),
            _ => status_text(lang, status),
        };
        ui.add(egui::Label::new(RichText::new(&text).color(color).strong()).truncate())
            .on_hover_text(text);
    });
    // A line of its own while TLS is ticked, so the row above never moves.
    if settings.tls.on(settings.mode) {
        tls_line_ui(ui, lang, settings.mode, &settings.tls, tls, running);
    }
}

fn advanced_ui(
    ui: &mut Ui,
    lang: Lang,
    settings: &mut ConnectionSettings,
    facts: SessionFacts<'_>,
    errors: &[(Field, &'static str)],
    actions: &mut Vec<UiAction>,
) {
    let SessionFacts {
        running, groups, ..
    } = facts;
    let t = lang.texts();
    let error_label = |ui: &mut Ui, which: Field| {
        if let Some((_, message)) = errors.iter().find(|(f, _)| *f == which) {
            ui.label(RichText::new(format!("! {message}")).color(ERROR_COLOR));
        }
    };
    let field = |ui: &mut Ui, label: &str, value: &mut String, which: Field, tip: &str| {
        ui.horizontal(|ui| {
            let l = ui.label(label);
            let r = ui
                .add(TextEdit::singleline(value).desired_width(70.0))
                .labelled_by(l.id);
            if !tip.is_empty() {
                r.on_hover_text(tip);
            }
            error_label(ui, which);
        });
    };
    ui.add_enabled_ui(!running, |ui| {
        ui.vertical(|ui| {
            if running {
                ui.label(RichText::new(t.stop_first).color(egui::Color32::GRAY));
            }
            match settings.mode {
                Mode::TcpClient => {
                    field(
                        ui,
                        t.connect_timeout,
                        &mut settings.connect_timeout_ms,
                        Field::Timeout,
                        "",
                    );
                    ui.horizontal(|ui| {
                        let l = ui.label(t.client_local_host);
                        ui.add(
                            TextEdit::singleline(&mut settings.client_local_host)
                                .desired_width(120.0)
                                .hint_text("0.0.0.0"),
                        )
                        .labelled_by(l.id)
                        .on_hover_text(t.client_local_host_tip);
                        picker_ui(
                            ui,
                            t,
                            lang,
                            "client-local",
                            &mut settings.client_local_host,
                            PickerKind::Bind,
                            &[],
                        );
                        error_label(ui, Field::LocalHost);
                    });
                    field(
                        ui,
                        t.client_local_port,
                        &mut settings.client_local_port,
                        Field::LocalPort,
                        t.client_local_port_tip,
                    );
                    ui.checkbox(&mut settings.reconnect, t.reconnect)
                        .on_hover_text(t.reconnect_tip);
                    if settings.reconnect {
                        ui.indent("reconnect", |ui| {
                            field(
                                ui,
                                t.reconnect_delay,
                                &mut settings.reconnect_delay_s,
                                Field::ReconnectDelay,
                                t.reconnect_tip,
                            );
                            field(
                                ui,
                                t.reconnect_max,
                                &mut settings.reconnect_max_s,
                                Field::ReconnectMax,
                                t.reconnect_tip,
                            );
                        });
                    }
                }
                Mode::TcpServer => {
                    field(ui, t.backlog, &mut settings.backlog, Field::Backlog, "");
                    field(
                        ui,
                        t.max_clients,
                        &mut settings.max_clients,
                        Field::MaxClients,
                        "",
                    );
                }
                Mode::Udp => field(
                    ui,
                    t.recv_buffer,
                    &mut settings.udp_buffer_kib,
                    Field::Buffer,
                    "",
                ),
            }
            if settings.mode != Mode::Udp {
                field(
                    ui,
                    t.keepalive,
                    &mut settings.keepalive_s,
                    Field::Keepalive,
                    "",
                );
                if settings.keepalive_s.trim() != "0" {
                    ui.indent("keepalive", |ui| {
                        field(
                            ui,
                            t.keepalive_interval,
                            &mut settings.keepalive_interval_s,
                            Field::KeepaliveInterval,
                            "",
                        );
                        field(
                            ui,
                            t.keepalive_count,
                            &mut settings.keepalive_count,
                            Field::KeepaliveCount,
                            t.keepalive_count_tip,
                        );
                    });
                }
            }
            if settings.mode != Mode::TcpClient {
                ui.checkbox(&mut settings.ipv6_only, t.ipv6_only)
                    .on_hover_text(t.ipv6_only_tip);
            }
            if settings.mode != Mode::Udp {
                ui.separator();
                let mode = settings.mode;
                tls_advanced_ui(
                    ui,
                    lang,
                    mode,
                    &mut settings.tls,
                    errors,
                    facts.tls,
                    actions,
                );
            }
        });
    });
    if settings.mode == Mode::Udp {
        // The sending options and the groups can be changed while the socket is open.
        ui.separator();
        ui.label(RichText::new(t.multicast).strong());
        field(
            ui,
            t.multicast_ttl,
            &mut settings.multicast_ttl,
            Field::Ttl,
            "",
        );
        ui.checkbox(&mut settings.multicast_loop, t.multicast_loop);
        ui.horizontal(|ui| {
            let l = ui.label(t.multicast_if);
            ui.add(TextEdit::singleline(&mut settings.multicast_if).desired_width(120.0))
                .labelled_by(l.id)
                .on_hover_text(t.multicast_if_tip);
            picker_ui(
                ui,
                t,
                lang,
                "multicast-if",
                &mut settings.multicast_if,
                PickerKind::Interface,
                &[],
            );
            if running {
                let ttl_ok = !errors.iter().any(|(f, _)| *f == Field::Ttl);
                if ui
                    .add_enabled(ttl_ok, egui::Button::new(t.apply_now))
                    .on_hover_text(t.apply_now_tip)
                    .clicked()
                {
                    actions.push(UiAction::ApplyMulticastSending);
                }
            }
        });
        groups_ui(ui, lang, settings, running, groups, actions);
    }
}

/// The multicast groups: the ones of the settings (joined at each start) with where each
/// stands in the running session, and a row to join one more.
fn groups_ui(
    ui: &mut Ui,
    lang: Lang,
    settings: &mut ConnectionSettings,
    running: bool,
    groups: &[GroupState],
    actions: &mut Vec<UiAction>,
) {
    let t = lang.texts();
    ui.horizontal(|ui| {
        let l = ui.label(t.group);
        ui.add(
            TextEdit::singleline(&mut settings.group_input)
                .desired_width(110.0)
                .hint_text("239.1.2.3"),
        )
        .labelled_by(l.id)
        .on_hover_text(t.group_tip);
        let l = ui.label(t.group_interface);
        ui.add(
            TextEdit::singleline(&mut settings.group_interface)
                .desired_width(90.0)
                .hint_text("127.0.0.1"),
        )
        .labelled_by(l.id)
        .on_hover_text(t.group_interface_tip);
        picker_ui(
            ui,
            t,
            lang,
            "group-if",
            &mut settings.group_interface,
            PickerKind::Interface,
            &[],
        );
        let typed = group_text(&settings.group_input, &settings.group_interface);
        let parsed = GroupSpec::parse(&typed);
        let button = ui.add_enabled(
            !settings.group_input.trim().is_empty(),
            egui::Button::new(t.join),
        );
        if button.clicked() {
            actions.push(UiAction::JoinGroup(typed));
        }
        if let (false, Err(e)) = (settings.group_input.trim().is_empty(), &parsed) {
            ui.label(
                RichText::new(format!("! {}", super::errors::error_text(lang, e)))
                    .color(ERROR_COLOR),
            );
        }
    });
    if settings.udp_groups.is_empty() {
        ui.label(RichText::new(t.no_groups).color(Color32::GRAY));
        return;
    }
    egui::Grid::new("groups").striped(true).show(ui, |ui| {
        for text in settings.udp_groups.clone() {
            let spec = GroupSpec::parse(&text).ok();
            let state = spec
                .as_ref()
                .and_then(|spec| groups.iter().find(|g| &g.spec == spec));
            ui.label(RichText::new(&text).monospace());
            let (words, color, tip) = match state.map(|g| &g.status) {
                Some(GroupStatus::Joining) => (t.group_joining, Color32::GRAY, String::new()),
                Some(GroupStatus::Joined) => (t.group_joined, OK_COLOR, String::new()),
                Some(GroupStatus::Failed(e)) => (
                    t.group_failed,
                    ERROR_COLOR,
                    super::errors::error_text(lang, e),
                ),
                Some(GroupStatus::Left) | None => (t.group_left, Color32::GRAY, String::new()),
            };
            let shown = if tip.is_empty() {
                words.to_string()
            } else {
                format!("{words}: {tip}")
            };
            ui.add(egui::Label::new(RichText::new(shown).color(color)).truncate());
            match state {
                Some(g) if g.received > 0 => {
                    ui.label(format!("{} {}", g.received, t.group_received));
                }
                _ => {
                    ui.label("");
                }
            }
            let joined = state.is_some_and(|g| g.status == GroupStatus::Joined);
            if running && joined {
                if ui.small_button(t.leave).clicked() {
                    actions.push(UiAction::LeaveGroup(text.clone()));
                }
            } else if running && ui.small_button(t.join).clicked() {
                actions.push(UiAction::JoinGroup(text.clone()));
            } else if !running {
                ui.label("");
            }
            if ui.small_button(t.remove).clicked() {
                actions.push(UiAction::RemoveGroup(text.clone()));
            }
            ui.end_row();
        }
    });
}

/// `GROUP@INTERFACE` from the two fields (the group field may carry `@` itself).
pub fn group_text(group: &str, interface: &str) -> String {
    let (group, interface) = (group.trim(), interface.trim());
    if interface.is_empty() || group.contains('@') {
        group.to_string()
    } else {
        format!("{group}@{interface}")
    }
}

/// The status line: what the session is doing, in words, and its colour.
pub fn status_text(lang: Lang, status: &Status) -> (String, Color32) {
    let t = lang.texts();
    let gray = Color32::GRAY;
    match status {
        Status::Idle => (t.status_idle.to_string(), gray),
        Status::Connecting(target) => (format!("{} {target}…", t.status_connecting), gray),
        Status::Connected { local, peer } => (
            format!("{}: {local} → {peer}", t.status_connected),
            OK_COLOR,
        ),
        Status::Listening(addr) => {
            let shown = if addr.ip().is_unspecified() {
                let loopback = if addr.is_ipv4() { "127.0.0.1" } else { "::1" };
                format!(
                    "{} {addr} — {}: nc {loopback} {}",
                    t.status_listening,
                    t.try_connect,
                    addr.port()
                )
            } else if addr.ip().is_loopback() {
                format!("{} {addr} — {}", t.status_listening, t.loopback_only)
            } else {
                format!("{} {addr}", t.status_listening)
            };
            (shown, OK_COLOR)
        }
        Status::Bound(addr) if addr.ip().is_loopback() => (
            format!("{} {addr} — {}", t.status_bound, t.loopback_only),
            OK_COLOR,
        ),
        Status::Bound(addr) => (format!("{} {addr}", t.status_bound), OK_COLOR),
        Status::Reconnecting { attempt, delay } => (
            super::errors::notice_text(
                lang,
                &crate::engine::Notice::Reconnecting {
                    attempt: *attempt,
                    delay: *delay,
                },
            ),
            Color32::from_rgb(0xD0, 0x90, 0x20),
        ),
        Status::Stopping => (t.status_stopping.to_string(), gray),
        Status::Stopped => (t.status_stopped.to_string(), gray),
        Status::Failed(message) => (format!("{}: {message}", t.error), ERROR_COLOR),
    }
}
