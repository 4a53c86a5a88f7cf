//! ecsim's side of an isolated plugin: the host process, started, spoken to, watched, and
//! reaped with the cause of its death.
//!
//! A [`HostProcess`] is one run of `ecsim plugin host LIB`. Its standard error is read by a
//! thread of its own, each line passed on to ecsim's standard error under the plugin's name,
//! and the line that says why a process died (a Go `panic:`, a Rust panic, a failed assertion,
//! a stack overflow) kept for the report of its end.

use std::{
    ffi::OsString,
    io::{BufRead as _, BufReader, BufWriter, Write as _},
    os::unix::process::ExitStatusExt as _,
    path::{Path, PathBuf},
    process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex, OnceLock, PoisonError, mpsc},
    time::{Duration, Instant},
};

use super::frame::{self, FrameError, Tag};

/// How an isolated plugin's host process is started: a program and the arguments before the
/// library's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCommand {
    /// The program.
    pub program: PathBuf,
    /// Its arguments, before the library's path.
    pub args: Vec<OsString>,
}

static HOST_COMMAND: OnceLock<HostCommand> = OnceLock::new();

impl HostCommand {
    /// Sets the command for the whole process (the `ecsim` binary does, at start). Without it,
    /// the running program is taken to be `ecsim` itself: `<current exe> plugin host`.
    pub fn set(command: HostCommand) {
        let _ = HOST_COMMAND.set(command);
    }

    /// The command set, or the running program's `plugin host`.
    pub fn current() -> std::io::Result<HostCommand> {
        if let Some(command) = HOST_COMMAND.get() {
            return Ok(command.clone());
        }
        Ok(HostCommand {
            program: std::env::current_exe()?,
            args: vec!["plugin".into(), "host".into()],
        })
    }
}

/// What ecsim keeps of a host process's standard error.
#[derive(Debug, Default)]
struct Tail {
    /// The first line that says why the process is dying, with its continuation.
    cause: Option<String>,
    /// Set when the line before was a cause ending in `:` (a Rust panic's message follows).
    continues: bool,
    /// The last line.
    last: Option<String>,
}

/// The longest line kept or passed on; longer lines are cut.
const MAX_LINE: usize = 4096;

impl Tail {
    fn is_cause(line: &str) -> bool {
        const STARTS: &[&str] = &[
            "panic:",
            "fatal error:",
            "fatal runtime error:",
            "SIGSEGV",
            "SIGBUS",
            "SIGABRT",
        ];
        STARTS.iter().any(|start| line.starts_with(start))
            || (line.starts_with("thread '")
                && (line.contains("panicked") || line.contains("overflowed")))
            || line.contains("Assertion")
    }

    fn push(&mut self, line: &str) {
        let line = line.trim_end();
        if line.is_empty() {
            return;
        }
        if self.continues {
            self.continues = false;
            if let Some(cause) = &mut self.cause {
                cause.push(' ');
                cause.push_str(line);
            }
        } else if self.cause.is_none() && Self::is_cause(line) {
            self.cause = Some(line.to_owned());
            self.continues = line.ends_with(':') && line.starts_with("thread '");
        }
        self.last = Some(line.to_owned());
    }

    fn said(&self) -> Option<&str> {
        self.cause.as_deref().or(self.last.as_deref())
    }
}

/// Why a host process ended.
pub fn describe(status: ExitStatus) -> String {
    if let Some(signal) = status.signal() {
        let name = match signal {
            libc::SIGSEGV => " (SIGSEGV, a segmentation fault)",
            libc::SIGABRT => " (SIGABRT, an abort)",
            libc::SIGBUS => " (SIGBUS)",
            libc::SIGILL => " (SIGILL)",
            libc::SIGFPE => " (SIGFPE)",
            libc::SIGKILL => " (SIGKILL)",
            libc::SIGTERM => " (SIGTERM)",
            libc::SIGTRAP => " (SIGTRAP)",
            _ => "",
        };
        format!("was killed by signal {signal}{name}")
    } else {
        match status.code() {
            Some(code) => format!("exited with status {code}"),
            None => "ended".to_owned(),
        }
    }
}

/// One run of the host process.
#[derive(Debug)]
pub struct HostProcess {
    child: Child,
    input: BufWriter<ChildStdin>,
    output: BufReader<ChildStdout>,
    tail: Arc<Mutex<Tail>>,
    /// Ends when the process's standard error closes.
    drained: mpsc::Receiver<()>,
}

/// What a host process said first.
#[derive(Debug)]
pub enum Hello {
    /// The library loaded: its SDK version and encoded manifest.
    Loaded(String, Vec<u8>),
    /// The library was refused: why.
    Refused(String),
}

/// A host process that failed: why, in words, for a call's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Death(pub String);

impl HostProcess {
    /// Starts the host process for `library`; `label` prefixes the lines of its standard error.
    pub fn spawn(library: &Path, label: &str) -> Result<Self, Death> {
        let command = HostCommand::current()
            .map_err(|error| Death(format!("cannot find ecsim's own executable: {error}")))?;
        let mut child = Command::new(&command.program)
            .args(&command.args)
            .arg(library)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| {
                Death(format!(
                    "cannot start {} {}: {error}",
                    command.program.display(),
                    command
                        .args
                        .iter()
                        .map(|a| a.to_string_lossy())
                        .collect::<Vec<_>>()
                        .join(" ")
                ))
            })?;
        let (Some(input), Some(output), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Death("its pipes were not set up".to_owned()));
        };
        let tail = Arc::new(Mutex::new(Tail::default()));
        let (done, drained) = mpsc::channel();
        let watched = Arc::clone(&tail);
        let prefix = format!("[plugin {label}] ");
        let watcher = std::thread::Builder::new()
            .name(format!("plugin-{label}-stderr"))
            .spawn(move || {
                let mut lines = BufReader::new(stderr);
                let mut line = Vec::new();
                loop {
                    line.clear();
                    match std::io::Read::take(&mut lines, MAX_LINE as u64)
                        .read_until(b'\n', &mut line)
                    {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    let text = String::from_utf8_lossy(&line);
                    let mut out = std::io::stderr().lock();
                    let _ = write!(out, "{prefix}{text}");
                    if !text.ends_with('\n') {
                        let _ = writeln!(out);
                    }
                    watched
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(&text);
                }
                let _ = done.send(());
            });
        if let Err(error) = watcher {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Death(format!("cannot start a thread: {error}")));
        }
        Ok(Self {
            child,
            input: BufWriter::new(input),
            output: BufReader::new(output),
            tail,
            drained,
        })
    }

    /// The process's id (to kill it from another thread).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Reads the process's first frame.
    pub fn hello(&mut self) -> Result<Hello, FrameError> {
        match frame::read(&mut self.output)? {
            (Tag::Loaded, payload) => {
                let (version, manifest) =
                    frame::split_loaded(&payload).ok_or(FrameError::Tag(Tag::Loaded as u8))?;
                Ok(Hello::Loaded(version, manifest.to_vec()))
            }
            (Tag::Refused, payload) => Ok(Hello::Refused(
                String::from_utf8_lossy(&payload).into_owned(),
            )),
            (tag, _) => Err(FrameError::Tag(tag as u8)),
        }
    }

    /// Sends a request and reads its reply.
    pub fn request(&mut self, tag: Tag, payload: &[u8]) -> Result<Vec<u8>, FrameError> {
        frame::write(&mut self.input, tag, payload)?;
        match frame::read(&mut self.output)? {
            (Tag::Reply, reply) => Ok(reply),
            (tag, _) => Err(FrameError::Tag(tag as u8)),
        }
    }

    /// Ends the process after a failure and says why it ended: its exit, and what its standard
    /// error said of it. A process still running is killed (after `grace`, to let one that is
    /// dying finish).
    pub fn reap(mut self, failure: &FrameError, grace: Duration) -> Death {
        let deadline = Instant::now() + grace;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                _ => {
                    let _ = self.child.kill();
                    break self.child.wait().ok();
                }
            }
        };
        // Its standard error ends with it (unless a child of its own holds it).
        let _ = self.drained.recv_timeout(Duration::from_secs(1));
        let tail = self.tail.lock().unwrap_or_else(PoisonError::into_inner);
        let mut why = match status {
            Some(status) if status.success() => match failure {
                FrameError::Closed => "exited with status 0 (the plugin called exit)".to_owned(),
                other => format!("exited with status 0 after {other}"),
            },
            Some(status) => describe(status),
            None => format!("failed: {failure}"),
        };
        if let Some(said) = tail.said() {
            why.push_str(": ");
            why.push_str(said);
        }
        Death(why)
    }

    /// Closes the pipe and waits for the process to end, killing it after `grace`.
    pub fn close(mut self, grace: Duration) {
        drop(self.input);
        let deadline = Instant::now() + grace;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Ok(None) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
            }
        }
    }
}

/// Kills process `pid` (a host process ecsim gave up waiting for).
pub fn kill(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: a plain kill(2) of a child this process started and has not reaped (a reaped
        // child's id is cleared before `kill` could be called with it).
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn said(lines: &[&str]) -> Option<String> {
        let mut tail = Tail::default();
        for line in lines {
            tail.push(line);
        }
        tail.said().map(str::to_owned)
    }

    #[test]
    fn the_cause_of_a_death_is_the_line_that_says_it() {
        assert_eq!(
            said(&[
                "starting",
                "panic: the logbook is gone",
                "",
                "goroutine 7 [running]:",
                "main.run()",
            ])
            .as_deref(),
            Some("panic: the logbook is gone")
        );
        assert_eq!(
            said(&[
                "thread '<unnamed>' panicked at src/lib.rs:3:5:",
                "index out of bounds",
                "note: run with `RUST_BACKTRACE=1`",
            ])
            .as_deref(),
            Some("thread '<unnamed>' panicked at src/lib.rs:3:5: index out of bounds")
        );
        assert_eq!(
            said(&["x: crash.c:4: f: Assertion `0' failed."]).as_deref(),
            Some("x: crash.c:4: f: Assertion `0' failed.")
        );
        assert_eq!(
            said(&["just a log line"]).as_deref(),
            Some("just a log line")
        );
        assert_eq!(said(&[]), None);
    }

    #[test]
    fn exits_and_signals_are_described() {
        assert_eq!(
            describe(ExitStatus::from_raw(libc::SIGSEGV)),
            "was killed by signal 11 (SIGSEGV, a segmentation fault)"
        );
        assert_eq!(
            describe(ExitStatus::from_raw(2 << 8)),
            "exited with status 2"
        );
    }
}
