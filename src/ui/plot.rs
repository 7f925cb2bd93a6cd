//! The Plot panel (right-hand side, or a larger window of its own): receive and send
//! rates of the session over the last hour, and the values of the frame definition's
//! fields over time.
//!
//! Series are ticked by name; several share one plot, one plot each (stacked, their time
//! axes linked) or one plot with each series normalised. The view follows the latest
//! data over a chosen span until the user drags (pan) or turns the wheel (zoom the time
//! axis); "Latest" or a double-click follows again. Pausing freezes the view while the
//! data keeps being collected. The values under the cursor are shown with their time,
//! and the plots can be saved as a PNG.

mod sampling;
mod save;

use std::collections::{BTreeSet, VecDeque};
use std::ops::RangeInclusive;
use std::time::{Duration, Instant, SystemTime};

use egui::{Color32, Vec2b};
use egui_plot::{Corner, GridInput, GridMark, HoverPosition, Legend, Line, Plot, PlotPoints};

use crate::session::stats::human_bytes;
use crate::session::store::Store;

use super::i18n::{Lang, Texts};

pub use sampling::{RATE_PERIOD, RATE_SAMPLES, RateHistory, RateSample, visible_points, x_of};

/// A drawn series' name, unit and (for a normalised one) its min and max.
type SeriesLabel = (String, Unit, Option<(f64, f64)>);
/// Spans the view can follow, in minutes.
const SPANS_MIN: [u32; 6] = [1, 2, 5, 10, 30, 60];

/// Fields ticked by default when a definition appears.
const DEFAULT_FIELDS: usize = 3;

/// Smallest height of one plot (stacked plots scroll below that).
const MIN_PLOT_HEIGHT: f32 = 110.0;

/// Colours of the series, by their place in the list of all series.
const PALETTE: [Color32; 8] = [
    Color32::from_rgb(90, 180, 90),
    Color32::from_rgb(90, 150, 230),
    Color32::from_rgb(150, 210, 120),
    Color32::from_rgb(140, 180, 240),
    Color32::from_rgb(240, 160, 60),
    Color32::from_rgb(220, 90, 200),
    Color32::from_rgb(60, 200, 200),
    Color32::from_rgb(230, 90, 90),
];

/// How several series share the plot area.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Arrangement {
    /// One plot per unit (rates in bytes, rates in messages, each field), stacked, their
    /// time axes linked.
    #[default]
    Stacked,
    /// Every series on one plot with one value axis.
    Shared,
    /// Every series on one plot, each scaled to its own lowest..highest value in view.
    Normalised,
}

/// What the time axis reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimeAxis {
    /// Seconds before now (or before the pause).
    #[default]
    Ago,
    /// Local clock time.
    Clock,
}

/// One of the four rate series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateSeries {
    /// Received bytes per second.
    RxBytes,
    /// Sent bytes per second.
    TxBytes,
    /// Received messages (reads, datagrams) per second.
    RxMsgs,
    /// Sent messages (writes, datagrams) per second.
    TxMsgs,
}

impl RateSeries {
    /// All four, in the order of their checkboxes.
    pub const ALL: [RateSeries; 4] = [Self::RxBytes, Self::TxBytes, Self::RxMsgs, Self::TxMsgs];

    /// The series' name in the window.
    pub fn name(self, t: &Texts) -> &'static str {
        match self {
            Self::RxBytes => t.plot_rx_bytes,
            Self::TxBytes => t.plot_tx_bytes,
            Self::RxMsgs => t.plot_rx_msgs,
            Self::TxMsgs => t.plot_tx_msgs,
        }
    }

    fn value(self, s: &RateSample) -> f64 {
        match self {
            Self::RxBytes => s.rates.rx_bytes,
            Self::TxBytes => s.rates.tx_bytes,
            Self::RxMsgs => s.rates.rx_msgs,
            Self::TxMsgs => s.rates.tx_msgs,
        }
    }

    fn bytes(self) -> bool {
        matches!(self, Self::RxBytes | Self::TxBytes)
    }
}

/// Rate samples and the plot's view state.
pub struct PlotState {
    rates: RateHistory,
    /// Rate series ticked, in the order of [`RateSeries::ALL`].
    pub rates_shown: [bool; 4],
    /// Names of the fields ticked.
    pub fields_shown: BTreeSet<String>,
    /// Field names seen so far (a new one is ticked while few are).
    fields_seen: BTreeSet<String>,
    /// How the series share the area.
    pub arrangement: Arrangement,
    /// What the time axis reads.
    pub time_axis: TimeAxis,
    /// Minutes shown while following the latest data.
    pub span_min: u32,
    /// The view follows the latest data (else it stays where the user moved it).
    pub follow: bool,
    /// The view is frozen at this time; data keeps being collected.
    pub paused_at: Option<SystemTime>,
    /// The plot is shown in a window of its own.
    pub window_open: bool,
    /// The time range (x) shown last frame.
    view_x: Option<(f64, f64)>,
    /// Series drawn last frame and how many points each.
    drawn: Vec<(String, usize)>,
    /// Where the plots were drawn last frame (what a PNG holds).
    plots_rect: Option<egui::Rect>,
    save: save::PngSave,
}

impl Default for PlotState {
    fn default() -> Self {
        PlotState {
            rates: RateHistory::default(),
            rates_shown: [true, true, false, false],
            fields_shown: BTreeSet::new(),
            fields_seen: BTreeSet::new(),
            arrangement: Arrangement::default(),
            time_axis: TimeAxis::default(),
            span_min: 2,
            follow: true,
            paused_at: None,
            window_open: false,
            view_x: None,
            drawn: Vec::new(),
            plots_rect: None,
            save: save::PngSave::default(),
        }
    }
}

impl PlotState {
    /// Called every frame: takes a rate sample when one is due, and ticks the first
    /// fields of a new frame definition.
    pub fn sample(&mut self, now: Instant, store: &Store) {
        self.rates.sample(now, SystemTime::now(), store.stats.total);
        if let Some(def) = store.frame_def() {
            for field in &def.fields {
                if self.fields_seen.insert(field.name.clone())
                    && self.fields_shown.len() < DEFAULT_FIELDS
                {
                    self.fields_shown.insert(field.name.clone());
                }
            }
        }
    }

    /// The rate samples, oldest first.
    pub fn rate_samples(&self) -> &VecDeque<RateSample> {
        self.rates.samples()
    }

    /// The series drawn last frame, by name, with how many points each.
    pub fn drawn(&self) -> &[(String, usize)] {
        &self.drawn
    }

    /// The last PNG save's outcome: (succeeded, words).
    pub fn save_message(&self) -> Option<(bool, &str)> {
        self.save.message()
    }
}

/// What a series' values are, for axes and labels.
#[derive(Clone, Debug, PartialEq)]
enum Unit {
    BytesPerSec,
    PerSec,
    Field(String),
}

impl Unit {
    fn format(&self, value: f64) -> String {
        match self {
            Unit::BytesPerSec => format!("{}/s", human_bytes(value.max(0.0))),
            Unit::PerSec => format!("{}/s", short_number(value)),
            Unit::Field(unit) if unit.is_empty() => short_number(value),
            Unit::Field(unit) => format!("{} {unit}", short_number(value)),
        }
    }
}

/// One line to draw.
struct Series {
    name: String,
    unit: Unit,
    color: Color32,
    points: Vec<[f64; 2]>,
    /// Lowest value and span when normalised (to read real values back).
    norm: Option<(f64, f64)>,
}

/// A number in at most about six characters: `1234.5`, `0.0123`, `1.2e9`.
fn short_number(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e7).contains(&a) {
        format!("{v:.2e}")
    } else if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// Draws the Plot panel: in the side panel, or a note there while it is in its window.
pub fn plot_ui(ui: &mut egui::Ui, lang: Lang, state: &mut PlotState, store: &Store) {
    let t = lang.texts();
    state.save.poll(ui.ctx(), lang);
    if state.window_open {
        ui.label(t.plot_in_window);
        if ui.button(t.plot_put_back).clicked() {
            state.window_open = false;
        }
        let mut open = true;
        egui::Window::new(t.tab_plot)
            .id(ui.scope_id().with("plot-window"))
            .open(&mut open)
            // Left of the side panel, so its "Put back" button stays in reach.
            .default_pos([16.0, 96.0])
            .default_size([640.0, 460.0])
            .resizable(true)
            .show(ui.ctx(), |ui| body_ui(ui, lang, state, store));
        state.window_open &= open;
    } else {
        body_ui(ui, lang, state, store);
    }
}

/// The controls, the series to tick and the plots.
fn body_ui(ui: &mut egui::Ui, lang: Lang, state: &mut PlotState, store: &Store) {
    let t = lang.texts();
    controls_ui(ui, t, state);
    series_ui(ui, t, state, store);
    match state.save.message() {
        _ if state.save.busy() => {
            ui.label(t.plot_saving);
        }
        Some((ok, message)) => {
            let color = if ok {
                ui.visuals().text_color()
            } else {
                ui.visuals().error_fg_color
            };
            ui.add(egui::Label::new(egui::RichText::new(message).color(color)).wrap());
        }
        None => {}
    }
    let wall = SystemTime::now();
    let reference = x_of(state.paused_at.unwrap_or(wall));
    let span = f64::from(state.span_min) * 60.0;
    let range = match state.view_x {
        Some(view) if !state.follow => view,
        _ => (reference - span, reference),
    };
    let max_points = ((ui.available_width() * 2.0) as usize).clamp(200, 4000);
    let series = collect_series(t, state, store, range, max_points);
    state.drawn = series
        .iter()
        .flatten()
        .map(|s| (s.name.clone(), s.points.len()))
        .collect();
    if series.is_empty() {
        state.plots_rect = None;
        ui.weak(t.plot_pick);
        return;
    }
    let follow_to = state.follow.then_some((reference - span, reference));
    let scope = ui.scope(|ui| plots_ui(ui, t, state, series, follow_to, reference));
    state.plots_rect = Some(scope.response.rect);
    if state.follow && state.paused_at.is_none() {
        ui.ctx().request_repaint_after(Duration::from_millis(500));
    }
}

/// Pause, Latest, span, time axis, arrangement, Save PNG, Larger window.
fn controls_ui(ui: &mut egui::Ui, t: &Texts, state: &mut PlotState) {
    ui.horizontal_wrapped(|ui| {
        if state.paused_at.is_some() {
            if ui.button(t.plot_resume).clicked() {
                state.paused_at = None;
            }
        } else if ui
            .button(t.plot_pause)
            .on_hover_text(t.plot_pause_tip)
            .clicked()
        {
            state.paused_at = Some(SystemTime::now());
        }
        let latest = ui.add(egui::Button::selectable(state.follow, t.plot_latest));
        if latest.on_hover_text(t.plot_latest_tip).clicked() {
            state.follow = true;
            state.paused_at = None;
        }
        let minutes = t.plot_minutes;
        let span_before = state.span_min;
        super::widgets::enum_picker(
            ui,
            "plot-span",
            t.plot_span,
            &mut state.span_min,
            &SPANS_MIN,
            |m| format!("{m} {minutes}"),
        );
        if state.span_min != span_before {
            state.follow = true;
        }
        super::widgets::enum_picker(
            ui,
            "plot-time-axis",
            t.plot_axis,
            &mut state.time_axis,
            &[TimeAxis::Ago, TimeAxis::Clock],
            |a| match a {
                TimeAxis::Ago => t.plot_axis_ago.to_string(),
                TimeAxis::Clock => t.plot_axis_clock.to_string(),
            },
        );
        super::widgets::enum_picker(
            ui,
            "plot-arrangement",
            t.plot_layout,
            &mut state.arrangement,
            &[
                Arrangement::Stacked,
                Arrangement::Shared,
                Arrangement::Normalised,
            ],
            |a| match a {
                Arrangement::Stacked => t.plot_stacked.to_string(),
                Arrangement::Shared => t.plot_shared.to_string(),
                Arrangement::Normalised => t.plot_normalised.to_string(),
            },
        );
        let can_save = !state.save.busy() && state.plots_rect.is_some();
        let save = ui
            .add_enabled(can_save, egui::Button::new(t.plot_save))
            .on_hover_text(t.plot_save_tip);
        if save.clicked()
            && let Some(rect) = state.plots_rect
        {
            state.save.start(ui.ctx(), rect);
        }
        if !state.window_open
            && ui
                .button(t.plot_pop_out)
                .on_hover_text(t.plot_pop_out_tip)
                .clicked()
        {
            state.window_open = true;
        }
        if state.paused_at.is_some() {
            ui.colored_label(ui.visuals().warn_fg_color, t.plot_paused);
        }
    });
}

/// The checkboxes: the four rates, then the definition's fields.
fn series_ui(ui: &mut egui::Ui, t: &Texts, state: &mut PlotState, store: &Store) {
    ui.horizontal_wrapped(|ui| {
        for (i, rate) in RateSeries::ALL.iter().enumerate() {
            ui.checkbox(&mut state.rates_shown[i], rate.name(t));
        }
        match store.frame_def().filter(|d| !d.fields.is_empty()) {
            Some(def) => {
                for field in &def.fields {
                    let mut on = state.fields_shown.contains(&field.name);
                    if ui.checkbox(&mut on, field_label(field)).changed() {
                        if on {
                            state.fields_shown.insert(field.name.clone());
                        } else {
                            state.fields_shown.remove(&field.name);
                        }
                    }
                }
            }
            None => {
                ui.weak(t.plot_no_fields);
            }
        }
    });
}

fn field_label(field: &crate::protocol::FieldDef) -> String {
    if field.unit.is_empty() {
        field.name.clone()
    } else {
        format!("{} ({})", field.name, field.unit)
    }
}

/// The ticked series' points in `range`, grouped into the plots that draw them.
fn collect_series(
    t: &Texts,
    state: &PlotState,
    store: &Store,
    range: (f64, f64),
    max_points: usize,
) -> Vec<Vec<Series>> {
    let pause = state.paused_at.map(x_of);
    let upper = pause.map_or(range.1, |p| p.min(range.1));
    let cut = |mut points: Vec<[f64; 2]>| {
        if let Some(p) = pause {
            points.retain(|q| q[0] <= p);
        }
        points
    };
    // (group, series): 0 bytes/s, 1 messages/s, 2 + i field i.
    let mut all: Vec<(usize, Series)> = Vec::new();
    for (i, rate) in RateSeries::ALL.iter().enumerate() {
        if !state.rates_shown[i] {
            continue;
        }
        let points = visible_points(
            state.rates.samples(),
            |s| [x_of(s.at), rate.value(s)],
            (range.0, upper),
            max_points,
        );
        all.push((
            usize::from(!rate.bytes()),
            Series {
                name: rate.name(t).to_string(),
                unit: if rate.bytes() {
                    Unit::BytesPerSec
                } else {
                    Unit::PerSec
                },
                color: PALETTE[i],
                points: cut(points),
                norm: None,
            },
        ));
    }
    if let Some(def) = store.frame_def() {
        for (i, field) in def.fields.iter().enumerate() {
            if !state.fields_shown.contains(&field.name) {
                continue;
            }
            let Some(data) = store.field_series(i) else {
                continue;
            };
            let points = visible_points(
                data,
                |p| [x_of(p.at), p.value],
                (range.0, upper),
                max_points,
            );
            all.push((
                2 + i,
                Series {
                    name: field_label(field),
                    unit: Unit::Field(field.unit.clone()),
                    color: PALETTE[(4 + i) % PALETTE.len()],
                    points: cut(points),
                    norm: None,
                },
            ));
        }
    }
    match state.arrangement {
        Arrangement::Stacked => {
            let mut groups: Vec<(usize, Vec<Series>)> = Vec::new();
            for (g, s) in all {
                match groups.iter_mut().find(|(k, _)| *k == g) {
                    Some((_, list)) => list.push(s),
                    None => groups.push((g, vec![s])),
                }
            }
            groups.into_iter().map(|(_, list)| list).collect()
        }
        Arrangement::Shared | Arrangement::Normalised => {
            let mut list: Vec<Series> = all.into_iter().map(|(_, s)| s).collect();
            if state.arrangement == Arrangement::Normalised {
                for s in &mut list {
                    s.norm = Some(sampling::normalise(&mut s.points));
                }
            }
            if list.is_empty() {
                Vec::new()
            } else {
                vec![list]
            }
        }
    }
}

/// Draws the plots one under the other, their time axes and cursors linked.
fn plots_ui(
    ui: &mut egui::Ui,
    t: &Texts,
    state: &mut PlotState,
    groups: Vec<Vec<Series>>,
    follow_to: Option<(f64, f64)>,
    reference: f64,
) {
    let n = groups.len();
    let gap = ui.spacing().item_spacing.y;
    let height = ((ui.available_height() - gap * (n as f32 - 1.0)) / n as f32).max(MIN_PLOT_HEIGHT);
    let link = ui.scope_id().with("plot-x");
    let time_axis = state.time_axis;
    let mut moved = false;
    let mut back_to_latest = false;
    let mut view = None;
    let scroll_needed = height * n as f32 > ui.available_height() + 1.0;
    let draw = |ui: &mut egui::Ui| {
        for (i, group) in groups.into_iter().enumerate() {
            let normalised = group.iter().any(|s| s.norm.is_some());
            let axis_unit = match group.first() {
                Some(first) if !normalised && group.iter().all(|s| s.unit == first.unit) => {
                    Some(first.unit.clone())
                }
                _ => None,
            };
            let labels: Vec<SeriesLabel> = group
                .iter()
                .map(|s| (s.name.clone(), s.unit.clone(), s.norm))
                .collect();
            let now_word = t.plot_now;
            let plot = Plot::new(("sockscope-plot", i))
                .height(height)
                .legend(Legend::default().position(Corner::LeftTop))
                .link_axis(link, Vec2b::new(true, false))
                .link_cursor(link, Vec2b::new(true, false))
                .allow_drag(Vec2b::new(true, false))
                .allow_zoom(Vec2b::new(true, false))
                .allow_scroll(false)
                .allow_boxed_zoom(false)
                .show_axes(Vec2b::new(i + 1 == n, true))
                .y_axis_min_width(56.0)
                .x_grid_spacer(move |input| time_marks(input, time_axis, reference))
                .x_axis_formatter(move |mark, _| {
                    time_label(mark.value, time_axis, reference, now_word)
                })
                .y_axis_formatter(move |mark, _| match &axis_unit {
                    _ if normalised => format!("{:.0}%", mark.value * 100.0),
                    // Rates are never negative: no "0 B/s" marks below the zero line.
                    Some(Unit::BytesPerSec | Unit::PerSec) if mark.value < 0.0 => String::new(),
                    Some(unit) => unit.format(mark.value),
                    None => short_number(mark.value),
                })
                .label_formatter(move |pos| {
                    hover_label(pos, &labels, time_axis, reference, now_word)
                });
            let response = plot.show(ui, |pui| {
                if let Some((x0, x1)) = follow_to {
                    pui.set_plot_bounds_x(x0..=x1);
                }
                let mut zoomed = false;
                if pui.response().hovered() {
                    let wheel = pui.ctx().input(|i| i.smooth_scroll_delta.y);
                    if wheel != 0.0 {
                        let b = pui.plot_bounds();
                        let (x0, x1) = (b.min()[0], b.max()[0]);
                        let at = pui.pointer_coordinate().map_or((x0 + x1) / 2.0, |p| p.x);
                        let factor = f64::from(-wheel / 200.0).exp();
                        pui.set_plot_bounds_x(zoom_range(x0, x1, at, factor));
                        zoomed = true;
                    }
                }
                for s in group {
                    let line = Line::new(s.name, PlotPoints::from(s.points))
                        .color(s.color)
                        .width(1.5);
                    pui.line(line);
                }
                zoomed
            });
            let r = &response.response;
            let pinched = r.contains_pointer() && ui.input(|i| i.zoom_delta() != 1.0);
            if response.inner || r.dragged() || pinched {
                moved = true;
            }
            if r.double_clicked() {
                back_to_latest = true;
            }
            view = Some(response.transform.bounds().range_x());
        }
    };
    if scroll_needed {
        egui::ScrollArea::vertical().show(ui, draw);
    } else {
        draw(ui);
    }
    if back_to_latest {
        state.follow = true;
    } else if moved {
        state.follow = false;
    }
    if let Some(v) = view {
        state.view_x = Some((*v.start(), *v.end()));
    }
}

/// The time range [x0, x1] zoomed by `factor` (below 1: closer) around `at`.
fn zoom_range(x0: f64, x1: f64, at: f64, factor: f64) -> RangeInclusive<f64> {
    let factor = factor.clamp(0.2, 5.0);
    let (a, b) = (at - (at - x0) * factor, at + (x1 - at) * factor);
    if b - a < 0.5 { x0..=x1 } else { a..=b }
}

/// Steps of the time grid, in seconds.
const TIME_STEPS: [f64; 17] = [
    1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
    14_400.0, 43_200.0, 86_400.0,
];

/// Grid marks on round times: seconds before `reference` (Ago) or round clock times.
fn time_marks(input: GridInput, axis: TimeAxis, reference: f64) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    let base = input.base_step_size.abs().max(0.1);
    let Some(first) = TIME_STEPS.iter().position(|s| *s >= base) else {
        return Vec::new();
    };
    let origin = match axis {
        TimeAxis::Ago => reference,
        TimeAxis::Clock => -(crate::session::time::local_offset_at(SystemTime::now()) as f64),
    };
    // Three levels, each a multiple of the one below: 10 s, 30 s, 60 s.
    let mut levels: Vec<f64> = Vec::with_capacity(3);
    for &step in &TIME_STEPS[first..] {
        let fits = levels
            .last()
            .is_none_or(|&below| (step / below - (step / below).round()).abs() < 1e-9);
        if levels.len() < 3 && fits {
            levels.push(step);
        }
    }
    let mut marks: Vec<GridMark> = Vec::new();
    let Some(&small) = levels.first() else {
        return marks;
    };
    let start = ((lo - origin) / small).floor() as i64;
    let end = ((hi - origin) / small).ceil() as i64;
    if end - start > 2000 {
        return marks;
    }
    for k in start..=end {
        let value = origin + k as f64 * small;
        // The largest level this mark falls on decides its weight.
        let step_size = levels
            .iter()
            .rev()
            .find(|s| ((value - origin) / **s - ((value - origin) / **s).round()).abs() < 1e-6)
            .copied()
            .unwrap_or(small);
        marks.push(GridMark { value, step_size });
    }
    marks
}

/// A time axis label: `-90 s`, `-12:30` (minutes) or a clock time `14:05:09`.
fn time_label(x: f64, axis: TimeAxis, reference: f64, now_word: &str) -> String {
    match axis {
        TimeAxis::Ago => {
            let ago = (reference - x).round() as i64;
            let a = ago.unsigned_abs();
            let sign = if ago > 0 { "-" } else { "" };
            if ago == 0 {
                now_word.to_string()
            } else if a < 120 {
                format!("{sign}{a} s")
            } else {
                format!("{sign}{}:{:02}", a / 60, a % 60)
            }
        }
        TimeAxis::Clock => {
            let at = SystemTime::UNIX_EPOCH
                + Duration::try_from_secs_f64(x.max(0.0)).unwrap_or_default();
            let offset = crate::session::time::local_offset_at(at);
            let sod = (x.floor() as i64 + offset).rem_euclid(86_400);
            format!("{:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60)
        }
    }
}

/// The label under the cursor: the nearest series' name, its real value and the time.
fn hover_label(
    pos: &HoverPosition<'_>,
    labels: &[SeriesLabel],
    axis: TimeAxis,
    reference: f64,
    now_word: &str,
) -> Option<String> {
    match pos {
        HoverPosition::NearDataPoint {
            plot_name,
            position,
            ..
        } => {
            let (_, unit, norm) = labels.iter().find(|(n, _, _)| n.as_str() == *plot_name)?;
            let value = norm.map_or(position.y, |(lo, span)| lo + position.y * span);
            let time = time_label(position.x, TimeAxis::Clock, reference, now_word);
            let ago = time_label(position.x, TimeAxis::Ago, reference, now_word);
            let when = match axis {
                TimeAxis::Ago => format!("{ago} ({time})"),
                TimeAxis::Clock => time,
            };
            Some(format!("{plot_name}\n{}\n{when}", unit.format(value)))
        }
        HoverPosition::Elsewhere { position } => {
            Some(time_label(position.x, axis, reference, now_word))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seconds-ago labels count back from the reference, minutes past two minutes.
    #[test]
    fn ago_labels() {
        assert_eq!(time_label(100.0, TimeAxis::Ago, 100.0, "now"), "now");
        assert_eq!(time_label(70.0, TimeAxis::Ago, 100.0, "now"), "-30 s");
        assert_eq!(time_label(-200.0, TimeAxis::Ago, 100.0, "now"), "-5:00");
    }

    /// Grid marks fall on round seconds before the reference.
    #[test]
    fn marks_are_round_before_the_reference() {
        let reference = 1_000_000.3;
        let input = GridInput {
            bounds: (reference - 120.0, reference),
            base_step_size: 7.0,
        };
        let marks = time_marks(input, TimeAxis::Ago, reference);
        assert!(!marks.is_empty());
        for m in &marks {
            let ago = reference - m.value;
            assert!((ago / 10.0 - (ago / 10.0).round()).abs() < 1e-6, "{ago}");
        }
        assert!(marks.iter().any(|m| m.step_size == 30.0));
    }

    /// Wheel zoom keeps the time under the pointer in place and never collapses.
    #[test]
    fn zoom_around_pointer() {
        let r = zoom_range(0.0, 100.0, 25.0, 0.5);
        assert_eq!((*r.start(), *r.end()), (12.5, 62.5));
        let r = zoom_range(0.0, 0.6, 0.3, 0.2);
        assert_eq!((*r.start(), *r.end()), (0.0, 0.6));
    }

    /// Values read short and keep their unit.
    #[test]
    fn value_formats() {
        assert_eq!(Unit::BytesPerSec.format(2048.0), "2.00 KiB/s");
        assert_eq!(Unit::Field("°C".into()).format(21.5), "21.5 °C");
        assert_eq!(Unit::PerSec.format(3.0), "3.000/s");
        assert_eq!(short_number(1.5e9), "1.50e9");
    }
}
