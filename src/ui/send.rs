//! The send panel: a multi-line input in text or hex, validated live (the bad position is
//! named before anything is sent), encoding, escapes, line ending, checksum, history, and
//! in server mode a target picker (selected clients or all).

use egui::{RichText, TextEdit, Ui};

use crate::codec::checksum::Checksum;
use crate::codec::escape::LineEnding;
use crate::codec::hex;
use crate::codec::text::TextEncoding;
use crate::engine::SendTarget;

use super::SockscopeApp;
use super::connection::{ERROR_COLOR, OK_COLOR};
use super::settings::Mode;

/// Most entries kept in the send history.
const HISTORY: usize = 50;

/// Whom a server-mode send goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TargetChoice {
    /// Every connected client.
    #[default]
    All,
    /// The clients ticked in the clients list.
    Selected,
}

/// State of the send panel.
#[derive(Debug, Default)]
pub struct SendState {
    /// The text being typed.
    pub input: String,
    /// Server / UDP target.
    pub target: TargetChoice,
    /// Position in the history while browsing it with Ctrl+Up/Down.
    pub history_pos: Option<usize>,
    /// Result of the last send, in words.
    pub feedback: Option<(bool, String)>,
    /// Sends made from the compose box (`{counter}` of the next one is this + 1).
    pub counter: u64,
}

/// The bytes the next send makes from the compose box (variables expanded with the
/// next counter value; data, checksum of the data, line ending), or the problem in words.
pub fn build_payload(app: &SockscopeApp) -> Result<Vec<u8>, String> {
    let spec = super::automation::compose_spec(app);
    match spec.compile() {
        Ok(template) => Ok(template.render(app.send.counter + 1)),
        Err(error) => Err(super::automation::template_error_text(
            app.settings.lang,
            &error,
        )),
    }
}

/// Sends the current input to the chosen target and records it in the history.
pub fn send_now(app: &mut SockscopeApp) {
    let t = app.texts();
    let payload = match build_payload(app) {
        Ok(p) => p,
        Err(message) => {
            app.send.feedback = Some((false, message));
            return;
        }
    };
    let Some(session) = app.session.clone().filter(|_| app.running()) else {
        app.send.feedback = Some((false, t.nothing_to_send.to_string()));
        return;
    };
    let selected = app.selected_clients();
    if app.settings.mode != Mode::TcpClient
        && app.send.target == TargetChoice::Selected
        && selected.is_empty()
    {
        app.send.feedback = Some((false, t.none_selected.to_string()));
        return;
    }
    let targets: Vec<SendTarget> = match (app.settings.mode, app.send.target) {
        (Mode::TcpClient, _) | (Mode::Udp, TargetChoice::All) => vec![SendTarget::Default],
        (Mode::TcpServer, TargetChoice::All) => vec![SendTarget::All],
        (Mode::TcpServer, TargetChoice::Selected) => vec![SendTarget::Conns(
            selected.iter().filter_map(|c| c.conn).collect(),
        )],
        // Each ticked UDP peer gets its own datagram.
        (Mode::Udp, TargetChoice::Selected) => {
            selected.iter().map(|c| SendTarget::Peer(c.peer)).collect()
        }
    };
    let len = payload.len();
    let mut queued = 0;
    let mut failure = None;
    for target in targets {
        match session.send(target, payload.clone()) {
            Ok(n) => queued += n,
            Err(e) => failure = Some(super::errors::error_text(app.settings.lang, &e)),
        }
    }
    app.send.feedback = Some(match failure {
        Some(message) => (false, message),
        None => {
            app.send.counter += 1;
            (true, format!("{len} B → {queued}"))
        }
    });
    remember(app);
}

fn remember(app: &mut SockscopeApp) {
    let entry = app.send.input.clone();
    if entry.is_empty() {
        return;
    }
    let history = &mut app.settings.history;
    history.retain(|h| h != &entry);
    history.push(entry);
    if history.len() > HISTORY {
        let excess = history.len() - HISTORY;
        history.drain(..excess);
    }
    app.send.history_pos = None;
}

/// Draws the send panel.
pub fn send_ui(ui: &mut Ui, app: &mut SockscopeApp) {
    let t = app.texts();
    ui.add_space(2.0);
    ui.horizontal_wrapped(|ui| {
        ui.strong(t.send);
        ui.separator();
        ui.selectable_value(&mut app.settings.send_hex, false, t.send_text);
        ui.selectable_value(&mut app.settings.send_hex, true, t.send_hex);
        ui.separator();
        if !app.settings.send_hex {
            let label = ui.label(t.send_encoding);
            egui::ComboBox::from_id_salt("send_encoding")
                .selected_text(app.settings.send_encoding.clone())
                .show_ui(ui, |ui| {
                    for enc in TextEncoding::ALL {
                        ui.selectable_value(
                            &mut app.settings.send_encoding,
                            enc.name().to_string(),
                            enc.name(),
                        );
                    }
                })
                .response
                .labelled_by(label.id);
            ui.checkbox(&mut app.settings.escapes, t.escapes);
        }
        {
            let label = ui.label(t.line_ending);
            egui::ComboBox::from_id_salt("line_ending")
                .selected_text(app.settings.line_ending.clone())
                .show_ui(ui, |ui| {
                    for le in LineEnding::ALL {
                        ui.selectable_value(
                            &mut app.settings.line_ending,
                            le.name().to_string(),
                            le.name(),
                        );
                    }
                })
                .response
                .labelled_by(label.id);
        }
        let label = ui.label(t.checksum);
        egui::ComboBox::from_id_salt("checksum")
            .selected_text(app.settings.checksum.clone())
            .show_ui(ui, |ui| {
                for c in Checksum::ALL {
                    ui.selectable_value(&mut app.settings.checksum, c.name().to_string(), c.name());
                }
            })
            .response
            .labelled_by(label.id);
        // Always present (disabled when empty) so the row does not shift after a send.
        let label = ui.label(t.history);
        let mut picked = None;
        ui.add_enabled_ui(!app.settings.history.is_empty(), |ui| {
            egui::ComboBox::from_id_salt("history")
                .selected_text(app.settings.history.len().to_string())
                .width(50.0)
                .show_ui(ui, |ui| {
                    for (i, entry) in app.settings.history.iter().enumerate().rev() {
                        let shown: String = entry.chars().take(60).collect();
                        if ui.selectable_label(false, shown).clicked() {
                            picked = Some(i);
                        }
                    }
                })
                .response
                .labelled_by(label.id);
        });
        if let Some(i) = picked {
            app.send.input = app.settings.history[i].clone();
        }
        if app.settings.mode != Mode::TcpClient {
            ui.separator();
            ui.label(t.target);
            let all_text = if app.settings.mode == Mode::Udp {
                t.target_peer
            } else {
                t.target_all
            };
            ui.selectable_value(&mut app.send.target, TargetChoice::All, all_text);
            ui.selectable_value(
                &mut app.send.target,
                TargetChoice::Selected,
                if app.settings.mode == Mode::Udp {
                    t.target_selected_peers
                } else {
                    t.target_selected
                },
            );
        }
    });

    // Keys are taken before the text box sees them, so Ctrl+Enter does not add a newline.
    let (send_key, up, down) = ui.input_mut(|i| {
        (
            i.consume_key(egui::Modifiers::COMMAND, egui::Key::Enter),
            i.consume_key(egui::Modifiers::COMMAND, egui::Key::ArrowUp),
            i.consume_key(egui::Modifiers::COMMAND, egui::Key::ArrowDown),
        )
    });
    if up || down {
        browse_history(app, up);
    }

    let preview = build_payload(app);
    ui.horizontal(|ui| {
        let label = ui.label(t.send_input);
        let width = (ui.available_width() - 90.0).max(100.0);
        ui.add(
            TextEdit::multiline(&mut app.send.input)
                .desired_rows(3)
                .desired_width(width)
                .font(egui::TextStyle::Monospace)
                .hint_text(if app.settings.send_hex {
                    "48 65 6C 6C 6F"
                } else {
                    "你好 hello\\r\\n"
                }),
        )
        .labelled_by(label.id);
        let button = ui.add_enabled(
            preview.is_ok(),
            egui::Button::new(RichText::new(t.send_button).strong())
                .min_size(egui::vec2(70.0, 40.0)),
        );
        if button.clicked() || (send_key && preview.is_ok()) {
            send_now(app);
        }
    });
    ui.horizontal_wrapped(|ui| {
        match &preview {
            Ok(bytes) => {
                let mut shown = String::new();
                hex::format_spaced(&bytes[..bytes.len().min(48)], &mut shown);
                if bytes.len() > 48 {
                    shown.push_str(" …");
                }
                ui.label(
                    RichText::new(format!("{} {}: {shown}", bytes.len(), t.hex_ok))
                        .monospace()
                        .color(egui::Color32::GRAY),
                );
            }
            Err(message) => {
                ui.label(RichText::new(format!("! {message}")).color(ERROR_COLOR));
            }
        }
        if let Some((ok, message)) = &app.send.feedback {
            ui.separator();
            ui.label(RichText::new(message).color(if *ok { OK_COLOR } else { ERROR_COLOR }));
        }
        ui.separator();
        ui.label(
            RichText::new(t.send_hint)
                .small()
                .color(egui::Color32::GRAY),
        );
    });
    super::automation::compose_automation_ui(ui, app);
}

fn browse_history(app: &mut SockscopeApp, older: bool) {
    let len = app.settings.history.len();
    if len == 0 {
        return;
    }
    let pos = match (app.send.history_pos, older) {
        (None, true) => len - 1,
        (None, false) => return,
        (Some(p), true) => p.saturating_sub(1),
        (Some(p), false) if p + 1 >= len => {
            app.send.history_pos = None;
            app.send.input.clear();
            return;
        }
        (Some(p), false) => p + 1,
    };
    app.send.history_pos = Some(pos);
    app.send.input = app.settings.history[pos].clone();
}
