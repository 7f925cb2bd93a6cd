//! The session layer: the capped in-memory record store the window draws from, the
//! counters, and time formatting for views and logs. No egui, no sockets.

pub mod hash;
pub mod pcapng;
pub mod recorder;
pub mod stats;
pub mod store;
pub mod time;
pub mod view;

pub use view::{Framing, ViewMode};
