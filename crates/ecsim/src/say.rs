//! Words for the user on stderr, and the one place that decides what a closed stream means.
//!
//! `sayln!` panics when stderr is gone (`ecsim run … 2>&-`, a supervisor that closed its
//! pipe), which would turn a replay that did its work into a crash. Here, a write to stderr
//! that fails is dropped: the words are lost, the run is not. The workspace's clippy lints
//! forbid `eprint!` and `print!` elsewhere in the binary, so every word goes through here
//! (`#[macro_use]` in `main.rs` puts the macros in scope everywhere).

/// Writes to stderr, like `eprint!`, ignoring a stderr that is closed or full.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// Writes a line to stderr, like `sayln!`, ignoring a stderr that is closed or full.
macro_rules! sayln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// A command's output for programs, on stdout: written whole, flushed, and a reader that went
/// away (`ecsim plugin inspect lib.so | head -1`) ends the command quietly, as it does for
/// every Unix tool — it is not an error of ecsim's.
pub(crate) fn stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// The width to render diagnostics at: the terminal's, else 100.
pub(crate) fn width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100)
}
