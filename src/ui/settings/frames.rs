//! The Frames panel's settings: the frame definition received bytes are cut by (a preset
//! or one's own, with its fields), how long a send waits for its answer, and the file
//! definitions are exported to and imported from.

use serde::{Deserialize, Serialize};

use crate::protocol::FrameDef;

/// The default round-trip timeout in ms.
pub const DEFAULT_RTT_TIMEOUT_MS: u64 = 2000;

/// The Frames panel's settings (all with serde defaults: settings written before frame
/// definitions existed load with none).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FrameSettings {
    /// The applied definition (None: received bytes are cut by the view's framing).
    pub def: Option<FrameDef>,
    /// A send unanswered this long counts as a timeout, in ms.
    pub rtt_timeout_ms: u64,
    /// The JSON file of the last export or import (the fallback when no file dialog
    /// can be shown).
    pub path: String,
}

impl Default for FrameSettings {
    fn default() -> Self {
        FrameSettings {
            def: None,
            rtt_timeout_ms: DEFAULT_RTT_TIMEOUT_MS,
            path: String::new(),
        }
    }
}

impl FrameSettings {
    /// The definition the store should cut by: the applied one, unless it has a problem
    /// (a hand-edited settings file), in which case none.
    pub fn usable_def(&self) -> Option<FrameDef> {
        self.def.clone().filter(|d| d.problem().is_none())
    }

    /// The round-trip timeout (at least 1 ms).
    pub fn rtt_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.rtt_timeout_ms.max(1))
    }
}
