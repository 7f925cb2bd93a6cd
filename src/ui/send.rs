//! The compose panel: a multi-line input in text or hex, validated live (the bad position
//! is named before anything is sent), the send template's options (the same editor the
//! quick commands use), history, and for servers and UDP a target choice.

use egui::{RichText, TextEdit, Ui};

use crate::codec::hex;
use crate::lang::Lang;

use super::action::{Sender, UiAction};
use super::errors::template_error_text;
use super::settings::{ComposeSettings, Mode};
use super::widgets::{ERROR_COLOR, OK_COLOR, keep_together, spec_options_ui};

/// Whom a server or UDP send goes to (see [`super::action::send_target`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TargetChoice {
    /// Every connected client, or the UDP default peer.
    #[default]
    All,
    /// The rows ticked in the clients list.
    Selected,
}

/// State of the compose panel that does not persist.
#[derive(Debug, Default)]
pub struct ComposeState {
    /// Server / UDP target.
    pub target: TargetChoice,
    /// Position in the history while browsing it with Ctrl+Up/Down.
    pub history_pos: Option<usize>,
    /// Result of the last send, in words.
    pub feedback: Option<(bool, String)>,
    /// Sends made from the compose box (`{counter}` of the next one is this + 1).
    pub counter: u64,
}

impl ComposeState {
    /// The bytes the next send makes from the compose box (variables expanded with the
    /// next counter value; data, checksum of the data, line ending), or the problem in
    /// words.
    pub fn payload(&self, lang: Lang, settings: &ComposeSettings) -> Result<Vec<u8>, String> {
        match settings.send_spec().compile() {
            Ok(template) => Ok(template.render(self.counter + 1)),
            Err(error) => Err(template_error_text(lang, &error)),
        }
    }
}

/// Draws the compose panel of one tab.
pub fn compose_ui(
    ui: &mut Ui,
    lang: Lang,
    settings: &mut ComposeSettings,
    state: &mut ComposeState,
    mode: Mode,
    actions: &mut Vec<UiAction>,
) {
    let t = lang.texts();
    ui.add_space(2.0);
    ui.horizontal_wrapped(|ui| {
        ui.strong(t.send);
        ui.separator();
        ui.selectable_value(&mut settings.spec.hex, false, t.send_text);
        ui.selectable_value(&mut settings.spec.hex, true, t.send_hex);
        ui.separator();
        spec_options_ui(ui, &mut settings.spec, t, "compose");
        // Always present (disabled when empty) so the row does not shift after a send.
        let label = ui.label(t.history);
        let mut picked = None;
        ui.add_enabled_ui(!settings.history.is_empty(), |ui| {
            egui::ComboBox::from_id_salt("history")
                .selected_text(settings.history.len().to_string())
                .width(50.0)
                .show_ui(ui, |ui| {
                    for (i, entry) in settings.history.iter().enumerate().rev() {
                        let mut shown: String = entry.text.chars().take(60).collect();
                        if entry.hex {
                            shown.insert_str(0, t.hex_tag);
                        }
                        if ui.selectable_label(false, shown).clicked() {
                            picked = Some(i);
                        }
                    }
                })
                .response
                .labelled_by(label.id);
        });
        if let Some(i) = picked {
            settings.spec = settings.history[i].clone();
        }
        if mode != Mode::TcpClient {
            ui.separator();
            keep_together(ui, |ui| {
                ui.label(t.target);
                let (all_text, selected_text) = if mode == Mode::Udp {
                    (t.target_peer, t.target_selected_peers)
                } else {
                    (t.target_all, t.target_selected)
                };
                ui.selectable_value(&mut state.target, TargetChoice::All, all_text);
                ui.selectable_value(&mut state.target, TargetChoice::Selected, selected_text)
                    .on_hover_text(t.target_selected_tip);
            });
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
        browse_history(settings, state, up);
    }

    let preview = state.payload(lang, settings);
    ui.horizontal(|ui| {
        let label = ui.label(t.send_input);
        let width = (ui.available_width() - 90.0).max(100.0);
        ui.add(
            TextEdit::multiline(&mut settings.spec.text)
                .desired_rows(3)
                .desired_width(width)
                .font(egui::TextStyle::Monospace)
                .hint_text(if settings.spec.hex {
                    "48 65 6C 6C 6F"
                } else {
                    t.send_text_hint
                }),
        )
        .labelled_by(label.id);
        let button = ui
            .add_enabled(
                preview.is_ok(),
                egui::Button::new(RichText::new(t.send_button).strong())
                    .min_size(egui::vec2(70.0, 40.0)),
            )
            .on_disabled_hover_text(t.fix_input_first);
        if button.clicked() || (send_key && preview.is_ok()) {
            actions.push(UiAction::Send(Sender::Compose));
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
        if let Some((ok, message)) = &state.feedback {
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
}

fn browse_history(settings: &mut ComposeSettings, state: &mut ComposeState, older: bool) {
    let len = settings.history.len();
    if len == 0 {
        return;
    }
    let pos = match (state.history_pos, older) {
        (None, true) => len - 1,
        (None, false) => return,
        (Some(p), true) => p.saturating_sub(1),
        (Some(p), false) if p + 1 >= len => {
            state.history_pos = None;
            settings.spec.text.clear();
            return;
        }
        (Some(p), false) => p + 1,
    };
    state.history_pos = Some(pos);
    settings.spec = settings.history[pos].clone();
}
