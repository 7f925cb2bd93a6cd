//! The Frames panel (right-hand side): the frame definition received bytes are cut by (a
//! preset or one's own: sync bytes, length rule, idle gap, checksum, longest frame), its
//! fields, Apply / Revert, export and import as JSON, the counts of good and bad frames
//! and resyncs, and the round-trip times of every command.
//!
//! The definition is edited as typed ([`draft::Draft`]) and checked as it is typed,
//! each problem in the UI language next to its field; Apply hands the built
//! [`FrameDef`] to the tab (`UiAction::SetFrameDef`), which sets it in the store and the
//! settings together.

pub mod draft;
pub mod io;
pub mod rtt;

use egui::{Color32, RichText, TextEdit, Ui};

use crate::codec::checksum::Checksum;
use crate::protocol::{Endian, FieldKind, FrameDef, LengthCounts};
use crate::session::store::Store;
use crate::ui::files::DialogPurpose;
use crate::ui::settings::frames::FrameSettings;
use crate::ui::widgets::{ERROR_COLOR, OK_COLOR, enum_picker, none_or};

use self::draft::{Draft, FieldDraft, LengthKind, Problems, Spot};
use self::rtt::RttStats;
use super::action::UiAction;
use super::i18n::{Lang, Texts};

/// What the Frames panel keeps between frames: the definition as it is being edited
/// (the applied one persists in the tab's settings).
#[derive(Clone, Debug, Default)]
pub struct FramesState {
    /// The editor holds a definition (false: "None").
    pub enabled: bool,
    /// The definition as typed.
    pub draft: Draft,
    /// The round-trip timeout as edited, in ms.
    pub rtt_timeout_ms: u64,
    /// Open the Frame section at the next draw (one's own definition was chosen).
    open_frame: bool,
    loaded: bool,
}

impl Default for Draft {
    fn default() -> Self {
        Draft::from_def(&FrameDef::modbus_rtu())
    }
}

impl FramesState {
    /// Puts the applied settings in the editor.
    pub fn load(&mut self, settings: &FrameSettings) {
        self.enabled = settings.def.is_some();
        if let Some(def) = &settings.def {
            self.draft = Draft::from_def(def);
        }
        self.rtt_timeout_ms = settings.rtt_timeout_ms;
        self.loaded = true;
    }

    /// Puts `def` in the editor (an import): Apply makes it the tab's.
    pub fn edit(&mut self, def: &FrameDef) {
        self.enabled = true;
        self.draft = Draft::from_def(def);
        self.loaded = true;
    }

    /// The definition the editor holds: None for "None", else the built definition or
    /// its problems.
    pub fn built(&self, lang: Lang) -> Result<Option<FrameDef>, Problems> {
        if !self.enabled {
            return Ok(None);
        }
        self.draft.to_def(lang).map(Some)
    }
}

/// What the picker offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Choice {
    None,
    Preset(usize),
    Custom,
}

fn preset_label(t: &Texts, i: usize) -> &'static str {
    match i {
        0 => t.fr_preset_rtu,
        1 => t.fr_preset_tcp,
        2 => t.fr_preset_u16,
        _ => t.fr_preset_lines,
    }
}

/// Draws the Frames panel.
#[allow(clippy::too_many_arguments)]
pub fn frames_ui(
    ui: &mut Ui,
    lang: Lang,
    state: &mut FramesState,
    settings: &mut FrameSettings,
    store: &Store,
    rtt: &RttStats,
    dialog_open: bool,
    actions: &mut Vec<UiAction>,
) {
    let t = lang.texts();
    if !state.loaded {
        state.load(settings);
    }
    let built = state.built(lang);
    let problems: Problems = built.as_ref().err().cloned().unwrap_or_default();
    let dirty = match &built {
        Ok(def) => {
            def.as_ref() != settings.def.as_ref() || state.rtt_timeout_ms != settings.rtt_timeout_ms
        }
        Err(_) => true,
    };
    egui::ScrollArea::vertical()
        .id_salt("frames_scroll")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            picker_ui(ui, t, state);
            counts_ui(ui, t, store);
            ui.horizontal_wrapped(|ui| {
                let can_apply = dirty && built.is_ok();
                if ui
                    .add_enabled(can_apply, egui::Button::new(t.fr_apply))
                    .on_hover_text(t.fr_apply_tip)
                    .clicked()
                    && let Ok(def) = &built
                {
                    actions.push(UiAction::SetFrameDef {
                        def: def.clone(),
                        rtt_timeout_ms: state.rtt_timeout_ms,
                    });
                }
                if ui
                    .add_enabled(dirty, egui::Button::new(t.fr_revert))
                    .clicked()
                {
                    state.load(settings);
                }
                if built.is_err() {
                    ui.label(RichText::new(t.fr_p_fix_first).color(ERROR_COLOR));
                } else if dirty {
                    ui.label(RichText::new(t.fr_not_applied).color(Color32::GRAY));
                } else if settings.def.is_some() {
                    ui.label(RichText::new(format!("✔ {}", t.fr_applied)).color(OK_COLOR));
                }
            });
            if settings.def.is_none() && !state.enabled {
                ui.label(RichText::new(t.frames_none).color(Color32::GRAY));
            }
            file_row_ui(
                ui,
                t,
                settings,
                built.is_ok() && state.enabled,
                dialog_open,
                actions,
            );
            for (spot, text) in &problems {
                if *spot == Spot::Whole {
                    ui.label(RichText::new(text).color(ERROR_COLOR));
                }
            }
            if state.enabled {
                ui.separator();
                // Closed at first (a preset's frame is right as it is; the fields are what
                // one edits), opened for one's own definition or when something is wrong.
                let frame_problem = problems.iter().any(|(spot, _)| spot.in_frame());
                let open = (std::mem::take(&mut state.open_frame) || frame_problem).then_some(true);
                let section = egui::CollapsingHeader::new(t.fr_section_frame)
                    .id_salt("frames_frame")
                    .default_open(false)
                    .open(open)
                    .show(ui, |ui| frame_ui(ui, t, &mut state.draft, &problems));
                if section.fully_closed() {
                    // Closed, it still says what the rule is (wrapped: the panel is narrow).
                    ui.indent("frames_summary", |ui| {
                        ui.add(
                            egui::Label::new(
                                RichText::new(summary(t, &state.draft)).color(Color32::GRAY),
                            )
                            .wrap(),
                        );
                    });
                }
                egui::CollapsingHeader::new(format!(
                    "{} ({})",
                    t.fr_section_fields,
                    state.draft.fields.len()
                ))
                .id_salt("frames_fields")
                .default_open(true)
                .show(ui, |ui| fields_ui(ui, t, &mut state.draft, &problems));
            }
            ui.separator();
            egui::CollapsingHeader::new(t.fr_section_rtt)
                .id_salt("frames_rtt")
                .default_open(true)
                .show(ui, |ui| rtt_ui(ui, t, state, rtt, actions));
        });
}

/// The definition picker: None, a preset, or one's own.
fn picker_ui(ui: &mut Ui, t: &Texts, state: &mut FramesState) {
    let presets = FrameDef::presets();
    let current = if !state.enabled {
        Choice::None
    } else {
        presets
            .iter()
            .position(|p| Draft::from_def(p) == state.draft)
            .map_or(Choice::Custom, Choice::Preset)
    };
    let mut choices = vec![Choice::None];
    choices.extend((0..presets.len()).map(Choice::Preset));
    choices.push(Choice::Custom);
    let name = |c: Choice| match c {
        Choice::None => t.none.to_string(),
        Choice::Preset(i) => preset_label(t, i).to_string(),
        Choice::Custom => t.fr_custom.to_string(),
    };
    let mut chosen = current;
    ui.horizontal_wrapped(|ui| {
        let label = ui.label(t.fr_definition);
        egui::ComboBox::from_id_salt("frames_picker")
            .selected_text(name(current))
            .show_ui(ui, |ui| {
                for &c in &choices {
                    ui.selectable_value(&mut chosen, c, name(c));
                }
            })
            .response
            .labelled_by(label.id)
            .on_hover_text(t.fr_definition_tip);
    });
    if chosen != current {
        match chosen {
            Choice::None => state.enabled = false,
            Choice::Preset(i) => {
                state.enabled = true;
                state.draft = Draft::from_def(&presets[i]);
            }
            Choice::Custom => {
                if !state.enabled {
                    state.draft = Draft::custom(t.fr_custom);
                }
                state.enabled = true;
                state.open_frame = true;
            }
        }
    }
}

/// The frame rule in a few words for the closed section's title: `length field @2
/// (1 B) +2 · CRC-16/MODBUS · ≤ 256 B`.
fn summary(t: &Texts, d: &Draft) -> String {
    let mut parts = Vec::new();
    if !d.sync.trim().is_empty() {
        parts.push(d.sync.trim().to_string());
    }
    parts.push(match d.length {
        LengthKind::Field => {
            let adjust = d.len_adjust.trim();
            let adjust = match adjust {
                "" | "0" => String::new(),
                a if a.starts_with('-') => format!(" {a}"),
                a => format!(" +{a}"),
            };
            format!(
                "{} @{} ({} B){adjust}",
                t.fr_len_field,
                d.len_offset.trim(),
                d.len_width
            )
        }
        LengthKind::Fixed => format!("{} {} B", t.fr_len_fixed, d.fixed_len.trim()),
        LengthKind::Terminator => format!("{} {}", t.fr_len_terminator, d.terminator.trim()),
    });
    if d.checksum != Checksum::None {
        parts.push(d.checksum.name().to_string());
    }
    parts.push(format!("≤ {} B", d.max_len.trim()));
    parts.join(" · ")
}

/// Good frames, bad frames, resyncs.
fn counts_ui(ui: &mut Ui, t: &Texts, store: &Store) {
    let (good, bad) = store.frame_counts();
    let resyncs = store.resyncs();
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(format!("{} {good}", t.fr_good)).color(OK_COLOR))
            .on_hover_text(t.fr_counts_tip);
        let color = if bad > 0 { ERROR_COLOR } else { Color32::GRAY };
        ui.label(RichText::new(format!("{} {bad}", t.fr_bad)).color(color))
            .on_hover_text(t.fr_counts_tip);
        ui.label(format!("{} {resyncs}", t.fr_resyncs))
            .on_hover_text(t.fr_resyncs_tip);
    });
}

/// The file row: path, Import…, Export….
fn file_row_ui(
    ui: &mut Ui,
    t: &Texts,
    settings: &mut FrameSettings,
    can_export: bool,
    dialog_open: bool,
    actions: &mut Vec<UiAction>,
) {
    ui.horizontal_wrapped(|ui| {
        let label = ui.label(t.fr_file);
        ui.add(
            TextEdit::singleline(&mut settings.path)
                .desired_width(130.0)
                .hint_text("frame.json"),
        )
        .labelled_by(label.id);
        if ui
            .add_enabled(!dialog_open, egui::Button::new(t.import))
            .on_hover_text(t.fr_import_tip)
            .clicked()
        {
            actions.push(UiAction::OpenDialog(DialogPurpose::ImportFrameDef));
        }
        if ui
            .add_enabled(!dialog_open && can_export, egui::Button::new(t.export))
            .on_hover_text(t.fr_export_tip)
            .clicked()
        {
            actions.push(UiAction::OpenDialog(DialogPurpose::ExportFrameDef));
        }
    });
}

fn problem_at(problems: &Problems, spot: Spot) -> Option<&str> {
    problems
        .iter()
        .find(|(s, _)| *s == spot)
        .map(|(_, p)| p.as_str())
}

/// A labelled text field in a two-column grid, its problem (if any) on the next row.
fn text_row(
    ui: &mut Ui,
    label: &str,
    value: &mut String,
    hint: &str,
    problem: Option<&str>,
    tip: Option<&str>,
) {
    let l = ui.label(label);
    let mut edit = TextEdit::singleline(value)
        .desired_width(110.0)
        .hint_text(hint);
    if problem.is_some() {
        edit = edit.text_color(ERROR_COLOR);
    }
    let response = ui.add(edit).labelled_by(l.id);
    if let Some(tip) = tip {
        response.on_hover_text(tip);
    }
    ui.end_row();
    if let Some(p) = problem {
        ui.label("");
        ui.label(RichText::new(format!("! {p}")).small().color(ERROR_COLOR));
        ui.end_row();
    }
}

fn endian_label(t: &Texts, e: Endian) -> &'static str {
    match e {
        Endian::Big => t.fr_be,
        Endian::Little => t.fr_le,
    }
}

/// Sync bytes, the length rule, idle gap, checksum and longest frame.
fn frame_ui(ui: &mut Ui, t: &Texts, d: &mut Draft, problems: &Problems) {
    let at = |spot| problem_at(problems, spot);
    egui::Grid::new("frames_grid")
        .num_columns(2)
        .spacing([6.0, 4.0])
        .show(ui, |ui| {
            text_row(ui, t.fr_name, &mut d.name, "", None, None);
            text_row(
                ui,
                t.fr_sync,
                &mut d.sync,
                t.fr_sync_hint,
                at(Spot::Sync),
                Some(t.fr_sync_tip),
            );
            let l = ui.label(t.fr_length);
            let kinds = [
                (LengthKind::Field, t.fr_len_field),
                (LengthKind::Fixed, t.fr_len_fixed),
                (LengthKind::Terminator, t.fr_len_terminator),
            ];
            let current = kinds
                .iter()
                .find(|(k, _)| *k == d.length)
                .map_or("", |(_, text)| text);
            egui::ComboBox::from_id_salt("frames_length")
                .selected_text(current)
                .show_ui(ui, |ui| {
                    for (kind, text) in kinds {
                        ui.selectable_value(&mut d.length, kind, text);
                    }
                })
                .response
                .labelled_by(l.id);
            ui.end_row();
            match d.length {
                LengthKind::Field => {
                    text_row(
                        ui,
                        t.fr_len_offset,
                        &mut d.len_offset,
                        "",
                        at(Spot::LenOffset),
                        Some(t.fr_len_offset_tip),
                    );
                    ui.label(t.fr_width);
                    ui.horizontal(|ui| {
                        for w in [1u8, 2, 4] {
                            ui.selectable_value(&mut d.len_width, w, format!("{w} B"));
                        }
                    });
                    ui.end_row();
                    ui.label(t.fr_byte_order);
                    ui.horizontal(|ui| {
                        for e in [Endian::Big, Endian::Little] {
                            ui.selectable_value(&mut d.len_endian, e, endian_label(t, e));
                        }
                    });
                    ui.end_row();
                    ui.label(t.fr_counts);
                    ui.vertical(|ui| {
                        ui.radio_value(
                            &mut d.len_counts,
                            LengthCounts::AfterField,
                            t.fr_counts_after,
                        );
                        ui.radio_value(
                            &mut d.len_counts,
                            LengthCounts::WholeFrame,
                            t.fr_counts_whole,
                        );
                    });
                    ui.end_row();
                    text_row(
                        ui,
                        t.fr_adjust,
                        &mut d.len_adjust,
                        "0",
                        at(Spot::LenAdjust),
                        Some(t.fr_adjust_tip),
                    );
                }
                LengthKind::Fixed => text_row(
                    ui,
                    t.fr_fixed_len,
                    &mut d.fixed_len,
                    "",
                    at(Spot::FixedLen),
                    None,
                ),
                LengthKind::Terminator => text_row(
                    ui,
                    t.fr_terminator,
                    &mut d.terminator,
                    "0D 0A",
                    at(Spot::Terminator),
                    None,
                ),
            }
            text_row(
                ui,
                t.fr_idle_gap,
                &mut d.idle_gap,
                t.fr_idle_gap_hint,
                at(Spot::IdleGap),
                Some(t.fr_idle_gap_tip),
            );
            let l = ui.label(t.checksum);
            egui::ComboBox::from_id_salt("frames_checksum")
                .selected_text(none_or(d.checksum.name(), t))
                .show_ui(ui, |ui| {
                    for c in Checksum::ALL {
                        ui.selectable_value(&mut d.checksum, c, none_or(c.name(), t));
                    }
                })
                .response
                .labelled_by(l.id);
            ui.end_row();
            if d.checksum != Checksum::None {
                text_row(
                    ui,
                    t.fr_ck_from,
                    &mut d.ck_from,
                    "0",
                    at(Spot::CkFrom),
                    Some(t.fr_ck_from_tip),
                );
                text_row(
                    ui,
                    t.fr_ck_trailer,
                    &mut d.ck_trailer,
                    "0",
                    at(Spot::CkTrailer),
                    Some(t.fr_ck_trailer_tip),
                );
                ui.label(t.fr_byte_order);
                ui.horizontal(|ui| {
                    ui.selectable_value(&mut d.ck_endian, None, t.fr_usual)
                        .on_hover_text(t.fr_usual_tip);
                    for e in [Endian::Big, Endian::Little] {
                        ui.selectable_value(&mut d.ck_endian, Some(e), endian_label(t, e));
                    }
                });
                ui.end_row();
            }
            text_row(
                ui,
                t.fr_max_len,
                &mut d.max_len,
                "",
                at(Spot::MaxLen),
                Some(t.fr_max_len_tip),
            );
        });
}

/// The fields: one group each (name, offset, type, byte order, bits, scale, add, unit,
/// labels), with its problems; add and remove.
fn fields_ui(ui: &mut Ui, t: &Texts, d: &mut Draft, problems: &Problems) {
    if d.fields.is_empty() {
        ui.label(RichText::new(t.fr_no_fields).color(Color32::GRAY));
    }
    let mut remove = None;
    for (i, f) in d.fields.iter_mut().enumerate() {
        ui.push_id(("field", i), |ui| {
            egui::Frame::group(ui.style()).show(ui, |ui| {
                field_ui(ui, t, i, f, problems, &mut remove);
            });
        });
    }
    if let Some(i) = remove {
        d.fields.remove(i);
    }
    if ui
        .button(t.fr_add_field)
        .on_hover_text(t.fr_add_field_tip)
        .clicked()
    {
        // After the last field, where the next value usually is.
        let offset = d
            .fields
            .last()
            .and_then(|f| {
                let o: usize = f.offset.trim().parse().ok()?;
                Some(o + f.kind.width())
            })
            .unwrap_or(0);
        let n = d.fields.len() + 1;
        d.fields.push(FieldDraft::new(n, offset));
    }
}

fn field_ui(
    ui: &mut Ui,
    t: &Texts,
    i: usize,
    f: &mut FieldDraft,
    problems: &Problems,
    remove: &mut Option<usize>,
) {
    let small_edit = |ui: &mut Ui, label: &str, value: &mut String, width: f32, bad: bool| {
        let l = ui.label(label);
        let mut edit = TextEdit::singleline(value).desired_width(width);
        if bad {
            edit = edit.text_color(ERROR_COLOR);
        }
        ui.add(edit).labelled_by(l.id)
    };
    let at = |spot| problem_at(problems, spot);
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(format!("#{}", i + 1)).strong());
        small_edit(
            ui,
            t.fr_field_name,
            &mut f.name,
            110.0,
            at(Spot::FieldName(i)).is_some(),
        );
        if ui
            .small_button("×")
            .on_hover_text(t.fr_remove_field)
            .clicked()
        {
            *remove = Some(i);
        }
    });
    ui.horizontal_wrapped(|ui| {
        small_edit(
            ui,
            t.fr_offset,
            &mut f.offset,
            36.0,
            at(Spot::FieldOffset(i)).is_some(),
        )
        .on_hover_text(t.fr_offset_tip);
        enum_picker(
            ui,
            ("field_kind", i),
            t.fr_type,
            &mut f.kind,
            &FieldKind::ALL,
            |k| k.name().to_string(),
        );
        if f.kind.width() > 1 {
            for e in [Endian::Big, Endian::Little] {
                ui.selectable_value(&mut f.endian, e, endian_label(t, e));
            }
        }
    });
    ui.horizontal_wrapped(|ui| {
        if f.kind != FieldKind::F32 || f.bits {
            ui.checkbox(&mut f.bits, t.fr_bits)
                .on_hover_text(t.fr_bits_tip);
        }
        if f.bits {
            let bad = at(Spot::FieldBits(i)).is_some();
            small_edit(ui, t.fr_shift, &mut f.shift, 24.0, bad);
            small_edit(ui, t.fr_bit_width, &mut f.bit_width, 24.0, bad);
        }
    });
    ui.horizontal_wrapped(|ui| {
        let bad = at(Spot::FieldScale(i)).is_some();
        small_edit(ui, t.fr_scale, &mut f.scale, 44.0, bad).on_hover_text(t.fr_scale_tip);
        small_edit(ui, t.fr_add, &mut f.add, 36.0, bad);
        small_edit(ui, t.fr_unit, &mut f.unit, 36.0, false);
    });
    ui.horizontal_wrapped(|ui| {
        let l = ui.label(t.fr_labels);
        let mut edit = TextEdit::singleline(&mut f.labels)
            .desired_width(ui.available_width().clamp(80.0, 220.0))
            .hint_text(t.fr_labels_hint);
        if at(Spot::FieldLabels(i)).is_some() {
            edit = edit.text_color(ERROR_COLOR);
        }
        ui.add(edit)
            .labelled_by(l.id)
            .on_hover_text(t.fr_labels_tip);
    });
    for (spot, text) in problems {
        let mine = matches!(spot,
            Spot::FieldName(n) | Spot::FieldOffset(n) | Spot::FieldBits(n)
            | Spot::FieldScale(n) | Spot::FieldLabels(n) if *n == i);
        if mine {
            ui.label(
                RichText::new(format!("! {text}"))
                    .small()
                    .color(ERROR_COLOR),
            );
        }
    }
}

/// Round trips: the timeout and every command's statistics.
fn rtt_ui(
    ui: &mut Ui,
    t: &Texts,
    state: &mut FramesState,
    rtt: &RttStats,
    actions: &mut Vec<UiAction>,
) {
    ui.horizontal_wrapped(|ui| {
        let l = ui.label(t.fr_rtt_timeout);
        ui.add(
            egui::DragValue::new(&mut state.rtt_timeout_ms)
                .range(1..=600_000)
                .suffix(" ms"),
        )
        .labelled_by(l.id)
        .on_hover_text(t.fr_rtt_timeout_tip);
        if ui
            .add_enabled(!rtt.summaries.is_empty(), egui::Button::new(t.fr_rtt_reset))
            .clicked()
        {
            actions.push(UiAction::ClearRtt);
        }
    });
    if rtt.summaries.is_empty() {
        ui.label(RichText::new(t.fr_rtt_none).color(Color32::GRAY));
        return;
    }
    ui.label(RichText::new(t.fr_rtt_in_ms).small().color(Color32::GRAY));
    egui::Grid::new("frames_rtt_grid")
        .num_columns(7)
        // The default least column width (40 px) would widen the narrow panel.
        .min_col_width(12.0)
        .striped(true)
        .spacing([6.0, 2.0])
        .show(ui, |ui| {
            for head in [
                t.fr_command,
                "n",
                t.fr_min,
                "p50",
                "p95",
                t.fr_max,
                t.fr_timeouts,
            ] {
                ui.label(RichText::new(head).small().strong());
            }
            ui.end_row();
            for (label, s) in &rtt.summaries {
                ui.label(RichText::new(label).small());
                ui.label(RichText::new(s.count.to_string()).small().monospace());
                // Numbers only (the caption says ms): the table fits the narrow panel.
                let d = |v: std::time::Duration| {
                    let text = if s.count == 0 {
                        "-".into()
                    } else {
                        rtt::ms_number(v)
                    };
                    RichText::new(text).small().monospace()
                };
                ui.label(d(s.min));
                ui.label(d(s.p50));
                ui.label(d(s.p95));
                ui.label(d(s.max));
                let color = if s.timeouts > 0 {
                    ERROR_COLOR
                } else {
                    Color32::GRAY
                };
                ui.label(
                    RichText::new(s.timeouts.to_string())
                        .small()
                        .monospace()
                        .color(color),
                );
                ui.end_row();
            }
        });
}
