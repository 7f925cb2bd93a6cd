//! Sockscope's binary: parse the command line, open the window.

use std::process::ExitCode;

use sockscope::cli::{Parsed, USAGE, parse_args};
use sockscope::ui::SockscopeApp;

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("sockscope: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("Sockscope")
        .with_inner_size([1180.0, 760.0])
        .with_min_inner_size([640.0, 420.0]);
    if options.screenshot.is_some() {
        // Screenshots have a fixed size whatever was stored.
        viewport = viewport.with_inner_size([1280.0, 800.0]);
    }
    let native = eframe::NativeOptions {
        viewport,
        persist_window: options.persist && options.screenshot.is_none(),
        ..eframe::NativeOptions::default()
    };
    let result = eframe::run_native(
        "Sockscope",
        native,
        Box::new(move |cc| Ok(Box::new(SockscopeApp::new(cc, options)))),
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sockscope: cannot open the window: {error}");
            ExitCode::FAILURE
        }
    }
}
