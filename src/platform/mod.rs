//! What the binary needs from each operating system beyond the window: shutdown
//! requests from outside (Unix signals, Windows console events), the parent console for
//! `--help` and start-up errors in a Windows release build, and the app icon.
//!
//! Imports: std, `libc` on Unix, `windows-sys` on Windows, and egui for the icon type.

pub mod console;
pub mod icon;
pub mod signals;
