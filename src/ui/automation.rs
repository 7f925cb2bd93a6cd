//! Automation in the window: repeat a send, send a file, quick commands, auto-reply rules.
//!
//! The work itself runs off the UI thread (`crate::automation`): periodic and file
//! senders on their own workers, rules inside the engine's readers. This file holds only
//! the controls and what they show; what they start goes through `UiAction`s.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use egui::{RichText, TextEdit, Ui};

use crate::automation::{
    AutoReplyConfig, AutoResponder, FileSender, MatchKind, PeriodicSender, Preset, Rule,
    RuleAction, SendSpec,
};
use crate::codec::hex;
use crate::lang::Lang;
use crate::session::stats::human_bytes;

use super::action::{Sender, UiAction};
use super::errors::{stop_reason_text, template_error_text};
use super::files::DialogPurpose;
use super::i18n::Texts;
use super::settings::{AutomationSettings, ComposeSettings, parse_number};
use super::widgets::{ERROR_COLOR, enum_picker, keep_together, panel_menu, spec_options_ui};

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
    /// Frame definition, fields and round trips (`ui::frames`).
    Frames,
    /// Plots of rates and field values (`ui::plot`).
    Plot,
}

/// Runtime state of the automation controls (what persists lives in the settings).
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
    /// The quick command being edited.
    pub editing: Option<usize>,
    /// Name for the next quick command saved from the compose box.
    pub new_name: String,
    /// The end of the last file send was reported in the message strip.
    pub file_reported: bool,
}

impl std::fmt::Debug for AutomationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutomationState")
            .field("tab", &self.tab)
            .field("auto_reply", &self.responder.is_some())
            .field("rule_error", &self.rule_error)
            .finish_non_exhaustive()
    }
}

/// The compose panel's automation row: variables, repeat and send file.
pub fn compose_automation_ui(
    ui: &mut Ui,
    lang: Lang,
    compose: &mut ComposeSettings,
    state: &AutomationState,
    dialog_open: bool,
    actions: &mut Vec<UiAction>,
) {
    let t = lang.texts();
    ui.horizontal_wrapped(|ui| {
        ui.checkbox(&mut compose.variables, t.variables)
            .on_hover_text(t.variables_tip);
        ui.separator();
        keep_together(ui, |ui| {
            let label = ui.label(t.every_ms);
            ui.add(TextEdit::singleline(&mut compose.periodic_ms).desired_width(50.0))
                .labelled_by(label.id);
        });
        keep_together(ui, |ui| {
            let label = ui.label(t.times);
            ui.add(
                TextEdit::singleline(&mut compose.periodic_count)
                    .desired_width(50.0)
                    .hint_text("∞"),
            )
            .labelled_by(label.id);
        });
        let repeating = state
            .periodic
            .as_ref()
            .is_some_and(PeriodicSender::is_running);
        if repeating {
            if ui
                .button(RichText::new(t.stop_repeat).color(ERROR_COLOR))
                .clicked()
            {
                actions.push(UiAction::StopRepeat);
            }
        } else if ui.button(t.start_repeat).clicked() {
            actions.push(UiAction::StartRepeat);
        }
        // Always there, of one width, so nothing after it moves while it counts.
        let (text, tip) = match &state.periodic {
            Some(p) => {
                let reason = p
                    .stop_reason()
                    .map(|r| stop_reason_text(lang, &r))
                    .unwrap_or_default();
                (format!("{} {}", t.sent, p.sent()), reason)
            }
            None => (format!("{} 0", t.sent), String::new()),
        };
        ui.add_sized(
            [70.0, ui.spacing().interact_size.y],
            egui::Label::new(RichText::new(text).monospace()).truncate(),
        )
        .on_hover_text(tip);
        ui.separator();
        match state.file.as_ref().filter(|f| f.is_running()) {
            Some(f) => {
                // While a file goes out its progress takes the place of the menu.
                let (fraction, text) = file_progress_text(lang, f);
                ui.add(
                    egui::ProgressBar::new(fraction)
                        .text(text)
                        .desired_width(260.0),
                );
                if ui
                    .button(RichText::new(t.cancel).color(ERROR_COLOR))
                    .clicked()
                {
                    actions.push(UiAction::CancelFile);
                }
            }
            None => {
                panel_menu(ui, format!("{} …", t.send_a_file), |ui| {
                    file_menu_ui(ui, t, compose, dialog_open, actions)
                })
                .on_hover_text(t.send_a_file_tip);
            }
        }
    });
    let busy = state
        .periodic
        .as_ref()
        .is_some_and(PeriodicSender::is_running)
        || state.file.as_ref().is_some_and(FileSender::is_running);
    if busy {
        ui.ctx().request_repaint_after(Duration::from_millis(100));
    }
}

/// The file menu: path, chunk size, delay, and the two ways to start.
fn file_menu_ui(
    ui: &mut Ui,
    t: &Texts,
    compose: &mut ComposeSettings,
    dialog_open: bool,
    actions: &mut Vec<UiAction>,
) {
    egui::Grid::new("file_menu").num_columns(2).show(ui, |ui| {
        let label = ui.label(t.file);
        ui.add(
            TextEdit::singleline(&mut compose.file_path)
                .desired_width(220.0)
                .hint_text(t.file_hint),
        )
        .labelled_by(label.id);
        ui.end_row();
        let label = ui.label(t.chunk);
        ui.add(TextEdit::singleline(&mut compose.file_chunk).desired_width(70.0))
            .labelled_by(label.id)
            .on_hover_text(t.chunk_tip);
        ui.end_row();
        let label = ui.label(t.chunk_delay);
        ui.add(TextEdit::singleline(&mut compose.file_delay_ms).desired_width(70.0))
            .labelled_by(label.id)
            .on_hover_text(t.chunk_delay_tip);
        ui.end_row();
    });
    ui.horizontal(|ui| {
        if ui
            .add_enabled(!dialog_open, egui::Button::new(t.send_file))
            .clicked()
        {
            actions.push(UiAction::OpenDialog(DialogPurpose::SendFile));
            ui.close();
        }
        // No stat per frame: a missing file is reported when the send starts.
        let path = PathBuf::from(compose.file_path.trim());
        if ui
            .add_enabled(!path.as_os_str().is_empty(), egui::Button::new(t.send_path))
            .on_disabled_hover_text(t.file_path_first)
            .clicked()
        {
            actions.push(UiAction::SendFile(path));
            ui.close();
        }
    });
}

/// A file send's progress: the bar's fraction and its words.
pub fn file_progress_text(lang: Lang, f: &FileSender) -> (f32, String) {
    let t = lang.texts();
    let p = f.progress();
    let eta = p
        .eta
        .map(|d| format!(" · {} {:.0} s", t.eta, d.as_secs_f64()))
        .unwrap_or_default();
    let mut text = format!(
        "{} / {} · {}{}{eta}",
        human_bytes(p.done as f64),
        human_bytes(p.total as f64),
        human_bytes(p.bytes_per_sec),
        t.per_second
    );
    if let Some(reason) = f.stop_reason() {
        text.push_str(&format!(" · {}", stop_reason_text(lang, &reason)));
    }
    (p.fraction(), text)
}

/// The quick commands tab.
pub fn commands_ui(
    ui: &mut Ui,
    lang: Lang,
    settings: &mut AutomationSettings,
    state: &mut AutomationState,
    rtt: &super::frames::rtt::RttStats,
    dialog_open: bool,
    actions: &mut Vec<UiAction>,
) {
    let t = lang.texts();
    ui.horizontal_wrapped(|ui| {
        let label = ui.label(t.command_name);
        ui.add(
            TextEdit::singleline(&mut state.new_name)
                .desired_width(110.0)
                .hint_text(t.command_name_hint),
        )
        .labelled_by(label.id);
        if ui.button(t.save_command).clicked() {
            actions.push(UiAction::SaveQuickCommand(std::mem::take(
                &mut state.new_name,
            )));
        }
    });
    ui.horizontal_wrapped(|ui| {
        let label = ui.label(t.commands_file);
        ui.add(TextEdit::singleline(&mut settings.commands_path).desired_width(150.0))
            .labelled_by(label.id);
        if ui
            .add_enabled(!dialog_open, egui::Button::new(t.import))
            .clicked()
        {
            actions.push(UiAction::OpenDialog(DialogPurpose::ImportCommands));
        }
        if ui
            .add_enabled(!dialog_open, egui::Button::new(t.export))
            .clicked()
        {
            actions.push(UiAction::OpenDialog(DialogPurpose::ExportCommands));
        }
        plan_skeleton_button(ui, lang, settings);
    });
    ui.separator();
    let commands = &mut settings.quick_commands.commands;
    if commands.is_empty() {
        ui.label(RichText::new(t.no_commands).color(egui::Color32::GRAY));
    }
    let mut move_item = None;
    let mut remove = None;
    let count = commands.len();
    egui::ScrollArea::vertical()
        .id_salt("commands_scroll")
        .auto_shrink([false, false])
        .max_height(ui.available_height() - 24.0)
        .show(ui, |ui| {
            for (i, command) in commands.iter_mut().enumerate() {
                let editing = state.editing == Some(i);
                ui.horizontal(|ui| {
                    if ui
                        .button(RichText::new(format!("▶ {}", command.name)).strong())
                        .on_hover_text(t.send_button)
                        .clicked()
                    {
                        actions.push(UiAction::Send(Sender::Quick(i)));
                    }
                    if ui.small_button("▲").on_hover_text(t.move_up).clicked() && i > 0 {
                        move_item = Some((i, i - 1));
                    }
                    if ui.small_button("▼").on_hover_text(t.move_down).clicked() && i + 1 < count
                    {
                        move_item = Some((i, i + 1));
                    }
                    if ui.selectable_label(editing, t.edit).clicked() {
                        state.editing = if editing { None } else { Some(i) };
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
                    Err(error) => RichText::new(template_error_text(lang, &error))
                        .small()
                        .color(ERROR_COLOR),
                };
                ui.label(preview);
                // Its round trips, compact (the Frames tab has the whole table).
                if let Some(s) = rtt.get(&command.name) {
                    let color = if s.timeouts > 0 && s.count == 0 {
                        ERROR_COLOR
                    } else {
                        egui::Color32::GRAY
                    };
                    ui.label(
                        RichText::new(super::frames::rtt::compact(t, s))
                            .small()
                            .color(color),
                    )
                    .on_hover_text(t.fr_rtt_tip);
                }
                if editing {
                    spec_editor(ui, &mut command.name, &mut command.send, t, i);
                }
                ui.add_space(2.0);
            }
        });
    if let Some((from, to)) = move_item {
        settings.quick_commands.move_item(from, to);
        // The editor follows the command it was opened on.
        state.editing = match state.editing {
            Some(e) if e == from => Some(to),
            Some(e) if e == to => Some(from),
            other => other,
        };
    }
    if let Some(i) = remove {
        settings.quick_commands.remove(i);
        state.editing = None;
    }
}

/// "Copy as test plan": puts a `sockscope test` plan skeleton of the quick commands and
/// the auto-reply rules on the clipboard (no file I/O on the UI thread). Its two
/// strings live here rather than in the i18n table to keep this addition self-contained.
fn plan_skeleton_button(ui: &mut Ui, lang: Lang, settings: &AutomationSettings) {
    let t = lang.texts();
    let (label, tip) = (t.copy_as_plan, t.copy_as_plan_tip);
    if ui.button(label).on_hover_text(tip).clicked() {
        ui.ctx().copy_text(crate::plan::skeleton(
            &settings.quick_commands,
            &settings.auto_reply,
            "127.0.0.1:8080",
        ));
    }
}

/// Edits a send template in place (quick commands).
fn spec_editor(ui: &mut Ui, name: &mut String, spec: &mut SendSpec, t: &Texts, id: usize) {
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
        // One option a row: the side panel is narrow, and a wide row would widen it.
        spec_options_ui(ui, spec, t, ("command", id));
    });
}

fn kind_name(kind: MatchKind, t: &Texts) -> &'static str {
    match kind {
        MatchKind::Any => t.match_any,
        MatchKind::Exact => t.match_exact,
        MatchKind::Contains => t.match_contains,
        MatchKind::StartsWith => t.match_starts,
        MatchKind::Regex => t.match_regex,
        MatchKind::HexPattern => t.match_hex,
    }
}

fn action_name(action: RuleAction, t: &Texts) -> &'static str {
    match action {
        RuleAction::Reply => t.action_reply,
        RuleAction::Close => t.action_close,
        RuleAction::ReplyThenClose => t.action_reply_close,
    }
}

fn preset_name(preset: Preset, t: &Texts) -> &'static str {
    match preset {
        Preset::SeedEchoServer => t.preset_echo_ok,
        Preset::CloseOnExit => t.preset_close_on_exit,
    }
}

/// What the auto-reply tab shows besides the rules.
#[derive(Clone, Copy, Debug)]
pub struct AutoReplyView<'a> {
    /// Auto-reply is on.
    pub on: bool,
    /// Hits per rule.
    pub hits: &'a [u64],
    /// Why the rules cannot be applied.
    pub error: Option<&'a str>,
}

/// The auto-reply tab.
pub fn auto_reply_ui(
    ui: &mut Ui,
    t: &Texts,
    config: &mut AutoReplyConfig,
    view: AutoReplyView<'_>,
    actions: &mut Vec<UiAction>,
) {
    let mut on = view.on;
    let mut changed = false;
    ui.horizontal_wrapped(|ui| {
        if ui
            .checkbox(&mut on, t.auto_reply_on)
            .on_hover_text(t.auto_reply_tip)
            .changed()
        {
            actions.push(UiAction::SetAutoReply(on));
        }
        changed |= ui
            .checkbox(&mut config.echo, t.echo)
            .on_hover_text(t.echo_tip)
            .changed();
    });
    // One line in either state: whether the rules below act at all.
    if view.on {
        ui.label(RichText::new(t.auto_reply_active).color(super::widgets::OK_COLOR));
    } else {
        ui.label(RichText::new(t.auto_reply_off_note).color(egui::Color32::GRAY));
    }
    ui.horizontal_wrapped(|ui| {
        ui.label(t.presets);
        for preset in Preset::ALL {
            if ui.button(preset_name(preset, t)).clicked() {
                config.rules.extend(preset.rules());
                changed = true;
            }
        }
        if ui.button(t.add_rule).clicked() {
            config.rules.push(Rule::default());
            changed = true;
        }
        let limits = &mut config.limits;
        panel_menu(ui, format!("{} …", t.reply_limits), |ui| {
            ui.label(RichText::new(t.reply_limits_tip).color(egui::Color32::GRAY));
            egui::Grid::new("reply_limits")
                .num_columns(2)
                .show(ui, |ui| {
                    let l = ui.label(t.replies_per_second);
                    changed |= ui
                        .add(
                            egui::DragValue::new(&mut limits.per_peer_per_second)
                                .range(0..=1_000_000),
                        )
                        .labelled_by(l.id)
                        .on_hover_text(t.replies_per_second_tip)
                        .changed();
                    ui.end_row();
                    let l = ui.label(t.amplification);
                    changed |= ui
                        .add(egui::DragValue::new(&mut limits.amplification).range(1..=1000))
                        .labelled_by(l.id)
                        .on_hover_text(t.amplification_tip)
                        .changed();
                    ui.end_row();
                });
            changed |= ui
                .checkbox(&mut limits.allow_amplification, t.allow_amplification)
                .changed();
            changed |= ui
                .checkbox(&mut limits.loop_detection, t.loop_detection)
                .on_hover_text(t.loop_detection_tip)
                .changed();
        })
        .on_hover_text(t.reply_limits_tip);
    });
    if let Some(error) = view.error {
        ui.label(RichText::new(format!("! {error}")).color(ERROR_COLOR));
    }
    ui.separator();
    let mut remove = None;
    egui::ScrollArea::vertical()
        .id_salt("rules_scroll")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for (i, rule) in config.rules.iter_mut().enumerate() {
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    changed |= rule_ui(ui, t, rule, i, view.hits.get(i).copied(), &mut remove);
                });
            }
        });
    if let Some(i) = remove {
        config.rules.remove(i);
        changed = true;
    }
    if changed {
        actions.push(UiAction::RulesChanged);
    }
}

/// One rule's editor; returns true when it changed.
fn rule_ui(
    ui: &mut Ui,
    t: &Texts,
    rule: &mut Rule,
    i: usize,
    hits: Option<u64>,
    remove: &mut Option<usize>,
) -> bool {
    let before = rule.clone();
    ui.horizontal_wrapped(|ui| {
        ui.checkbox(&mut rule.enabled, "")
            .on_hover_text(t.rule_enabled_tip);
        let label = ui.label(t.rule_name);
        ui.add(TextEdit::singleline(&mut rule.name).desired_width(90.0))
            .labelled_by(label.id);
        ui.label(format!("{}: {}", t.hits, hits.unwrap_or(0)));
        if ui.small_button("×").on_hover_text(t.delete).clicked() {
            *remove = Some(i);
        }
    });
    ui.horizontal_wrapped(|ui| {
        enum_picker(
            ui,
            ("rule_kind", i),
            t.rule_match,
            &mut rule.kind,
            &MatchKind::ALL,
            |k| kind_name(k, t).to_string(),
        );
        if rule.kind != MatchKind::Any {
            keep_together(ui, |ui| {
                let label = ui.label(t.pattern);
                ui.add(TextEdit::singleline(&mut rule.pattern).desired_width(110.0))
                    .labelled_by(label.id);
            });
            if matches!(
                rule.kind,
                MatchKind::Exact | MatchKind::Contains | MatchKind::StartsWith
            ) {
                ui.checkbox(&mut rule.pattern_hex, t.filter_hex);
            }
        }
    });
    // Rows kept short: the side panel is narrow, and a wide row would widen it.
    ui.horizontal_wrapped(|ui| {
        enum_picker(
            ui,
            ("rule_action", i),
            t.rule_action,
            &mut rule.action,
            &[
                RuleAction::Reply,
                RuleAction::Close,
                RuleAction::ReplyThenClose,
            ],
            |a| action_name(a, t).to_string(),
        );
        keep_together(ui, |ui| {
            let label = ui.label(t.delay_ms);
            let mut delay = rule.delay_ms.to_string();
            if ui
                .add(TextEdit::singleline(&mut delay).desired_width(40.0))
                .labelled_by(label.id)
                .changed()
            {
                rule.delay_ms = parse_number(&delay).unwrap_or(0);
            }
        });
    });
    if rule.action != RuleAction::Close {
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
        spec_options_ui(ui, &mut rule.reply, t, ("rule", i));
    }
    *rule != before
}
