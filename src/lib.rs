//! Sockscope: a desktop network debugging assistant (网络调试助手) for TCP clients,
//! TCP servers with many clients, and UDP, with hex and text views, GBK / UTF-8 and other
//! encodings side by side, and exact byte accounting under floods.
//!
//! # Layout
//!
//! - [`engine`]: sockets on worker threads. Driven by method calls on a
//!   [`engine::SessionHandle`], it reports through a bounded queue of [`engine::Event`]s and
//!   wakes its consumer through a closure (no egui here).
//! - [`codec`]: bytes ⇄ what people read and type: hex, streaming text decoders for every
//!   common encoding, escapes, line endings, checksums, framing.
//! - [`session`]: the capped record store and counters the window draws from.
//! - [`ui`]: the eframe application: a window of tabs, one session each; panels take
//!   only their own state and push `UiAction`s that one place applies; English and
//!   简体中文 text.
//! - [`automation`]: periodic sends, file sends, quick commands and auto-reply rules,
//!   run on workers and inside the engine's readers (no egui).
//! - [`cli`]: command-line arguments that open sessions at start-up (imports no window
//!   types, so a session without a window needs only `cli`, `engine`, `session` and
//!   `automation`).
//! - [`headless`]: one session without a window (`--headless`): the engine, recorder and
//!   auto-reply rules, a status line on a terminal, one line per record on a pipe.
//! - [`plan`]: test plans (`sockscope test PLAN`): send / expect steps with timeouts,
//!   round-trip times, text / JSON / JUnit reports and a pass/fail exit status.
//! - [`lang`]: the window-wide choices the command line can set (language, theme).
//! - [`sync`]: the helpers every threaded layer shares: a poison-tolerant lock, panic
//!   messages, and named threads whose panics are caught and handed back.
//! - [`platform`]: per-OS services of the binary: Ctrl+C / SIGTERM / SIGHUP / Windows
//!   console events, the Windows parent console, the app icon.
//!
//! Worker threads never touch the UI; the UI thread never touches a socket or a file.

pub mod automation;
pub mod cli;
pub mod codec;
pub mod engine;
pub mod headless;
pub mod lang;
pub mod plan;
pub mod platform;
pub mod protocol;
pub mod session;
pub mod sync;
pub mod ui;
