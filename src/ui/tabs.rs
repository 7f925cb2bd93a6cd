//! The tab bar: one tab per session, with an activity mark for background tabs that
//! received data, "+" for a new tab, "×" to close, double-click or right-click to rename,
//! right-click to move. What the user does is returned as [`TabAction`]s for the app.

use egui::{RichText, TextEdit, Ui};

use super::i18n::Texts;
use super::widgets::{ERROR_COLOR, OK_COLOR, RX_COLOR};

/// What the tab bar asks the app to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TabAction {
    /// Open a new tab (a copy of the active tab's settings, stopped).
    New,
    /// Bring this tab to the front.
    Select(usize),
    /// Close this tab (its session stops, its log is finished).
    Close(usize),
    /// Move a tab to another position.
    Move {
        /// Where it is.
        from: usize,
        /// Where it goes.
        to: usize,
    },
    /// Start renaming this tab.
    StartRename(usize),
    /// Give this tab a name (empty: named after its session again).
    Rename(usize, String),
}

/// What the tab bar shows of one tab.
#[derive(Clone, Debug)]
pub struct TabLabel {
    /// The tab's title.
    pub title: String,
    /// Its session runs.
    pub running: bool,
    /// Records received while it was in the background.
    pub unseen: u64,
}

/// Draws the tab bar. `renaming` holds the tab being renamed and the name typed so far.
pub fn tab_bar_ui(
    ui: &mut Ui,
    t: &Texts,
    labels: &[TabLabel],
    active: usize,
    renaming: &mut Option<(usize, String)>,
    actions: &mut Vec<TabAction>,
) {
    let count = labels.len();
    for (i, label) in labels.iter().enumerate() {
        if let Some((index, name)) = renaming
            && *index == i
        {
            let response = ui.add(
                TextEdit::singleline(name)
                    .desired_width(140.0)
                    .hint_text(label.title.as_str()),
            );
            response.request_focus();
            if response.lost_focus() || ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                actions.push(TabAction::Rename(i, name.clone()));
            }
            continue;
        }
        let dot = RichText::new("●").color(if label.running {
            OK_COLOR
        } else {
            egui::Color32::GRAY
        });
        ui.label(dot).on_hover_text(if label.running {
            t.tab_running
        } else {
            t.tab_stopped
        });
        let mut text = label.title.clone();
        if label.unseen > 0 && i != active {
            text.push_str(&format!(" +{}", label.unseen));
        }
        let mut rich = RichText::new(text);
        if label.unseen > 0 && i != active {
            rich = rich.color(RX_COLOR).strong();
        }
        let response = ui
            .selectable_label(i == active, rich)
            .on_hover_text(t.tab_tip);
        if response.clicked() {
            actions.push(TabAction::Select(i));
        }
        if response.double_clicked() {
            actions.push(TabAction::StartRename(i));
        }
        response.context_menu(|ui| {
            if ui.button(t.rename).clicked() {
                actions.push(TabAction::StartRename(i));
                ui.close();
            }
            if ui
                .add_enabled(i > 0, egui::Button::new(t.move_left))
                .clicked()
            {
                actions.push(TabAction::Move { from: i, to: i - 1 });
                ui.close();
            }
            if ui
                .add_enabled(i + 1 < count, egui::Button::new(t.move_right))
                .clicked()
            {
                actions.push(TabAction::Move { from: i, to: i + 1 });
                ui.close();
            }
            if ui.button(t.close_tab).clicked() {
                actions.push(TabAction::Close(i));
                ui.close();
            }
        });
        if ui
            .small_button(RichText::new("×").color(ERROR_COLOR))
            .on_hover_text(t.close_tab)
            .clicked()
        {
            actions.push(TabAction::Close(i));
        }
        ui.separator();
    }
    if ui
        .add_enabled(
            count < super::settings::MAX_TABS,
            egui::Button::new(RichText::new("+").strong()),
        )
        .on_hover_text(t.new_tab)
        .clicked()
    {
        actions.push(TabAction::New);
    }
}
