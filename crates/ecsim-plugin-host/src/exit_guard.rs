//! A plugin library that ends the process is a failure, never a success.
//!
//! Loading a library runs its constructors, and a plugin function runs the library's code: either
//! may call `exit(0)`. Nothing in ecsim can stop that, but it can refuse to let it pass for
//! success: [`arm`] registers an `atexit` handler that, unless the program has [`disarm`]ed it
//! on its own way out, says what happened on stderr and ends the process with the status it was
//! armed with (`ecsim` arms it with its plugin exit code, 6).

use std::sync::{
    Once, OnceLock,
    atomic::{AtomicBool, AtomicI32, Ordering},
};

static ARMED: AtomicBool = AtomicBool::new(false);
static STATUS: AtomicI32 = AtomicI32::new(1);
static REGISTER: Once = Once::new();

const MESSAGE: &[u8] = b"error: a plugin library ended the process (it called exit()) before ecsim was done; \
what ecsim did is incomplete. Check the library's constructors and functions (ecsim plugin inspect LIB)\n";

/// Another message than [`MESSAGE`], when the program has one (the host process of an isolated
/// plugin, whose exit ecsim reports).
static OTHER_MESSAGE: OnceLock<&'static [u8]> = OnceLock::new();

extern "C" fn on_exit() {
    if ARMED.load(Ordering::SeqCst) {
        let message = OTHER_MESSAGE.get().copied().unwrap_or(MESSAGE);
        // SAFETY: write(2) with a valid buffer and its length; a failed write is ignored, as
        // there is nowhere else to say it.
        let _ = unsafe { libc::write(2, message.as_ptr().cast(), message.len()) };
        // SAFETY: _exit ends the process at once, which is the point: the exit() in progress
        // would report success.
        unsafe { libc::_exit(STATUS.load(Ordering::SeqCst)) };
    }
}

/// From now on, an `exit()` that the program did not [`disarm`] first ends the process with
/// `status` and a message instead of the status it was given.
pub fn arm(status: u8) {
    STATUS.store(i32::from(status), Ordering::SeqCst);
    REGISTER.call_once(|| {
        // SAFETY: `on_exit` is an `extern "C" fn()` that lives as long as the program.
        let registered = unsafe { libc::atexit(on_exit) };
        if registered != 0 {
            tracing::warn!(
                "cannot register the exit guard: a library's exit() would pass unnoticed"
            );
        }
    });
    ARMED.store(true, Ordering::SeqCst);
}

/// Says `message` (a line, ending in a newline) instead of the default one when the guard
/// fires. The first message set stays.
pub fn set_message(message: &'static [u8]) {
    let _ = OTHER_MESSAGE.set(message);
}

/// The program is ending on its own terms: `exit()` may report whatever it is given.
pub fn disarm() {
    ARMED.store(false, Ordering::SeqCst);
}
