//! The Plot panel (right-hand side): receive and send rates of the session over the
//! last minutes, and the values of the frame definition's fields over time.

use std::time::Instant;

use crate::session::store::Store;

use super::i18n::Lang;

/// Rate samples and the plot's view state.
#[derive(Default)]
pub struct PlotState {}

impl PlotState {
    /// Called every frame: takes a rate sample when one is due.
    pub fn sample(&mut self, _now: Instant, _store: &Store) {}
}

/// Draws the Plot panel.
pub fn plot_ui(ui: &mut egui::Ui, lang: Lang, _state: &mut PlotState, _store: &Store) {
    ui.label(lang.texts().plot_empty);
}
