//! The library's host process as the conformance check drives it: every request bounded in
//! wall-clock time, a process that hangs killed, one that died reaped with its cause, and a new
//! one started for the checks left.

use std::{path::PathBuf, time::Duration};

use super::LIFECYCLE_TIMEOUT;
use crate::{
    isolation::{
        frame::Tag,
        process::{self, Death, Hello, HostProcess},
    },
    worker::{TimedOut, run_with_timeout},
};

/// Why a request got no reply.
pub(super) enum NoReply {
    /// Not within the time allowed (the process was killed).
    TimedOut,
    /// The process died: why.
    Died(String),
}

/// The library's host process, restarted when a finding killed it.
pub(super) struct Host {
    pub(super) library: PathBuf,
    pub(super) label: String,
    pub(super) process: Option<HostProcess>,
}

impl Host {
    /// Sends a request; the reply, or why there is none. A process that does not answer within
    /// `timeout` is killed.
    pub(super) fn request(
        &mut self,
        tag: Tag,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, NoReply> {
        let Some(mut process) = self.process.take() else {
            return Err(NoReply::Died("it has no process".to_owned()));
        };
        let pid = process.id();
        let answered = run_with_timeout(
            move || {
                let reply = process.request(tag, &payload);
                (process, reply)
            },
            timeout,
        );
        match answered {
            Ok((process, Ok(reply))) => {
                self.process = Some(process);
                Ok(reply)
            }
            Ok((process, Err(failure))) => {
                let Death(why) = process.reap(&failure, Duration::from_millis(500));
                Err(NoReply::Died(why))
            }
            Err(TimedOut) => {
                process::kill(pid);
                Err(NoReply::TimedOut)
            }
        }
    }

    /// Starts a new process; its hello.
    pub(super) fn start(&mut self) -> Result<Hello, String> {
        let mut process =
            HostProcess::spawn(&self.library, &self.label).map_err(|Death(why)| why)?;
        let pid = process.id();
        match run_with_timeout(
            move || {
                let hello = process.hello();
                (process, hello)
            },
            LIFECYCLE_TIMEOUT,
        ) {
            Ok((process, Ok(hello))) => {
                self.process = Some(process);
                Ok(hello)
            }
            Ok((process, Err(failure))) => {
                let Death(why) = process.reap(&failure, Duration::from_millis(500));
                Err(format!("its process {why}"))
            }
            Err(TimedOut) => {
                process::kill(pid);
                Err(format!(
                    "it did not load within {} s",
                    LIFECYCLE_TIMEOUT.as_secs()
                ))
            }
        }
    }

    /// Resident memory of the process, in bytes (Linux; `None` elsewhere).
    pub(super) fn resident(&self) -> Option<u64> {
        let pid = self.process.as_ref()?.id();
        let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        // SAFETY: sysconf with a valid name has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        Some(pages * u64::try_from(page).ok()?)
    }

    pub(super) fn close(&mut self) {
        if let Some(process) = self.process.take() {
            process.close(Duration::from_secs(1));
        }
    }
}

pub(super) fn describe(failure: NoReply, timeout: Duration) -> String {
    match failure {
        NoReply::TimedOut => format!(
            "did not return within {} s (a run marks the plugin stuck, or kills an isolated one)",
            timeout.as_secs()
        ),
        NoReply::Died(why) => format!("crashed: its process {why}"),
    }
}
