//! The connection panel: mode, addresses, start/stop, a status line in words, and the
//! engine's options under "Advanced". Invalid fields are flagged in red beside the field
//! and the start button stays disabled until they are fixed.

use egui::{Color32, RichText, TextEdit, Ui};

use super::settings::{Field, Mode};
use super::{Lang, SockscopeApp, Status};

/// Colour for problems.
pub const ERROR_COLOR: Color32 = Color32::from_rgb(0xE0, 0x40, 0x40);
/// Colour for a running session.
pub const OK_COLOR: Color32 = Color32::from_rgb(0x30, 0xB0, 0x50);

/// Draws the connection panel.
pub fn connection_ui(ui: &mut Ui, app: &mut SockscopeApp) {
    let t = app.texts();
    let running = app.running();
    let errors = app.settings.field_errors();
    let error_for = |field: Field| errors.iter().find(|(f, _)| *f == field).map(|(_, m)| *m);

    ui.add_space(4.0);
    ui.horizontal_wrapped(|ui| {
        ui.heading("Sockscope");
        ui.separator();
        ui.label(t.mode);
        ui.add_enabled_ui(!running, |ui| {
            for (mode, text) in [
                (Mode::TcpClient, t.mode_client),
                (Mode::TcpServer, t.mode_server),
                (Mode::Udp, t.mode_udp),
            ] {
                ui.selectable_value(&mut app.settings.mode, mode, text);
            }
        });
        ui.separator();

        let (host_text, port_text) = match app.settings.mode {
            Mode::TcpClient => (t.remote_host, t.remote_port),
            _ => (t.local_host, t.local_port),
        };
        ui.add_enabled_ui(!running, |ui| {
            let (host, port) = app.settings.endpoint_fields();
            let label = ui.label(host_text);
            ui.add(TextEdit::singleline(host).desired_width(130.0))
                .labelled_by(label.id);
            let label = ui.label(port_text);
            ui.add(TextEdit::singleline(port).desired_width(55.0))
                .labelled_by(label.id);
            if app.settings.mode == Mode::Udp {
                let label = ui.label(t.udp_peer);
                ui.add(
                    TextEdit::singleline(&mut app.settings.udp_peer)
                        .desired_width(150.0)
                        .hint_text("127.0.0.1:9001"),
                )
                .labelled_by(label.id);
            }
        });

        let (start_text, stop_text) = match app.settings.mode {
            Mode::TcpClient => (t.connect, t.disconnect),
            Mode::TcpServer => (t.listen, t.stop),
            Mode::Udp => (t.open, t.close),
        };
        if running {
            if ui.button(RichText::new(stop_text).strong()).clicked() {
                app.stop_session();
            }
        } else if ui
            .add_enabled(
                errors.is_empty(),
                egui::Button::new(RichText::new(start_text).strong()),
            )
            .clicked()
        {
            app.start_session();
        }

        ui.separator();
        let lang_label = ui.label(t.language);
        egui::ComboBox::from_id_salt("language")
            .selected_text(match app.settings.lang {
                Lang::En => "English",
                Lang::Zh => "简体中文",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut app.settings.lang, Lang::En, "English");
                ui.selectable_value(&mut app.settings.lang, Lang::Zh, "简体中文");
            })
            .response
            .labelled_by(lang_label.id);
    });

    for field in [Field::Host, Field::Port, Field::Peer] {
        if let Some(message) = error_for(field) {
            let name = match field {
                Field::Host => match app.settings.mode {
                    Mode::TcpClient => t.remote_host,
                    _ => t.local_host,
                },
                Field::Port => match app.settings.mode {
                    Mode::TcpClient => t.remote_port,
                    _ => t.local_port,
                },
                _ => t.udp_peer,
            };
            ui.label(RichText::new(format!("! {name}: {message}")).color(ERROR_COLOR));
        }
    }

    ui.horizontal_wrapped(|ui| {
        let (text, color) = status_text(app);
        ui.label(RichText::new(text).color(color).strong());
    });

    super::log::log_ui(ui, app);

    egui::CollapsingHeader::new(t.advanced)
        .id_salt("advanced")
        .show(ui, |ui| advanced_ui(ui, app, &errors));
    ui.add_space(2.0);
}

fn advanced_ui(ui: &mut Ui, app: &mut SockscopeApp, errors: &[(Field, &'static str)]) {
    let t = app.texts();
    let running = app.running();
    ui.add_enabled_ui(!running, |ui| {
        ui.horizontal_wrapped(|ui| {
            let field = |ui: &mut Ui, label: &str, value: &mut String, which: Field| {
                let l = ui.label(label);
                ui.add(TextEdit::singleline(value).desired_width(70.0))
                    .labelled_by(l.id);
                if let Some((_, message)) = errors.iter().find(|(f, _)| *f == which) {
                    ui.label(RichText::new(format!("! {message}")).color(ERROR_COLOR));
                }
            };
            match app.settings.mode {
                Mode::TcpClient => field(
                    ui,
                    t.connect_timeout,
                    &mut app.settings.connect_timeout_ms,
                    Field::Timeout,
                ),
                Mode::TcpServer => {
                    field(ui, t.backlog, &mut app.settings.backlog, Field::Backlog);
                    field(
                        ui,
                        t.max_clients,
                        &mut app.settings.max_clients,
                        Field::MaxClients,
                    );
                }
                Mode::Udp => field(
                    ui,
                    t.recv_buffer,
                    &mut app.settings.udp_buffer_kib,
                    Field::Buffer,
                ),
            }
        });
    });
    ui.horizontal(|ui| {
        let l = ui.label(t.view_cap);
        let mut cap = app.settings.view_cap_mib.clamp(1, 4096) as u32;
        if ui
            .add(egui::DragValue::new(&mut cap).range(1..=4096))
            .labelled_by(l.id)
            .changed()
        {
            app.settings.view_cap_mib = cap as usize;
            let mut caps = app.store.caps();
            caps.max_bytes = app.settings.view_cap_mib.clamp(1, 4096) * 1024 * 1024;
            app.store.set_caps(caps);
        }
    });
}

/// The status line: what the session is doing, in words, and its colour.
pub fn status_text(app: &SockscopeApp) -> (String, Color32) {
    let t = app.texts();
    let gray = Color32::GRAY;
    match &app.status {
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
            } else {
                format!("{} {addr}", t.status_listening)
            };
            (shown, OK_COLOR)
        }
        Status::Bound(addr) => (format!("{} {addr}", t.status_bound), OK_COLOR),
        Status::Stopping => (t.status_stopping.to_string(), gray),
        Status::Stopped => (t.status_stopped.to_string(), gray),
        Status::Failed(message) => (format!("{}: {message}", t.error), ERROR_COLOR),
    }
}
