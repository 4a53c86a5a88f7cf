//! Signals and panics: the two ways a command is stopped from outside its own logic.
//!
//! Both are turned into a request to stop (a [`Stop`]) for whatever the command has under way,
//! so that a replay ends the way it ends normally — summary, delivery report, everything printed
//! so far flushed — and then with an exit status that says it did not finish: 130 for a
//! signal, 8 for a panic. A panic is a bug and never a success: [`panicked`] is checked by
//! `main` after every command, whatever it returned.
//!
//! Signals are caught only by the commands that ask ([`on_signal`]): a client command (`env`,
//! `info`) keeps Ctrl-C's default, which ends it at once.

use std::sync::{Mutex, OnceLock};

use ecsim_replay::{Stopped, driver::Stop};

/// The first panic's message and place.
static PANIC: OnceLock<String> = OnceLock::new();

/// The stop a panic requests: the command's, once it has one.
static ON_PANIC: Mutex<Option<Stop>> = Mutex::new(None);

/// What a signal does now.
type Listener = Box<dyn Fn() + Send>;
static ON_SIGNAL: Mutex<Option<Listener>> = Mutex::new(None);

/// Whether the signal handler is installed (it can be, once per process).
static HANDLER: OnceLock<Result<(), String>> = OnceLock::new();

/// Installs the panic hook: the first panic is kept for [`panicked`], printed once as a bug to
/// report, and stops the command's replay, if any. With `RUST_BACKTRACE` set, the default
/// hook's backtrace follows.
pub(crate) fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = ecsim_core::panics::message(info.payload());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let first = PANIC.set(format!("{message}{place}")).is_ok();
        if first {
            sayln!(
                "error: internal error in ecsim (a bug){place}: {message}\n  \
                 the command stops; please report this with the command line and its input"
            );
        }
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| !v.is_empty() && v != "0") {
            default(info);
        }
        // try_lock: the panic may have come from inside a holder of the lock.
        if let Ok(stop) = ON_PANIC.try_lock()
            && let Some(stop) = stop.as_ref()
        {
            stop.request(Stopped::Panicked { message });
        }
    }));
}

/// The first panic of this process, if there was one: its message and where.
pub(crate) fn panicked() -> Option<&'static str> {
    PANIC.get().map(String::as_str)
}

/// A panic from now on stops `stop`.
pub(crate) fn on_panic(stop: &Stop) {
    *ON_PANIC.lock().unwrap_or_else(|p| p.into_inner()) = Some(stop.clone());
}

/// From now on, Ctrl-C, SIGTERM and SIGHUP call `listener` (instead of what an earlier call
/// gave). The handler is installed at the first call, so that signals are caught before a
/// command says it is ready.
pub(crate) fn on_signal(listener: impl Fn() + Send + 'static) -> anyhow::Result<()> {
    *ON_SIGNAL.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(listener));
    HANDLER
        .get_or_init(|| {
            ctrlc::set_handler(|| {
                if let Some(listener) = ON_SIGNAL.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
                {
                    listener();
                }
            })
            .map_err(|error| error.to_string())
        })
        .clone()
        .map_err(|error| anyhow::anyhow!("listening for Ctrl-C: {error}"))
}

/// What a replay does on a signal: the first stops it (the summary and the delivery report
/// follow); a second, while the end is being written, ends the process at once.
pub(crate) fn stop_on_signal(stop: &Stop) -> anyhow::Result<()> {
    let stop = stop.clone();
    on_signal(move || {
        if stop.requested().is_none() {
            sayln!(
                "interrupted: stopping the replay; the summary and the delivery report follow (again to quit at once)"
            );
            stop.request(Stopped::Interrupted);
        } else {
            sayln!("interrupted again: quitting without waiting for the broker");
            quit_now(crate::exit::Exit::Interrupted);
        }
    })
}

/// The fault `ECSIM_TEST_PANIC_AT_MESSAGE=N` injects: a publisher that panics on the Nth
/// message, inside the core's publishing path, so that the tests can show what a bug does to a
/// replay (it stops it; the exit status is 8). Test-only, undocumented for users, like rustc's
/// `-Z treat-err-as-bug`; ARCHITECTURE.md lists it.
pub(crate) fn injected_panic() -> Option<PanicAt> {
    let at = std::env::var("ECSIM_TEST_PANIC_AT_MESSAGE").ok()?;
    let at = at.parse().ok()?;
    Some(PanicAt {
        at,
        seen: std::sync::atomic::AtomicU64::new(0),
    })
}

/// See [`injected_panic`].
#[derive(Debug)]
pub(crate) struct PanicAt {
    at: u64,
    seen: std::sync::atomic::AtomicU64,
}

impl ecsim_core::publish::Publisher for PanicAt {
    fn publish(&self, _record: ecsim_core::publish::Record) {
        let seen = self.seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        #[allow(clippy::panic)] // the point: a bug, on purpose
        if seen == self.at {
            panic!("injected by ECSIM_TEST_PANIC_AT_MESSAGE at message {seen}");
        }
    }
}

/// Ends the process at once with `exit`, as ecsim's own decision (the exit guard lets it pass).
pub(crate) fn quit_now(exit: crate::exit::Exit) -> ! {
    ecsim_plugin_host::exit_guard::disarm();
    std::process::exit(i32::from(exit.code()))
}
