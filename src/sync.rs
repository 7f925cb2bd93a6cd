//! Thread and lock helpers shared by every layer that runs workers (engine, session,
//! automation, ui): one poison-tolerant [`lock`], one [`panic_message`], and one way to
//! start a named thread whose panic is caught and handed back ([`spawn`],
//! [`spawn_with_stack`]).
//!
//! Why poison-tolerant: a worker that panics is caught and reported (see the design's
//! "a worker never panics the app"); the state it held a lock on must stay usable by
//! everyone else, so a poisoned mutex is simply taken over.
//!
//! A thread started here never unwinds past its body: the panic becomes
//! `Err(message)` in the [`JoinHandle`]'s result. Sites that must report a panic on the
//! thread itself, before the values their body owns are dropped (the engine turns a
//! worker panic into `Event::Error` before the connection's `Closed`), catch inside
//! their body as well and word the payload with [`panic_message`].

use std::any::Any;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::{Builder, JoinHandle};

/// Locks `m`, recovering from poisoning: a panicked (and reported) worker must not take
/// the state it shared down with it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The text of a caught panic payload (`panic!("...")` with or without arguments);
/// `"unknown panic"` for any other payload.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Starts a thread named `name` running `f`, with the platform's default stack. A panic
/// in `f` is caught: joining gives `Err(message)` instead of unwinding further.
///
/// Fails only when the OS refuses the thread (the error says why).
pub fn spawn<F, T>(name: impl Into<String>, f: F) -> io::Result<JoinHandle<Result<T, String>>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    start(Builder::new().name(name.into()), f)
}

/// [`spawn`] with a stack of `stack` bytes (workers that exist by the thousand, one per
/// client, keep theirs small).
pub fn spawn_with_stack<F, T>(
    name: impl Into<String>,
    stack: usize,
    f: F,
) -> io::Result<JoinHandle<Result<T, String>>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    start(Builder::new().name(name.into()).stack_size(stack), f)
}

fn start<F, T>(builder: Builder, f: F) -> io::Result<JoinHandle<Result<T, String>>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    builder.spawn(move || catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_message(p.as_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A thread's result comes back through the handle, and it runs under its name.
    #[test]
    fn spawn_returns_result_and_names_thread() {
        let handle = spawn("sockscope-test-named", || {
            std::thread::current().name().map(str::to_string)
        })
        .unwrap();
        assert_eq!(
            handle.join().unwrap(),
            Ok(Some("sockscope-test-named".to_string()))
        );
        let handle = spawn_with_stack("sockscope-test-stack", 256 << 10, || 6 * 7).unwrap();
        assert_eq!(handle.join().unwrap(), Ok(42));
    }

    /// A panic is caught and handed back as its message, with or without arguments.
    #[test]
    fn panics_come_back_as_messages() {
        let handle = spawn("sockscope-test-panic", || -> u32 { panic!("boom") }).unwrap();
        assert_eq!(handle.join().unwrap(), Err("boom".to_string()));
        let n = 3;
        let handle = spawn_with_stack("sockscope-test-panic2", 256 << 10, move || -> u32 {
            panic!("boom {n}")
        })
        .unwrap();
        assert_eq!(handle.join().unwrap(), Err("boom 3".to_string()));
        let payload: Box<dyn Any + Send> = Box::new(17u8);
        assert_eq!(panic_message(payload.as_ref()), "unknown panic");
    }

    /// A mutex poisoned by a panicking holder is still usable through `lock`.
    #[test]
    fn lock_survives_poison() {
        let m = Arc::new(Mutex::new(1));
        let held = m.clone();
        let handle = spawn("sockscope-test-poison", move || {
            let _guard = held.lock().unwrap();
            panic!("poison it");
        })
        .unwrap();
        assert!(handle.join().unwrap().is_err());
        assert!(m.is_poisoned());
        *lock(&m) += 1;
        assert_eq!(*lock(&m), 2);
    }
}
