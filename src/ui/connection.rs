//! The connection panel: mode, addresses, start/stop, a status line in words, and the
//! engine's options under "Advanced". Invalid fields are flagged in red beside the field
//! and the start button stays disabled until they are fixed.

use egui::{Color32, RichText, TextEdit, Ui};

use super::action::UiAction;
use super::i18n::Texts;
use super::settings::{ConnectionSettings, Field, Mode};
use super::tab::Status;
use super::widgets::{ERROR_COLOR, OK_COLOR, keep_together, panel_menu};

/// Draws the connection panel of one tab.
pub fn connection_ui(
    ui: &mut Ui,
    t: &Texts,
    settings: &mut ConnectionSettings,
    status: &Status,
    running: bool,
    actions: &mut Vec<UiAction>,
) {
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
        let port_tip = if mode == Mode::TcpClient {
            t.remote_port_tip
        } else {
            t.local_port_tip
        };
        field(ui, port_text, port, 50.0, Field::Port, port_tip);

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
            advanced_ui(ui, t, settings, running, &errors)
        })
        .on_hover_text(t.advanced_tip);
        ui.separator();
        let (text, color) = match errors.first() {
            Some((_, message)) if !running => (format!("! {message}"), ERROR_COLOR),
            _ => status_text(t, status),
        };
        ui.add(egui::Label::new(RichText::new(&text).color(color).strong()).truncate())
            .on_hover_text(text);
    });
}

fn advanced_ui(
    ui: &mut Ui,
    t: &Texts,
    settings: &mut ConnectionSettings,
    running: bool,
    errors: &[(Field, &'static str)],
) {
    ui.add_enabled_ui(!running, |ui| {
        ui.vertical(|ui| {
            if running {
                ui.label(RichText::new(t.stop_first).color(egui::Color32::GRAY));
            }
            let field = |ui: &mut Ui, label: &str, value: &mut String, which: Field| {
                ui.horizontal(|ui| {
                    let l = ui.label(label);
                    ui.add(TextEdit::singleline(value).desired_width(70.0))
                        .labelled_by(l.id);
                    if let Some((_, message)) = errors.iter().find(|(f, _)| *f == which) {
                        ui.label(RichText::new(format!("! {message}")).color(ERROR_COLOR));
                    }
                });
            };
            match settings.mode {
                Mode::TcpClient => field(
                    ui,
                    t.connect_timeout,
                    &mut settings.connect_timeout_ms,
                    Field::Timeout,
                ),
                Mode::TcpServer => {
                    field(ui, t.backlog, &mut settings.backlog, Field::Backlog);
                    field(
                        ui,
                        t.max_clients,
                        &mut settings.max_clients,
                        Field::MaxClients,
                    );
                }
                Mode::Udp => field(
                    ui,
                    t.recv_buffer,
                    &mut settings.udp_buffer_kib,
                    Field::Buffer,
                ),
            }
            if settings.mode != Mode::Udp {
                field(ui, t.keepalive, &mut settings.keepalive_s, Field::Keepalive);
            }
            if settings.mode != Mode::TcpClient {
                ui.checkbox(&mut settings.ipv6_only, t.ipv6_only)
                    .on_hover_text(t.ipv6_only_tip);
            }
        });
    });
}

/// The status line: what the session is doing, in words, and its colour.
pub fn status_text(t: &Texts, status: &Status) -> (String, Color32) {
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
        Status::Stopping => (t.status_stopping.to_string(), gray),
        Status::Stopped => (t.status_stopped.to_string(), gray),
        Status::Failed(message) => (format!("{}: {message}", t.error), ERROR_COLOR),
    }
}
