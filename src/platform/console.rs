//! Text output of a Windows release build.
//!
//! A release `sockscope.exe` is a GUI-subsystem program (no console window opens behind
//! it), so Windows gives it no console even when started from a terminal. Before printing
//! `--help`, `--version` or a start-up error, [`attach_parent`] attaches to the console of
//! the terminal that started it, if any; when output is redirected (`> file`, a pipe),
//! the inherited handles are kept (AttachConsole replaces standard handles only when the
//! process was not given its own). The window itself never attaches: a console-attached
//! GUI program would also receive every later Ctrl+C typed at that prompt.

/// Attaches to the parent process's console so what follows is printed there (Windows
/// release builds only; elsewhere standard output already goes to the terminal).
pub fn attach_parent() {
    #[cfg(all(windows, not(debug_assertions)))]
    {
        use windows_sys::Win32::System::Console::{ATTACH_PARENT_PROCESS, AttachConsole};
        // SAFETY: no pointers; fails harmlessly when there is no parent console or the
        // process already has one.
        unsafe {
            AttachConsole(ATTACH_PARENT_PROCESS);
        }
    }
}
