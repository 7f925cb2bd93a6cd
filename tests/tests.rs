//! Sockscope's one integration-test binary: real sockets on loopback, every wait bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod automation;
mod engine;
mod faults;
mod frames;
mod frames_ui;
mod headless;
mod plot;
mod recorder;
mod tls;
mod tls_sessions;
mod tls_ui;
mod ui;
mod util;
