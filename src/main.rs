//! Sockscope's binary: parse the command line, then open the window, or run one session
//! without it (`--headless`), or run test plans (`test`). The last two never start
//! eframe, so they need no display.

// Windows release builds are GUI programs: no console window opens behind the app
// (`--help` and start-up errors attach to the starting terminal's console instead).
#![cfg_attr(all(windows, not(debug_assertions)), windows_subsystem = "windows")]

use std::process::ExitCode;

use sockscope::cli::{Parsed, USAGE, parse_args};
use sockscope::platform::{console, icon, signals};
use sockscope::ui::SockscopeApp;

fn main() -> ExitCode {
    // Arguments that are not valid Unicode are refused in words rather than panicking.
    let args: Result<Vec<String>, _> = std::env::args_os()
        .skip(1)
        .map(|a| {
            a.into_string()
                .map_err(|a| format!("argument {a:?} is not valid Unicode"))
        })
        .collect();
    let parsed = args.and_then(parse_args);
    let options = match parsed {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Headless(options)) => {
            console::attach_parent();
            limits::raise_open_file_limit();
            return ExitCode::from(sockscope::headless::run(&options));
        }
        Ok(Parsed::Test(options)) => {
            console::attach_parent();
            limits::raise_open_file_limit();
            return ExitCode::from(sockscope::plan::run_cli(&options));
        }
        Ok(Parsed::Print(text)) => {
            console::attach_parent();
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            console::attach_parent();
            eprintln!("sockscope: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    limits::raise_open_file_limit();
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("Sockscope")
        .with_inner_size([1180.0, 760.0])
        .with_min_inner_size([640.0, 420.0]);
    if let Some(icon) = icon::window_icon() {
        viewport = viewport.with_icon(icon);
    }
    if let Some((width, height)) = options.size {
        viewport = viewport.with_inner_size([f32::from(width), f32::from(height)]);
    } else if options.screenshot.is_some() {
        // Screenshots have a fixed size whatever was stored.
        viewport = viewport.with_inner_size([1280.0, 800.0]);
    }
    let native = eframe::NativeOptions {
        viewport,
        persist_window: options.persist && options.screenshot.is_none() && options.size.is_none(),
        ..eframe::NativeOptions::default()
    };
    let result = eframe::run_native(
        "Sockscope",
        native,
        Box::new(move |cc| {
            // Ctrl+C, SIGTERM, SIGHUP, console close: close the window the normal way, so
            // `on_exit` stops the session and finishes the log file.
            let ctx = cc.egui_ctx.clone();
            if let Err(error) = signals::on_shutdown_request(move || {
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                ctx.request_repaint();
            }) {
                eprintln!("sockscope: Ctrl+C will not finish log files cleanly: {error}");
            }
            Ok(Box::new(SockscopeApp::new(cc, options)))
        }),
    );
    signals::finished();
    match result {
        Ok(()) if sockscope::ui::SCREENSHOT_FAILED.load(std::sync::atomic::Ordering::Acquire) => {
            ExitCode::FAILURE
        }
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            console::attach_parent();
            eprintln!("sockscope: cannot open the window: {error}");
            ExitCode::FAILURE
        }
    }
}

/// A server holding thousands of clients needs one descriptor each; desktops often start
/// programs with a soft limit of 1024. Raise the soft limit to the hard limit at start-up
/// (when the limit still stops accepts, the engine says so in the window).
mod limits {
    /// Raises RLIMIT_NOFILE's soft limit as far as allowed.
    #[cfg(unix)]
    pub fn raise_open_file_limit() {
        // SAFETY: getrlimit/setrlimit only read and write the struct we own.
        unsafe {
            let mut limit: libc::rlimit = std::mem::zeroed();
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return;
            }
            // macOS refuses values above OPEN_MAX (10240) even when the hard limit is
            // "unlimited": try the hard limit, then that.
            for wanted in [limit.rlim_max.min(1 << 20), 10_240] {
                if wanted <= limit.rlim_cur {
                    return;
                }
                let raised = libc::rlimit {
                    rlim_cur: wanted,
                    rlim_max: limit.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    return;
                }
            }
        }
    }

    /// Windows has no such per-process descriptor limit for sockets.
    #[cfg(not(unix))]
    pub fn raise_open_file_limit() {}
}
