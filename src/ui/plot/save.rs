//! Saving the plots as a PNG: the window is captured (`ViewportCommand::Screenshot`),
//! cut to the plots' rectangle, then a helper thread asks where to save it (rfd) and
//! writes the file, so the UI thread never waits. When no dialog can be shown the file
//! goes to the log folder under a dated name, and the message says so.

use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::lang::Lang;
use crate::session::recorder::LogFormat;
use crate::ui::log::default_log_path;
use crate::ui::screenshot::write_png;

/// rfd answers this fast only when it could not show a dialog at all.
const DIALOG_NOT_SHOWN: Duration = Duration::from_millis(250);

/// How long a capture may take before it counts as failed.
const CAPTURE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a save went.
#[derive(Debug)]
enum Saved {
    /// Written where the user chose.
    Chosen(PathBuf),
    /// No dialog could be shown: written to the log folder.
    Default(PathBuf),
    /// The user closed the dialog.
    Cancelled,
}

enum Stage {
    /// The window capture was asked for.
    Capturing {
        rect: egui::Rect,
        pixels_per_point: f32,
        image: mpsc::Receiver<Arc<egui::ColorImage>>,
        asked: Instant,
    },
    /// The helper thread asks for a path and writes.
    Writing(JoinHandle<Result<Result<Saved, String>, String>>),
}

/// A PNG save in progress and the last outcome in words.
#[derive(Default)]
pub struct PngSave {
    stage: Option<Stage>,
    message: Option<(bool, String)>,
}

impl PngSave {
    /// True while a save is under way.
    pub fn busy(&self) -> bool {
        self.stage.is_some()
    }

    /// The last outcome: (succeeded, words).
    pub fn message(&self) -> Option<(bool, &str)> {
        self.message.as_ref().map(|(ok, m)| (*ok, m.as_str()))
    }

    /// Captures the window and saves `rect` (in points) of it.
    pub fn start(&mut self, ctx: &egui::Context, rect: egui::Rect) {
        let (tx, rx) = mpsc::channel();
        let waker = ctx.clone();
        ctx.request_screenshot(move |image| {
            // The plot may have been closed meanwhile: nobody listening is fine.
            let _ = tx.send(image);
            waker.request_repaint();
        });
        self.message = None;
        self.stage = Some(Stage::Capturing {
            rect,
            pixels_per_point: ctx.pixels_per_point(),
            image: rx,
            asked: Instant::now(),
        });
    }

    /// Moves a save along; called every frame the plot is drawn.
    pub fn poll(&mut self, ctx: &egui::Context, lang: Lang) {
        let t = lang.texts();
        match self.stage.take() {
            None => {}
            Some(Stage::Capturing {
                rect,
                pixels_per_point,
                image,
                asked,
            }) => match image.try_recv() {
                Ok(image) => {
                    // Only what lies inside the captured image (a window may have moved).
                    let [w, h] = image.size;
                    let whole = egui::Rect::from_min_size(
                        egui::Pos2::ZERO,
                        egui::vec2(w as f32, h as f32) / pixels_per_point,
                    );
                    let inside = rect.intersect(whole);
                    if !inside.is_positive() {
                        self.fail(t.plot_save_failed, t.plot_capture_failed);
                        return;
                    }
                    let cut = image.region(&inside, Some(pixels_per_point));
                    match crate::sync::spawn("plot-png", move || choose_and_write(&cut)) {
                        Ok(handle) => self.stage = Some(Stage::Writing(handle)),
                        Err(e) => self.fail(t.plot_save_failed, &e.to_string()),
                    }
                }
                Err(mpsc::TryRecvError::Empty) if asked.elapsed() < CAPTURE_TIMEOUT => {
                    ctx.request_repaint_after(Duration::from_millis(50));
                    self.stage = Some(Stage::Capturing {
                        rect,
                        pixels_per_point,
                        image,
                        asked,
                    });
                }
                Err(_) => self.fail(t.plot_save_failed, t.plot_capture_failed),
            },
            Some(Stage::Writing(handle)) if !handle.is_finished() => {
                ctx.request_repaint_after(Duration::from_millis(100));
                self.stage = Some(Stage::Writing(handle));
            }
            Some(Stage::Writing(handle)) => {
                let outcome = handle
                    .join()
                    .unwrap_or_else(|p| Err(crate::sync::panic_message(p.as_ref())));
                match outcome.and_then(|r| r) {
                    Ok(Saved::Chosen(path)) => {
                        self.message =
                            Some((true, format!("{} {}", t.plot_saved_to, path.display())));
                    }
                    Ok(Saved::Default(path)) => {
                        self.message = Some((
                            true,
                            format!(
                                "{} {} {}",
                                t.plot_no_dialog,
                                t.plot_saved_to,
                                path.display()
                            ),
                        ));
                    }
                    Ok(Saved::Cancelled) => self.message = Some((true, t.plot_cancelled.into())),
                    Err(e) => self.fail(t.plot_save_failed, &e),
                }
            }
        }
    }

    fn fail(&mut self, what: &str, why: &str) {
        self.message = Some((false, format!("{what}: {why}")));
    }
}

/// Asks for a path (off the UI thread) and writes `image` there, or to the log folder
/// when no dialog could be shown.
fn choose_and_write(image: &egui::ColorImage) -> Result<Saved, String> {
    let default = default_log_path("plot", LogFormat::Text).with_extension("png");
    let mut dialog = rfd::FileDialog::new().add_filter("PNG", &["png"]);
    if let Some(dir) = default.parent().filter(|d| d.is_dir()) {
        dialog = dialog.set_directory(dir);
    }
    if let Some(name) = default.file_name() {
        dialog = dialog.set_file_name(name.to_string_lossy());
    }
    let asked = Instant::now();
    let saved = match dialog.save_file() {
        Some(path) => Saved::Chosen(path),
        None if asked.elapsed() < DIALOG_NOT_SHOWN => Saved::Default(default),
        None => return Ok(Saved::Cancelled),
    };
    let path = match &saved {
        Saved::Chosen(p) | Saved::Default(p) => p,
        Saved::Cancelled => return Ok(saved),
    };
    write_png(path, image).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(saved)
}
