//! The Frames panel (right-hand side): the frame definition received bytes are cut by
//! (a preset or one's own: sync bytes, length rule, idle gap, checksum), its fields, and
//! the round-trip times of sends.

use crate::session::store::Store;

use super::action::UiAction;
use super::i18n::Lang;

/// What the Frames panel keeps between frames (the definition itself persists in the
/// tab's settings).
#[derive(Default)]
pub struct FramesState {}

/// Draws the Frames panel.
pub fn frames_ui(
    ui: &mut egui::Ui,
    lang: Lang,
    _state: &mut FramesState,
    store: &Store,
    _actions: &mut Vec<UiAction>,
) {
    let t = lang.texts();
    if store.frame_def().is_none() {
        ui.label(t.frames_none);
    }
}
