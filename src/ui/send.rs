//! The compose panel: a multi-line input in text or hex, validated live (the bad position
//! is named before anything is sent), the send template's options, history, and for
//! servers and UDP where the send goes. The Send button says where it sends and what it
//! appends; switching text ↔ hex converts what the box holds.

use egui::{RichText, TextEdit, Ui};

use crate::automation::SendSpec;
use crate::codec::checksum::Checksum;
use crate::codec::escape::LineEnding;
use crate::codec::hex;
use crate::codec::text::{self, TextEncoding};
use crate::engine::{SendTarget, parse_host_port};
use crate::lang::Lang;

use super::action::{Sender, TargetError, UiAction, target_error_text, target_words};
use super::errors::template_error_text;
use super::i18n::Texts;
use super::settings::{ComposeSettings, ConnectionSettings, Mode, UdpTarget};
use super::tab::Clients;
use super::widgets::{ERROR_COLOR, INFO_COLOR, appended_pickers, enum_picker, keep_together};

/// State of the compose panel that does not persist.
#[derive(Debug, Default)]
pub struct ComposeState {
    /// Position in the history while browsing it with Ctrl+Up/Down.
    pub history_pos: Option<usize>,
    /// Sends made from the compose box (`{counter}` of the next one is this + 1).
    pub counter: u64,
}

impl ComposeState {
    /// The bytes the next send makes from the compose box (variables expanded with the
    /// next counter value; data, checksum of the data, line ending), or the problem in
    /// words. An empty box makes nothing (not a lone checksum).
    pub fn payload(&self, lang: Lang, settings: &ComposeSettings) -> Result<Vec<u8>, String> {
        if settings.spec.text.trim().is_empty() {
            return Err(lang.texts().nothing_typed.to_string());
        }
        match settings.send_spec().compile() {
            Ok(template) => Ok(template.render(self.counter + 1)),
            Err(error) => Err(template_error_text(lang, &error)),
        }
    }
}

/// What the compose panel needs to know about the rest of the tab.
pub struct ComposeContext<'a> {
    /// The connection settings (mode, UDP target choice and fixed peer).
    pub connection: &'a mut ConnectionSettings,
    /// The clients list (ticks).
    pub clients: &'a mut Clients,
    /// Where a send would go now.
    pub target: Result<SendTarget, TargetError>,
    /// The UDP peer that sent last.
    pub last_sender: Option<std::net::SocketAddr>,
    /// The view's encoding (the send encoding follows it while linked).
    pub view_encoding: TextEncoding,
}

/// Draws the compose panel of one tab.
pub fn compose_ui(
    ui: &mut Ui,
    lang: Lang,
    settings: &mut ComposeSettings,
    state: &mut ComposeState,
    cx: ComposeContext<'_>,
    actions: &mut Vec<UiAction>,
) {
    let t = lang.texts();
    if settings.link_encoding {
        settings.spec.encoding = cx.view_encoding;
    }
    ui.add_space(2.0);
    options_row(ui, t, settings);
    let ComposeContext {
        connection,
        clients,
        target,
        last_sender,
        ..
    } = cx;
    if connection.mode != Mode::TcpClient {
        target_row(ui, lang, connection, clients, &target, last_sender);
    }

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
    let ready = preview.is_ok() && target.is_ok();
    let mut caption = t.send_button.to_string();
    if let Ok(target) = &target {
        let words = target_words(t, target, clients);
        if !words.is_empty() {
            caption.push_str(&format!("\n→ {words}"));
        }
    }
    ui.horizontal(|ui| {
        let label = ui.label(t.send_input);
        // The button is as wide as its caption (a long target such as
        // 255.255.255.255:9000 must not push it past the window's edge).
        let caption_width = egui::WidgetText::from(RichText::new(&caption).strong())
            .into_galley(
                ui,
                Some(egui::TextWrapMode::Extend),
                f32::INFINITY,
                egui::TextStyle::Button,
            )
            .size()
            .x;
        let button_width = (caption_width + 2.0 * ui.spacing().button_padding.x).max(118.0);
        let width = (ui.available_width() - button_width - 12.0).max(100.0);
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
        let response = ui.add_enabled(
            ready,
            egui::Button::new(RichText::new(caption).strong()).min_size(egui::vec2(118.0, 44.0)),
        );
        let reason = match (&preview, &target) {
            (Err(message), _) => message.clone(),
            (_, Err(error)) => target_error_text(t, *error).to_string(),
            _ => String::new(),
        };
        let response = response.on_disabled_hover_text(reason);
        if response.clicked() || (send_key && ready) {
            actions.push(UiAction::Send(Sender::Compose));
        }
    });
    preview_row(ui, t, &settings.spec, &preview);
}

/// Mode, encoding (linked to the view or not), escapes, line ending, checksum, history.
fn options_row(ui: &mut Ui, t: &Texts, settings: &mut ComposeSettings) {
    ui.horizontal_wrapped(|ui| {
        ui.strong(t.send);
        ui.separator();
        let was_hex = settings.spec.hex;
        let mut hex = was_hex;
        ui.selectable_value(&mut hex, false, t.send_text)
            .on_hover_text(t.send_text_tip);
        ui.selectable_value(&mut hex, true, t.send_hex)
            .on_hover_text(t.send_hex_tip);
        if hex != was_hex {
            convert_mode(&mut settings.spec, hex);
        }
        ui.separator();
        let spec = &mut settings.spec;
        ui.add_enabled_ui(!spec.hex, |ui| {
            let before = spec.encoding;
            enum_picker(
                ui,
                "compose_encoding",
                t.send_encoding,
                &mut spec.encoding,
                &TextEncoding::ALL,
                |e| e.name().to_string(),
            );
            if spec.encoding != before {
                settings.link_encoding = false;
            }
            ui.checkbox(&mut settings.link_encoding, t.follow_view)
                .on_hover_text(t.link_encoding_tip)
                .on_disabled_hover_text(t.hex_has_no_encoding);
            ui.checkbox(&mut spec.escapes, t.escapes)
                .on_hover_text(t.escapes_tip)
                .on_disabled_hover_text(t.hex_has_no_encoding);
        });
        appended_pickers(ui, spec, t, "compose");
        // Always present (disabled when empty) so the row does not shift after a send.
        keep_together(ui, |ui| {
            let label = ui.label(t.history);
            let mut picked = None;
            ui.add_enabled_ui(!settings.history.is_empty(), |ui| {
                egui::ComboBox::from_id_salt("history")
                    .selected_text(settings.history.len().to_string())
                    .width(50.0)
                    .show_ui(ui, |ui| {
                        for (i, entry) in settings.history.iter().enumerate().rev() {
                            if ui
                                .selectable_label(false, history_label(t, entry))
                                .clicked()
                            {
                                picked = Some(i);
                            }
                        }
                    })
                    .response
                    .labelled_by(label.id)
                    .on_hover_text(t.history_tip);
            });
            if let Some(i) = picked {
                settings.spec = settings.history[i].clone();
                settings.link_encoding = false;
            }
        });
    });
}

/// A history entry as its menu shows it: mode, encoding, the text, what is appended.
pub fn history_label(t: &Texts, entry: &SendSpec) -> String {
    let mut shown: String = entry.text.chars().take(60).collect();
    if entry.hex {
        shown.insert_str(0, t.hex_tag);
    } else if entry.encoding != TextEncoding::Utf8 {
        shown.insert_str(0, &format!("[{}] ", entry.encoding.name()));
    }
    if entry.checksum != Checksum::None {
        shown.push_str(&format!(" +{}", entry.checksum.name()));
    }
    if entry.line_ending != LineEnding::None {
        shown.push_str(&format!(" +{}", entry.line_ending.name()));
    }
    shown
}

/// Server: all clients or the ticked ones; UDP: the ticked peers, else the last sender or
/// the fixed peer (editable while the socket is open).
fn target_row(
    ui: &mut Ui,
    lang: Lang,
    connection: &mut ConnectionSettings,
    clients: &mut Clients,
    target: &Result<SendTarget, TargetError>,
    last_sender: Option<std::net::SocketAddr>,
) {
    let t = lang.texts();
    ui.horizontal(|ui| {
        ui.label(t.target);
        let ticked = clients.values().filter(|c| c.selected).count();
        if ticked > 0 {
            let what = if connection.mode == Mode::Udp {
                t.ticked_peers
            } else {
                t.ticked_clients
            };
            ui.label(RichText::new(format!("{ticked} {what}")).strong());
            if ui.small_button(t.untick_all).clicked() {
                clients.values_mut().for_each(|c| c.selected = false);
            }
            return;
        }
        if connection.mode == Mode::TcpServer {
            ui.label(RichText::new(format!("{} ({})", t.all_clients, clients.len())).strong());
            ui.label(RichText::new(t.tick_to_choose).color(egui::Color32::GRAY));
            return;
        }
        let last = match last_sender {
            Some(addr) => format!("{} ({addr})", t.reply_to_last),
            None => format!("{} ({})", t.reply_to_last, t.nobody_yet),
        };
        ui.radio_value(&mut connection.udp_target, UdpTarget::LastSender, last)
            .on_hover_text(t.reply_to_last_tip);
        ui.radio_value(
            &mut connection.udp_target,
            UdpTarget::FixedPeer,
            t.fixed_peer,
        )
        .on_hover_text(t.fixed_peer_tip);
        let bad = connection.udp_target == UdpTarget::FixedPeer && target.is_err();
        let mut field = TextEdit::singleline(&mut connection.udp_peer)
            .desired_width(170.0)
            .hint_text("192.168.1.50:9001");
        if bad {
            field = field.text_color(ERROR_COLOR);
        }
        let response = ui.add(field).on_hover_text(t.fixed_peer_tip);
        // Broadcast addresses and the session's groups, at the peer's port (else ours).
        let port = parse_host_port(&connection.udp_peer)
            .map(|(_, port)| port)
            .ok()
            .or_else(|| super::settings::parse_u16(&connection.udp_port))
            .unwrap_or(0);
        let groups: Vec<std::net::IpAddr> = connection
            .udp_groups
            .iter()
            .filter_map(|g| crate::engine::GroupSpec::parse(g).ok())
            .map(|g| g.group)
            .collect();
        let picked = super::interfaces::picker_ui(
            ui,
            t,
            lang,
            "udp-target",
            &mut connection.udp_peer,
            super::interfaces::PickerKind::Broadcast { port },
            &groups,
        );
        if response.changed() || picked {
            connection.udp_target = UdpTarget::FixedPeer;
        }
        if let (true, Err(error)) = (bad, target) {
            ui.label(
                RichText::new(format!("! {}", target_error_text(t, *error))).color(ERROR_COLOR),
            );
        }
    });
}

/// One line under the box: the bytes the send makes (or the problem) and what is appended.
fn preview_row(ui: &mut Ui, t: &Texts, spec: &SendSpec, preview: &Result<Vec<u8>, String>) {
    ui.horizontal(|ui| {
        let mut appended = Vec::new();
        if spec.checksum != Checksum::None {
            appended.push(format!("+{}", spec.checksum.name()));
        }
        if spec.line_ending != LineEnding::None {
            appended.push(format!("+{}", spec.line_ending.name()));
        }
        if !appended.is_empty() {
            ui.label(RichText::new(appended.join(" ")).color(INFO_COLOR).strong())
                .on_hover_text(t.appended_tip);
        }
        let (text, color) = match preview {
            Ok(bytes) => {
                let mut shown = String::new();
                hex::format_spaced(&bytes[..bytes.len().min(48)], &mut shown);
                if bytes.len() > 48 {
                    shown.push_str(" …");
                }
                (
                    format!("{} {}: {shown}", bytes.len(), t.hex_ok),
                    egui::Color32::GRAY,
                )
            }
            Err(_) if spec.text.trim().is_empty() => (
                format!("0 {}: {}", t.hex_ok, t.send_hint),
                egui::Color32::GRAY,
            ),
            Err(message) => (format!("! {message}"), ERROR_COLOR),
        };
        ui.add(egui::Label::new(RichText::new(&text).monospace().color(color)).truncate())
            .on_hover_text(format!("{text}\n{}", t.send_hint));
    });
}

/// Switches the box between text and hex, converting what it holds (text in the send
/// encoding, escapes honoured ↔ the same bytes as hex). When the content cannot be
/// converted (a template variable, an invalid escape) it is kept as it is.
pub fn convert_mode(spec: &mut SendSpec, to_hex: bool) {
    if spec.text.trim().is_empty() || spec.text.contains('{') {
        spec.hex = to_hex;
        return;
    }
    if to_hex {
        if let Ok(bytes) =
            crate::codec::escape::text_to_bytes(&spec.text, spec.encoding, spec.escapes)
        {
            spec.text = hex::to_spaced(&bytes);
        }
    } else if let Ok(bytes) = hex::parse(&spec.text) {
        let (text, escapes) = bytes_to_text(&bytes, spec.encoding, spec.escapes);
        spec.text = text;
        spec.escapes = escapes;
    }
    spec.hex = to_hex;
}

/// Bytes as text the box turns back into the same bytes, and whether that needs escapes:
/// decoded in `encoding` when they are valid there, control characters and invalid bytes
/// written as escapes.
pub fn bytes_to_text(bytes: &[u8], encoding: TextEncoding, escapes: bool) -> (String, bool) {
    let (decoded, invalid) = text::decode_to_string(encoding, bytes);
    let plain = invalid == 0 && !decoded.chars().any(|c| c.is_control() || c == '\\');
    if plain {
        return (decoded, escapes);
    }
    if invalid == 0 {
        let mut out = String::with_capacity(decoded.len());
        for c in decoded.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\0' => out.push_str("\\0"),
                c if c.is_control() && (c as u32) < 0x80 => {
                    out.push_str(&format!("\\x{:02X}", c as u32))
                }
                c => out.push(c),
            }
        }
        return (out, true);
    }
    (crate::codec::escape::escape_bytes_for_display(bytes), true)
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
    settings.link_encoding = false;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text → hex → text gives back what was typed, for GBK Chinese and escapes.
    #[test]
    fn text_hex_round_trip() {
        let mut spec = SendSpec {
            text: "你好\\r\\n".into(),
            encoding: TextEncoding::Gbk,
            ..SendSpec::default()
        };
        convert_mode(&mut spec, true);
        assert!(spec.hex);
        assert_eq!(spec.text, "C4 E3 BA C3 0D 0A");
        convert_mode(&mut spec, false);
        assert_eq!(spec.text, "你好\\r\\n");
        assert!(spec.escapes);
    }

    /// Bytes that are not valid in the encoding come back as \xNN escapes.
    #[test]
    fn invalid_bytes_become_escapes() {
        let (text, escapes) = bytes_to_text(&[0x41, 0xFF, 0x42], TextEncoding::Utf8, false);
        assert_eq!(text, "A\\xFFB");
        assert!(escapes);
        let mut spec = SendSpec {
            text: text.clone(),
            escapes,
            ..SendSpec::default()
        };
        convert_mode(&mut spec, true);
        assert_eq!(spec.text, "41 FF 42");
    }
}
