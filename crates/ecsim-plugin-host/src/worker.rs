//! The thread of a plugin instance, and waiting for it without trusting it.
//!
//! Every instance lives on a thread of its own: its `create`, every `call` and its `destroy`
//! run there, one at a time, so a plugin may keep thread-local state (its own async runtime)
//! and a slow plugin never holds up ecsim's runtime in real time. ecsim waits for each answer
//! for a bounded wall-clock time; an instance that does not answer in time is marked stuck,
//! and every later request to it fails at once (its thread is left blocked, and dies with the
//! process).
//!
//! An isolated instance's thread runs the instance's host process instead ([`crate::isolation`]):
//! the same jobs, answered through a pipe, and an answer may be that the process died.
//!
//! How ecsim waits depends on the clock. In virtual time it blocks the (single) runtime thread
//! on purpose: no simulated time may pass while a plugin computes, or the runtime would jump
//! to the next timer of some other environment, and replays would stop being deterministic. In
//! real time it waits on a blocking-pool thread, so other environments go on meanwhile.

use std::{
    path::Path,
    sync::{
        Arc, Mutex, PoisonError,
        mpsc::{self, Receiver, Sender},
    },
    time::Duration,
};

use ecsim_plugin_abi::{Bytes, PluginTable};

pub use crate::threads::{Ended, Reply, TimedOut, run_with_timeout, wait};
use crate::{
    isolation::{Isolation, Running},
    table::{created_instance, take},
    threads::{Job, Line, Lines, receive},
};

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("stuck", &self.stuck)
            .finish_non_exhaustive()
    }
}

/// A call sent to an instance's thread, its answer to wait for ([`Worker::answer`]).
pub struct Call(Line);

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call").finish_non_exhaustive()
    }
}

/// The thread of one plugin instance.
pub struct Worker {
    jobs: Mutex<Option<Sender<Job>>>,
    /// Set when a request did not come back in time: what it was.
    stuck: Arc<Mutex<Option<String>>>,
    /// An isolated instance's process, to kill when it does not answer.
    running: Option<Arc<Running>>,
    /// The reply channels and request buffers of calls, used again call after call.
    lines: Lines,
}

impl Worker {
    /// Starts the thread and asks the library to create an instance with `create_request` (an
    /// encoded `CreateRequest`); the receiver gets the encoded `CreateReply`. `name` names the
    /// thread.
    pub fn start(
        table: &'static PluginTable,
        name: &str,
        create_request: Vec<u8>,
    ) -> std::io::Result<(Self, Receiver<Reply>)> {
        let (jobs, incoming) = mpsc::channel::<Job>();
        let (created, created_reply) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name(format!("plugin-{name}"))
            .spawn(move || {
                // SAFETY: the table is `'static` and typed: a library's comes from `Library`,
                // which checked its version and size before reading it; each buffer goes back
                // to the table that made it, once (`take`). The same holds for the calls below.
                let reply = unsafe { take(table, (table.create)(Bytes::new(&create_request))) };
                let instance = created_instance(&reply);
                let _ = created.send(Ok(reply));
                let Some(instance) = instance else { return };
                while let Ok(job) = receive(&incoming, None) {
                    match job {
                        Job::Call { request, reply } => {
                            // SAFETY: as for `create` above.
                            let answer = unsafe {
                                take(table, (table.call)(instance, Bytes::new(&request)))
                            };
                            reply.answer(Ok(answer), request);
                        }
                        Job::Destroy { reply } => {
                            // SAFETY: as for `create` above.
                            let _ =
                                reply.send(Ok(unsafe { take(table, (table.destroy)(instance)) }));
                            return;
                        }
                    }
                }
            })?;
        Ok((
            Self {
                jobs: Mutex::new(Some(jobs)),
                stuck: Arc::new(Mutex::new(None)),
                running: None,
                lines: Lines::default(),
            },
            created_reply,
        ))
    }

    /// Starts the thread of an isolated instance: it runs the library's host process, which
    /// creates the instance with `create_request`. The receiver gets the encoded `CreateReply`,
    /// or why the process did not start.
    pub fn isolated(
        library: &Path,
        name: &str,
        policy: Isolation,
        create_request: Vec<u8>,
    ) -> std::io::Result<(Self, Receiver<Reply>)> {
        let (jobs, incoming) = mpsc::channel::<Job>();
        let (created, created_reply) = mpsc::sync_channel(1);
        let running = Arc::new(Running::default());
        let (library, label, shared) = (library.to_owned(), name.to_owned(), Arc::clone(&running));
        std::thread::Builder::new()
            .name(format!("plugin-{name}"))
            .spawn(move || {
                crate::isolation::serve(
                    library,
                    label,
                    policy,
                    create_request,
                    created,
                    incoming,
                    shared,
                );
            })?;
        Ok((
            Self {
                jobs: Mutex::new(Some(jobs)),
                stuck: Arc::new(Mutex::new(None)),
                running: Some(running),
                lines: Lines::default(),
            },
            created_reply,
        ))
    }

    /// Gives up on a request that did not return in time (`what`). An in-process instance is
    /// marked stuck for good; an isolated one has its process killed, and starts again at its
    /// next call if it may.
    pub fn abandon(&self, what: String) {
        match &self.running {
            Some(running) => running.kill(format!("{what} did not return in time")),
            None => self.mark_stuck(what),
        }
    }

    /// What the instance is stuck in, if it is.
    pub fn stuck(&self) -> Option<String> {
        self.stuck
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Marks the instance stuck in `what`.
    pub fn mark_stuck(&self, what: String) {
        *self.stuck.lock().unwrap_or_else(PoisonError::into_inner) = Some(what);
    }

    fn send(&self, job: Job) -> bool {
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|jobs| jobs.send(job).is_ok())
    }

    /// Sends a `CallRequest`, which `encode` writes into a buffer of earlier calls; wait for
    /// the encoded `CallReply` with [`Worker::answer`]. `None` when the thread is gone.
    pub fn call(&self, encode: impl FnOnce(&mut Vec<u8>)) -> Option<Call> {
        let mut line = self.lines.take();
        let mut request = line.request_buffer();
        encode(&mut request);
        let reply = line.reply_to()?;
        self.send(Job::Call { request, reply })
            .then_some(Call(line))
    }

    /// Waits for the answer to `call`, for at most `timeout` of wall-clock time, in the way the
    /// clock requires (see [`wait`]).
    pub async fn answer(
        &self,
        call: Call,
        timeout: Duration,
        virtual_time: bool,
    ) -> Result<Reply, TimedOut> {
        self.lines.wait(call.0, timeout, virtual_time).await
    }

    /// Asks the instance to stop; the receiver gets the encoded `DestroyReply`. The thread ends
    /// after it.
    pub fn destroy(&self) -> Option<Receiver<Reply>> {
        let (reply, receiver) = mpsc::sync_channel(1);
        let sent = self.send(Job::Destroy { reply });
        *self.jobs.lock().unwrap_or_else(PoisonError::into_inner) = None;
        sent.then_some(receiver)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_function_that_answers_in_time_gives_its_result_and_one_that_hangs_times_out() {
        assert_eq!(run_with_timeout(|| 42, Duration::from_secs(5)), Ok(42));
        let hang = run_with_timeout(
            || std::thread::sleep(Duration::from_secs(3600)),
            Duration::from_millis(50),
        );
        assert_eq!(hang, Err(TimedOut));
    }

    #[tokio::test]
    async fn waiting_in_real_time_does_not_block_the_runtime() {
        let (sender, receiver) = mpsc::sync_channel(1);
        let waiting = tokio::spawn(wait(receiver, Duration::from_secs(5), false));
        // The runtime is free to run this while the waiter waits.
        tokio::task::yield_now().await;
        sender.send(7).unwrap();
        assert_eq!(waiting.await.unwrap(), Ok(7));
        let (_sender, receiver) = mpsc::sync_channel::<u8>(1);
        assert_eq!(
            wait(receiver, Duration::from_millis(20), true).await,
            Err(TimedOut)
        );
    }
}
