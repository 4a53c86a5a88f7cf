//! Isolated plugins: a library loaded in a process of its own, so that whatever it does — a Go
//! panic no `recover` catches, `abort()`, a segmentation fault, `exit()`, a stack overflow —
//! fails calls instead of ending ecsim.
//!
//! The host process is ecsim itself (`ecsim plugin host LIB`, [`crate::child`]), which loads the
//! library with every check of an in-process load and answers the same requests the C ABI
//! carries, as [frames](frame) on its standard input and output. ecsim's side ([`process`])
//! runs each instance's process from the instance's worker thread, so the rest of the host —
//! timeouts, events, replies — is the same for both kinds of plugin.
//!
//! When the process dies, the call in flight fails with the cause (its exit or signal, and
//! the line of its standard error that says why), and the plugin is started again at its next
//! call, with the same configuration, at most [`Isolation::restarts`] times; after that it
//! stays down and every call fails at once, saying so. A call that does not return in time
//! gets its process killed, which counts as a death too.

pub mod frame;
pub mod process;

use std::{
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError, mpsc::SyncSender},
    time::Duration,
};

use frame::{FrameError, Tag};
use process::{Death, HostProcess};

use crate::{
    table::created_instance,
    threads::{Ended, Job, Reply, receive},
};

/// How a library is isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Isolation {
    /// How many times an instance's process is started again after it dies.
    pub restarts: u32,
}

impl Isolation {
    /// The restarts of a plugin that says nothing: three.
    pub const DEFAULT_RESTARTS: u32 = 3;
}

impl Default for Isolation {
    fn default() -> Self {
        Self {
            restarts: Self::DEFAULT_RESTARTS,
        }
    }
}

/// How long a dying process is given to finish before it is killed.
const GRACE: Duration = Duration::from_millis(500);

/// The process an instance's thread runs, shared with whoever may have to kill it.
#[derive(Debug, Default)]
pub struct Running {
    /// The current process's id, while there is one.
    pid: Mutex<Option<u32>>,
    /// Why ecsim killed it, when it did.
    killed_for: Mutex<Option<String>>,
}

impl Running {
    /// Kills the current process because of `why` (a call that did not return in time); the
    /// instance's thread sees it die, reports it, and the next call starts a new one.
    pub fn kill(&self, why: String) {
        let pid = *self.pid.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pid) = pid {
            *self
                .killed_for
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(why);
            process::kill(pid);
        }
    }

    fn set(&self, pid: Option<u32>) {
        *self.pid.lock().unwrap_or_else(PoisonError::into_inner) = pid;
    }
}

/// The body of an isolated instance's worker thread: starts the process, creates the instance,
/// answers `created`, then serves `jobs` until destroyed or dropped.
pub(crate) fn serve(
    library: PathBuf,
    label: String,
    policy: Isolation,
    create_request: Vec<u8>,
    created: SyncSender<Reply>,
    jobs: std::sync::mpsc::Receiver<Job>,
    running: Arc<Running>,
) {
    let mut instance = Instance {
        library,
        label,
        create_request,
        running,
        process: None,
        restarts_left: policy.restarts,
        restarts: policy.restarts,
        last_death: None,
    };
    let first = instance.start();
    let started = first.is_ok();
    let _ = created.send(first);
    if !started {
        return;
    }
    while let Ok(job) = receive(&jobs, None) {
        match job {
            Job::Call { request, reply } => {
                let answer = instance.call(&request);
                reply.answer(answer, request);
            }
            Job::Destroy { reply } => {
                let _ = reply.send(instance.destroy());
                return;
            }
        }
    }
    if let Some(process) = instance.process.take() {
        process.close(GRACE);
    }
}

struct Instance {
    library: PathBuf,
    label: String,
    create_request: Vec<u8>,
    running: Arc<Running>,
    process: Option<HostProcess>,
    restarts_left: u32,
    restarts: u32,
    last_death: Option<String>,
}

impl Instance {
    /// Starts a process and creates the instance in it; the create reply.
    fn start(&mut self) -> Reply {
        let mut process =
            HostProcess::spawn(&self.library, &self.label).map_err(|Death(why)| Ended(why))?;
        self.running.set(Some(process.id()));
        let created = process.hello().and_then(|hello| match hello {
            process::Hello::Loaded(..) => process.request(Tag::Create, &self.create_request),
            process::Hello::Refused(why) => Ok(refused_reply(&why)),
        });
        match created {
            Ok(reply) => {
                if created_instance(&reply).is_some() {
                    self.process = Some(process);
                } else {
                    self.running.set(None);
                    process.close(GRACE);
                }
                Ok(reply)
            }
            Err(failure) => {
                self.running.set(None);
                let Death(why) = process.reap(&failure, GRACE);
                Err(Ended(format!("its process {why}")))
            }
        }
    }

    /// The process to send a call to: the running one, or a new one if restarts are left.
    fn ensure(&mut self) -> Result<(), Ended> {
        if self.process.is_some() {
            return Ok(());
        }
        let last = self.last_death.clone().unwrap_or_default();
        if self.restarts_left == 0 {
            return Err(Ended(format!(
                "it stays down: its process died {} time{} ({last})",
                self.restarts + 1,
                if self.restarts == 0 { "" } else { "s" }
            )));
        }
        self.restarts_left -= 1;
        tracing::warn!(plugin = %self.label, restarts_left = self.restarts_left, "starting the plugin's process again");
        let reply = self.start()?;
        if self.process.is_none() {
            return Err(Ended(format!(
                "its new process did not start: {}",
                created_error(&reply)
            )));
        }
        Ok(())
    }

    fn call(&mut self, request: &[u8]) -> Reply {
        self.ensure()?;
        let Some(process) = self.process.as_mut() else {
            return Err(Ended("it has no process".to_owned()));
        };
        match process.request(Tag::Call, request) {
            Ok(reply) => Ok(reply),
            Err(failure) => Err(self.died(&failure)),
        }
    }

    /// Reaps the process that just failed, and says what became of it.
    fn died(&mut self, failure: &FrameError) -> Ended {
        self.running.set(None);
        let Some(process) = self.process.take() else {
            return Ended("it has no process".to_owned());
        };
        let Death(mut why) = process.reap(failure, GRACE);
        if let Some(killed_for) = self
            .running
            .killed_for
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            why = format!("was killed by ecsim: {killed_for}");
        }
        tracing::error!(plugin = %self.label, cause = %why, "the plugin's process died");
        self.last_death = Some(why.clone());
        let next = if self.restarts_left == 0 {
            "it stays down".to_owned()
        } else {
            format!(
                "it is started again at its next call ({} restart{} left)",
                self.restarts_left,
                if self.restarts_left == 1 { "" } else { "s" }
            )
        };
        Ended(format!("its process {why}; {next}"))
    }

    fn destroy(&mut self) -> Reply {
        let Some(process) = self.process.as_mut() else {
            // Nothing runs: there is nothing to destroy (an empty DestroyReply is a success).
            return Ok(Vec::new());
        };
        match process.request(Tag::Destroy, &[]) {
            Ok(reply) => {
                self.running.set(None);
                if let Some(process) = self.process.take() {
                    process.close(GRACE);
                }
                Ok(reply)
            }
            Err(failure) => Err(self.died(&failure)),
        }
    }
}

/// A `CreateReply` with the refusal of a library that a new process would not load.
fn refused_reply(why: &str) -> Vec<u8> {
    use ecsim_proto::prost::Message as _;
    ecsim_proto::plugin::CreateReply {
        result: Some(ecsim_proto::plugin::create_reply::Result::Error(
            why.to_owned(),
        )),
    }
    .encode_to_vec()
}

fn created_error(reply: &[u8]) -> String {
    use ecsim_proto::prost::Message as _;
    match ecsim_proto::plugin::CreateReply::decode(reply).map(|r| r.result) {
        Ok(Some(ecsim_proto::plugin::create_reply::Result::Error(why))) => why,
        _ => "its create reply is not an instance".to_owned(),
    }
}
