//! Automation in the window: repeat a send, send a file, quick commands, auto-reply rules.
//!
//! The work itself runs off the UI thread (`crate::automation`): periodic and file
//! senders on their own workers, rules inside the engine's readers. This file holds only
//! the controls and what they show.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use egui::{RichText, TextEdit, Ui};

use crate::automation::{
    AutoResponder, FileSendOptions, FileSender, MatchKind, PeriodicConfig, PeriodicSender, Preset,
    QuickCommand, QuickCommands, Rule, RuleAction, SendSpec, TemplateError,
};
use crate::codec::hex;
use crate::codec::text::TextEncoding;
use crate::engine::SendTarget;
use crate::session::stats::human_bytes;

use super::connection::{ERROR_COLOR, OK_COLOR};
use super::files::{DialogPurpose, JobResult, Slot, no_dialog_message};
use super::log::default_log_path;
use super::send::TargetChoice;
use super::settings::{Mode, parse_number};
use super::{Lang, SockscopeApp};

/// Largest file chunk the window offers (one read, one record, one send).
const MAX_CHUNK: usize = 1024 * 1024;

/// What the right-hand panel shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RightTab {
    /// Connected clients / UDP peers.
    #[default]
    Clients,
    /// Quick commands.
    Commands,
    /// Auto-reply rules.
    AutoReply,
}

/// Runtime state of the automation controls (what persists lives in `Settings`).
#[derive(Default)]
pub struct AutomationState {
    /// The right-hand panel's tab.
    pub tab: RightTab,
    /// The installed auto-responder, while auto-reply is on.
    pub responder: Option<Arc<AutoResponder>>,
    /// Why the rules cannot be applied, if they cannot.
    pub rule_error: Option<String>,
    /// The running (or last) periodic sender.
    pub periodic: Option<PeriodicSender>,
    /// The running (or last) file sender.
    pub file: Option<FileSender>,
    /// Last word from an automation action: (ok, message).
    pub message: Option<(bool, String)>,
    /// The quick command being edited.
    pub editing: Option<usize>,
    /// Name for the next quick command saved from the compose box.
    pub new_name: String,
}

impl std::fmt::Debug for AutomationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutomationState")
            .field("tab", &self.tab)
            .field("auto_reply", &self.responder.is_some())
            .field("rule_error", &self.rule_error)
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

/// The compose box as a send template. With variables off, braces in text are literal.
pub fn compose_spec(app: &SockscopeApp) -> SendSpec {
    let settings = &app.settings;
    let text = if !settings.send_hex && !settings.variables {
        app.send.input.replace('{', "{{").replace('}', "}}")
    } else {
        app.send.input.clone()
    };
    SendSpec {
        text,
        hex: settings.send_hex,
        encoding: TextEncoding::from_name(&settings.send_encoding).unwrap_or_default(),
        escapes: settings.escapes,
        line_ending: settings.line_ending(),
        checksum: settings.checksum(),
    }
}

/// A template error in the UI language.
pub fn template_error_text(lang: Lang, error: &TemplateError) -> String {
    if lang == Lang::En {
        return error.to_string();
    }
    match error {
        TemplateError::UnknownVariable { name, position } => format!(
            "第 {position} 个字符处的变量 {{{name}}} 未知（可用：counter、time、rand:N、len；花括号本身请写 {{{{）"
        ),
        TemplateError::BadArgument {
            variable,
            position,
            expected,
        } => format!("第 {position} 个字符处的变量 {{{variable}}} 参数有误：应为 {expected}"),
        TemplateError::Unclosed { position } => {
            format!("第 {position} 个字符处的 {{ 没有闭合（花括号本身请写 {{{{）")
        }
        TemplateError::StrayBrace { position } => {
            format!("第 {position} 个字符处的 }} 没有配对（花括号本身请写 }}}}）")
        }
        TemplateError::Hex { position, message } | TemplateError::Text { position, message } => {
            format!("第 {position} 个字符：{message}")
        }
    }
}

impl SockscopeApp {
    /// The one target automation sends to: the compose panel's choice.
    pub fn automation_target(&self) -> SendTarget {
        let selected = self.selected_clients();
        match (self.settings.mode, self.send.target) {
            (Mode::TcpClient, _) | (Mode::Udp, TargetChoice::All) => SendTarget::Default,
            (Mode::TcpServer, TargetChoice::All) => SendTarget::All,
            (Mode::TcpServer, TargetChoice::Selected) => {
                SendTarget::Conns(selected.iter().filter_map(|c| c.conn).collect())
            }
            (Mode::Udp, TargetChoice::Selected) => selected
                .first()
                .map_or(SendTarget::Default, |c| SendTarget::Peer(c.peer)),
        }
    }

    /// Turns auto-reply on (installing the rules in the running session and every later
    /// one) or off.
    pub fn set_auto_reply(&mut self, on: bool) {
        if !on {
            self.automation.responder = None;
            if let Some(session) = &self.session {
                session.set_responder(None);
            }
            return;
        }
        match AutoResponder::new(&self.settings.auto_reply) {
            Ok(responder) => {
                if let Some(session) = &self.session {
                    responder.install(session);
                }
                self.automation.responder = Some(responder);
                self.automation.rule_error = None;
            }
            Err(error) => self.automation.rule_error = Some(error.to_string()),
        }
    }

    /// Applies edited rules to the running responder.
    fn rules_changed(&mut self) {
        if let Some(responder) = &self.automation.responder {
            self.automation.rule_error = responder
                .set_config(&self.settings.auto_reply)
                .err()
                .map(|e| e.to_string());
        }
    }

    /// Starts repeating the compose box every `periodic_ms`, `periodic_count` times.
    pub fn start_periodic(&mut self) {
        let t = self.texts();
        let Some(session) = self.session.clone().filter(|_| self.running()) else {
            self.automation.message = Some((false, t.nothing_to_send.to_string()));
            return;
        };
        let interval = parse_number(&self.settings.periodic_ms).unwrap_or(0);
        if interval == 0 {
            self.automation.message =
                Some((false, format!("{}: {}", t.every_ms, t.invalid_number)));
            return;
        }
        let count = parse_number(&self.settings.periodic_count).filter(|&n| n > 0);
        let config = PeriodicConfig {
            send: compose_spec(self),
            target: self.automation_target(),
            interval: Duration::from_millis(interval),
            count,
        };
        match PeriodicSender::start(session, config) {
            Ok(sender) => {
                self.automation.periodic = Some(sender);
                self.automation.message = None;
            }
            Err(error) => self.automation.message = Some((false, error.to_string())),
        }
    }

    /// Starts streaming the file at `path` to the compose panel's target.
    pub fn start_file_send(&mut self, path: PathBuf) {
        let t = self.texts();
        let Some(session) = self.session.clone().filter(|_| self.running()) else {
            self.automation.message = Some((false, t.nothing_to_send.to_string()));
            return;
        };
        let chunk = parse_number(&self.settings.file_chunk)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        if !(1..=MAX_CHUNK).contains(&chunk) {
            self.automation.message = Some((false, format!("{}: 1 … {MAX_CHUNK}", t.chunk)));
            return;
        }
        let options = FileSendOptions {
            chunk_size: chunk,
            chunk_delay: Duration::from_millis(
                parse_number(&self.settings.file_delay_ms).unwrap_or(0),
            ),
            ..FileSendOptions::default()
        };
        self.settings.file_path = path.display().to_string();
        match FileSender::start(session, self.automation_target(), &path, options) {
            Ok(sender) => {
                self.automation.file = Some(sender);
                self.automation.message = None;
            }
            Err(error) => self.automation.message = Some((false, error.to_string())),
        }
    }

    /// Sends quick command `index` to the compose panel's target.
    pub fn send_quick_command(&mut self, index: usize) {
        let t = self.texts();
        let Some(session) = self.session.clone().filter(|_| self.running()) else {
            self.automation.message = Some((false, t.nothing_to_send.to_string()));
            return;
        };
        let target = self.automation_target();
        self.automation.message = Some(
            match self.settings.quick_commands.send(index, &session, target) {
                Ok(n) => (true, format!("{} → {n}", t.sent)),
                Err(error) => (false, error.to_string()),
            },
        );
    }

    /// Saves the compose box as a new quick command.
    pub fn save_quick_command(&mut self, name: &str) {
        let name = if name.trim().is_empty() {
            format!("#{}", self.settings.quick_commands.commands.len() + 1)
        } else {
            name.trim().to_string()
        };
        let spec = compose_spec(self);
        self.settings
            .quick_commands
            .add(QuickCommand::new(name, spec));
    }

    /// The answer of an automation dialog; `None` when no dialog could be shown.
    pub(crate) fn automation_path_chosen(&mut self, purpose: DialogPurpose, path: Option<PathBuf>) {
        let path = match path {
            Some(path) => path,
            None => {
                let field = match purpose {
                    DialogPurpose::SendFile => &self.settings.file_path,
                    _ => &self.settings.commands_path,
                };
                let path = PathBuf::from(field.trim());
                self.automation.message = Some((false, no_dialog_message(&path)));
                if path.as_os_str().is_empty() {
                    return;
                }
                path
            }
        };
        match purpose {
            DialogPurpose::SendFile => self.start_file_send(path),
            DialogPurpose::ExportCommands => self.export_commands(path),
            _ => self.import_commands(path),
        }
    }

    /// Writes the quick commands to `path` as JSON, off the UI thread.
    pub fn export_commands(&mut self, path: PathBuf) {
        self.settings.commands_path = path.display().to_string();
        let commands = self.settings.quick_commands.clone();
        self.spawn_job(move || match commands.export_file(&path) {
            Ok(()) => JobResult::Message(
                Slot::Automation,
                true,
                format!(
                    "exported {} commands to {}",
                    commands.commands.len(),
                    path.display()
                ),
            ),
            Err(error) => JobResult::Message(Slot::Automation, false, error.to_string()),
        });
    }

    /// Reads quick commands from `path`, off the UI thread; they are appended.
    pub fn import_commands(&mut self, path: PathBuf) {
        self.settings.commands_path = path.display().to_string();
        self.spawn_job(move || match QuickCommands::import_file(&path) {
            Ok(commands) => JobResult::Imported(commands, path),
            Err(error) => JobResult::Message(
                Slot::Automation,
                false,
                format!("cannot import {}: {error}", path.display()),
            ),
        });
    }

    /// Appends imported commands.
    pub(crate) fn imported_commands(&mut self, commands: QuickCommands, path: &std::path::Path) {
        let count = commands.commands.len();
        for command in commands.commands {
            self.settings.quick_commands.add(command);
        }
        self.automation.message = Some((
            true,
            format!("imported {count} commands from {}", path.display()),
        ));
    }
}

/// The compose panel's automation row: repeat and send file.
pub fn compose_automation_ui(ui: &mut Ui, app: &mut SockscopeApp) {
    let t = app.texts();
    ui.horizontal_wrapped(|ui| {
        ui.checkbox(&mut app.settings.variables, t.variables);
        ui.separator();
        let label = ui.label(t.every_ms);
        ui.add(TextEdit::singleline(&mut app.settings.periodic_ms).desired_width(50.0))
            .labelled_by(label.id);
        let label = ui.label(t.times);
        ui.add(
            TextEdit::singleline(&mut app.settings.periodic_count)
                .desired_width(50.0)
                .hint_text("∞"),
        )
        .labelled_by(label.id);
        let repeating = app
            .automation
            .periodic
            .as_ref()
            .is_some_and(PeriodicSender::is_running);
        if repeating {
            if ui
                .button(RichText::new(t.stop_repeat).color(ERROR_COLOR))
                .clicked()
                && let Some(p) = &app.automation.periodic
            {
                p.stop();
            }
        } else if ui.button(t.start_repeat).clicked() {
            app.start_periodic();
        }
        if let Some(p) = &app.automation.periodic {
            let mut text = format!("{} {}", t.sent, p.sent());
            if let Some(reason) = p.stop_reason() {
                text.push_str(&format!(" ({reason})"));
            }
            ui.label(text);
        }
        ui.separator();
        let label = ui.label(t.file);
        ui.add(
            TextEdit::singleline(&mut app.settings.file_path)
                .desired_width(160.0)
                .hint_text("/path/to/firmware.bin"),
        )
        .labelled_by(label.id);
        let label = ui.label(t.chunk);
        ui.add(TextEdit::singleline(&mut app.settings.file_chunk).desired_width(55.0))
            .labelled_by(label.id);
        let label = ui.label(t.chunk_delay);
        ui.add(TextEdit::singleline(&mut app.settings.file_delay_ms).desired_width(35.0))
            .labelled_by(label.id);
        let sending = app
            .automation
            .file
            .as_ref()
            .is_some_and(FileSender::is_running);
        if sending {
            if ui
                .button(RichText::new(t.cancel).color(ERROR_COLOR))
                .clicked()
                && let Some(f) = &app.automation.file
            {
                f.cancel();
            }
        } else {
            if ui
                .add_enabled(!app.files.dialog_open(), egui::Button::new(t.send_file))
                .clicked()
            {
                let suggested = PathBuf::from(app.settings.file_path.trim());
                app.open_dialog(DialogPurpose::SendFile, suggested, ("file", "*"));
            }
            // No stat per frame: a missing file is reported when the send starts.
            let path = PathBuf::from(app.settings.file_path.trim());
            if ui
                .add_enabled(!path.as_os_str().is_empty(), egui::Button::new(t.send_path))
                .clicked()
            {
                app.start_file_send(path);
            }
        }
    });
    if let Some(f) = &app.automation.file {
        let p = f.progress();
        let eta = p
            .eta
            .map(|d| format!(" · ETA {:.0} s", d.as_secs_f64()))
            .unwrap_or_default();
        let mut text = format!(
            "{} / {} · {}{}{eta}",
            human_bytes(p.done as f64),
            human_bytes(p.total as f64),
            human_bytes(p.bytes_per_sec),
            t.per_second
        );
        if let Some(reason) = f.stop_reason() {
            text.push_str(&format!(" · {reason}"));
        }
        ui.add(egui::ProgressBar::new(p.fraction()).text(text));
    }
    if app
        .automation
        .periodic
        .as_ref()
        .is_some_and(PeriodicSender::is_running)
        || app
            .automation
            .file
            .as_ref()
            .is_some_and(FileSender::is_running)
    {
        ui.ctx().request_repaint_after(Duration::from_millis(100));
    }
    if let Some((ok, message)) = &app.automation.message {
        ui.label(RichText::new(message).color(if *ok { OK_COLOR } else { ERROR_COLOR }));
    }
}

/// The quick commands tab.
pub fn commands_ui(ui: &mut Ui, app: &mut SockscopeApp) {
    let t = app.texts();
    ui.horizontal_wrapped(|ui| {
        let label = ui.label(t.command_name);
        ui.add(
            TextEdit::singleline(&mut app.automation.new_name)
                .desired_width(110.0)
                .hint_text("read registers"),
        )
        .labelled_by(label.id);
        if ui.button(t.save_command).clicked() {
            let name = std::mem::take(&mut app.automation.new_name);
            app.save_quick_command(&name);
        }
    });
    ui.horizontal_wrapped(|ui| {
        let label = ui.label(t.commands_file);
        ui.add(TextEdit::singleline(&mut app.settings.commands_path).desired_width(150.0))
            .labelled_by(label.id);
        let dialog_open = app.files.dialog_open();
        if ui
            .add_enabled(!dialog_open, egui::Button::new(t.import))
            .clicked()
        {
            let suggested = PathBuf::from(app.settings.commands_path.trim());
            app.open_dialog(DialogPurpose::ImportCommands, suggested, ("JSON", "json"));
        }
        if ui
            .add_enabled(!dialog_open, egui::Button::new(t.export))
            .clicked()
        {
            let mut suggested = PathBuf::from(app.settings.commands_path.trim());
            if suggested.as_os_str().is_empty() {
                suggested = default_log_path("commands", crate::session::recorder::LogFormat::Text)
                    .with_extension("json");
            }
            app.open_dialog(DialogPurpose::ExportCommands, suggested, ("JSON", "json"));
        }
    });
    ui.separator();
    if app.settings.quick_commands.commands.is_empty() {
        ui.label(RichText::new(t.no_commands).color(egui::Color32::GRAY));
    }
    let mut send = None;
    let mut move_item = None;
    let mut remove = None;
    let count = app.settings.quick_commands.commands.len();
    egui::ScrollArea::vertical()
        .id_salt("commands_scroll")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for i in 0..count {
                let editing = app.automation.editing == Some(i);
                let Some(command) = app.settings.quick_commands.commands.get_mut(i) else {
                    continue;
                };
                ui.horizontal(|ui| {
                    if ui
                        .button(RichText::new(format!("▶ {}", command.name)).strong())
                        .on_hover_text(t.send_button)
                        .clicked()
                    {
                        send = Some(i);
                    }
                    if ui.small_button("▲").clicked() && i > 0 {
                        move_item = Some((i, i - 1));
                    }
                    if ui.small_button("▼").clicked() && i + 1 < count {
                        move_item = Some((i, i + 1));
                    }
                    if ui.selectable_label(editing, t.edit).clicked() {
                        app.automation.editing = if editing { None } else { Some(i) };
                    }
                    if ui.small_button("×").on_hover_text(t.delete).clicked() {
                        remove = Some(i);
                    }
                });
                let preview = match command.preview() {
                    Ok(bytes) => {
                        let mut s = String::new();
                        hex::format_spaced(&bytes[..bytes.len().min(24)], &mut s);
                        if bytes.len() > 24 {
                            s.push_str(" …");
                        }
                        RichText::new(s)
                            .small()
                            .monospace()
                            .color(egui::Color32::GRAY)
                    }
                    Err(error) => RichText::new(template_error_text(app.settings.lang, &error))
                        .small()
                        .color(ERROR_COLOR),
                };
                ui.label(preview);
                if editing {
                    spec_editor(ui, &mut command.name, &mut command.send, t, i);
                }
                ui.add_space(2.0);
            }
        });
    if let Some(i) = send {
        app.send_quick_command(i);
    }
    if let Some((from, to)) = move_item {
        app.settings.quick_commands.move_item(from, to);
        // The editor follows the command it was opened on.
        app.automation.editing = match app.automation.editing {
            Some(e) if e == from => Some(to),
            Some(e) if e == to => Some(from),
            other => other,
        };
    }
    if let Some(i) = remove {
        app.settings.quick_commands.remove(i);
        app.automation.editing = None;
    }
    if let Some((ok, message)) = &app.automation.message {
        ui.label(RichText::new(message).color(if *ok { OK_COLOR } else { ERROR_COLOR }));
    }
}

/// Edits a send template in place (quick commands and rule replies).
fn spec_editor(ui: &mut Ui, name: &mut String, spec: &mut SendSpec, t: &super::Texts, id: usize) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.horizontal(|ui| {
            let label = ui.label(t.command_name);
            ui.add(TextEdit::singleline(name).desired_width(120.0))
                .labelled_by(label.id);
        });
        ui.horizontal(|ui| {
            ui.selectable_value(&mut spec.hex, false, t.send_text);
            ui.selectable_value(&mut spec.hex, true, t.send_hex);
        });
        let label = ui.label(t.command_data);
        ui.add(
            TextEdit::multiline(&mut spec.text)
                .desired_rows(2)
                .desired_width(f32::INFINITY)
                .font(egui::TextStyle::Monospace),
        )
        .labelled_by(label.id);
        spec_options_ui(ui, spec, t, id);
    });
}

/// Encoding, escapes, line ending and checksum of a template.
fn spec_options_ui(ui: &mut Ui, spec: &mut SendSpec, t: &super::Texts, id: usize) {
    ui.horizontal_wrapped(|ui| {
        if !spec.hex {
            egui::ComboBox::from_id_salt(("spec_encoding", id))
                .selected_text(spec.encoding.name())
                .show_ui(ui, |ui| {
                    for enc in TextEncoding::ALL {
                        ui.selectable_value(&mut spec.encoding, enc, enc.name());
                    }
                });
            ui.checkbox(&mut spec.escapes, t.escapes);
        }
        egui::ComboBox::from_id_salt(("spec_line_ending", id))
            .selected_text(spec.line_ending.name())
            .show_ui(ui, |ui| {
                for le in crate::codec::escape::LineEnding::ALL {
                    ui.selectable_value(&mut spec.line_ending, le, le.name());
                }
            });
        egui::ComboBox::from_id_salt(("spec_checksum", id))
            .selected_text(spec.checksum.name())
            .show_ui(ui, |ui| {
                for c in crate::codec::checksum::Checksum::ALL {
                    ui.selectable_value(&mut spec.checksum, c, c.name());
                }
            });
    });
}

fn kind_name(kind: MatchKind, t: &super::Texts) -> &'static str {
    match kind {
        MatchKind::Any => t.match_any,
        MatchKind::Exact => t.match_exact,
        MatchKind::Contains => t.match_contains,
        MatchKind::StartsWith => t.match_starts,
        MatchKind::Regex => t.match_regex,
        MatchKind::HexPattern => t.match_hex,
    }
}

fn action_name(action: RuleAction, t: &super::Texts) -> &'static str {
    match action {
        RuleAction::Reply => t.action_reply,
        RuleAction::Close => t.action_close,
        RuleAction::ReplyThenClose => t.action_reply_close,
    }
}

/// The auto-reply tab.
pub fn auto_reply_ui(ui: &mut Ui, app: &mut SockscopeApp) {
    let t = app.texts();
    let mut on = app.automation.responder.is_some();
    let mut changed = false;
    ui.horizontal_wrapped(|ui| {
        if ui.checkbox(&mut on, t.auto_reply_on).changed() {
            app.set_auto_reply(on);
        }
        changed |= ui
            .checkbox(&mut app.settings.auto_reply.echo, t.echo)
            .changed();
    });
    ui.horizontal_wrapped(|ui| {
        ui.label(t.presets);
        for preset in [Preset::SeedEchoServer, Preset::CloseOnExit] {
            if ui.button(preset.name()).clicked() {
                app.settings.auto_reply.rules.extend(preset.rules());
                changed = true;
            }
        }
        if ui.button(t.add_rule).clicked() {
            app.settings.auto_reply.rules.push(Rule::default());
            changed = true;
        }
    });
    if let Some(error) = &app.automation.rule_error {
        ui.label(RichText::new(format!("! {error}")).color(ERROR_COLOR));
    }
    ui.separator();
    let hits = app
        .automation
        .responder
        .as_ref()
        .map(|r| r.hits())
        .unwrap_or_default();
    let mut remove = None;
    egui::ScrollArea::vertical()
        .id_salt("rules_scroll")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for (i, rule) in app.settings.auto_reply.rules.iter_mut().enumerate() {
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    ui.horizontal_wrapped(|ui| {
                        changed |= ui.checkbox(&mut rule.enabled, "").changed();
                        let label = ui.label(t.rule_name);
                        changed |= ui
                            .add(TextEdit::singleline(&mut rule.name).desired_width(90.0))
                            .labelled_by(label.id)
                            .changed();
                        ui.label(format!("{}: {}", t.hits, hits.get(i).copied().unwrap_or(0)));
                        if ui.small_button("×").on_hover_text(t.delete).clicked() {
                            remove = Some(i);
                        }
                    });
                    ui.horizontal_wrapped(|ui| {
                        let before = (rule.kind, rule.action);
                        egui::ComboBox::from_id_salt(("rule_kind", i))
                            .selected_text(kind_name(rule.kind, t))
                            .show_ui(ui, |ui| {
                                for kind in MatchKind::ALL {
                                    ui.selectable_value(&mut rule.kind, kind, kind_name(kind, t));
                                }
                            });
                        if rule.kind != MatchKind::Any {
                            let label = ui.label(t.pattern);
                            changed |= ui
                                .add(TextEdit::singleline(&mut rule.pattern).desired_width(110.0))
                                .labelled_by(label.id)
                                .changed();
                            if matches!(
                                rule.kind,
                                MatchKind::Exact | MatchKind::Contains | MatchKind::StartsWith
                            ) {
                                changed |=
                                    ui.checkbox(&mut rule.pattern_hex, t.filter_hex).changed();
                            }
                        }
                        egui::ComboBox::from_id_salt(("rule_action", i))
                            .selected_text(action_name(rule.action, t))
                            .show_ui(ui, |ui| {
                                for action in [
                                    RuleAction::Reply,
                                    RuleAction::Close,
                                    RuleAction::ReplyThenClose,
                                ] {
                                    ui.selectable_value(
                                        &mut rule.action,
                                        action,
                                        action_name(action, t),
                                    );
                                }
                            });
                        changed |= before != (rule.kind, rule.action);
                        let label = ui.label(t.delay_ms);
                        let mut delay = rule.delay_ms.to_string();
                        if ui
                            .add(TextEdit::singleline(&mut delay).desired_width(40.0))
                            .labelled_by(label.id)
                            .changed()
                        {
                            rule.delay_ms = parse_number(&delay).unwrap_or(0);
                            changed = true;
                        }
                    });
                    if rule.action != RuleAction::Close {
                        let before = rule.reply.clone();
                        ui.horizontal(|ui| {
                            ui.selectable_value(&mut rule.reply.hex, false, t.send_text);
                            ui.selectable_value(&mut rule.reply.hex, true, t.send_hex);
                            let label = ui.label(t.reply);
                            ui.add(
                                TextEdit::singleline(&mut rule.reply.text)
                                    .desired_width(f32::INFINITY)
                                    .font(egui::TextStyle::Monospace),
                            )
                            .labelled_by(label.id);
                        });
                        spec_options_ui(ui, &mut rule.reply, t, 1000 + i);
                        changed |= before != rule.reply;
                    }
                });
            }
        });
    if let Some(i) = remove {
        app.settings.auto_reply.rules.remove(i);
        changed = true;
    }
    if changed {
        app.rules_changed();
    }
}
