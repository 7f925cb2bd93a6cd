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

/// Makes the console interpret ANSI escape sequences (colours, "clear line") written to
/// standard output and standard error, for the headless status line and coloured test
/// results. True when they will be understood: always on Unix terminals; on Windows when
/// the console accepts virtual-terminal processing (Windows 10 and later).
pub fn enable_ansi() -> bool {
    #[cfg(windows)]
    {
        use windows_sys::Win32::System::Console::{
            ENABLE_VIRTUAL_TERMINAL_PROCESSING, GetConsoleMode, GetStdHandle, STD_ERROR_HANDLE,
            STD_OUTPUT_HANDLE, SetConsoleMode,
        };
        let mut all = true;
        for which in [STD_OUTPUT_HANDLE, STD_ERROR_HANDLE] {
            // SAFETY: GetStdHandle has no preconditions; the mode is read into a local
            // and written back with one more flag. A handle that is not a console
            // (a pipe) fails GetConsoleMode and is left alone.
            unsafe {
                let handle = GetStdHandle(which);
                let mut mode = 0;
                if GetConsoleMode(handle, &mut mode) == 0
                    || SetConsoleMode(handle, mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING) == 0
                {
                    all = false;
                }
            }
        }
        all
    }
    #[cfg(not(windows))]
    {
        true
    }
}
