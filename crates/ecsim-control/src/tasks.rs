//! The tasks the control server starts, owned: every request's work (creations, transitions,
//! automatic environments), the forwarding of an auto environment's events, each `Subscribe`
//! stream's pump. They run on the work runtime when the server has one (so that a large creation
//! never keeps the server from answering), and all of them are tracked, so that a stop can wait
//! for them within a grace and say how many it cut short, instead of leaving them unnamed.

use std::{future::Future, time::Duration};

use tokio::{runtime::Handle, task::JoinHandle};
use tokio_util::task::TaskTracker;

/// Where the server's tasks run, and the set of them still running.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tasks {
    runtime: Option<Handle>,
    tracker: TaskTracker,
}

impl Tasks {
    /// Tasks run on `runtime`.
    pub(crate) fn on(runtime: Handle) -> Self {
        Self {
            runtime: Some(runtime),
            tracker: TaskTracker::new(),
        }
    }

    /// Starts `task`, tracked.
    pub(crate) fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.runtime {
            Some(runtime) => self.tracker.spawn_on(task, runtime),
            None => self.tracker.spawn(task),
        }
    }

    /// No task starts after this; waits up to `grace` for those running to end. Returns how
    /// many are still running then (their runtime's shutdown ends them).
    pub(crate) async fn close(&self, grace: Duration) -> usize {
        self.tracker.close();
        let _ = tokio::time::timeout(grace, self.tracker.wait()).await;
        self.tracker.len()
    }

    /// How many are running.
    #[cfg(test)]
    pub(crate) fn running(&self) -> usize {
        self.tracker.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_waits_for_the_tasks_that_end_and_counts_those_that_do_not() {
        let tasks = Tasks::default();
        tasks.spawn(async {});
        tasks.spawn(tokio::time::sleep(Duration::from_millis(10)));
        let (_never, forever) = tokio::sync::oneshot::channel::<()>();
        tasks.spawn(async move {
            let _ = forever.await;
        });
        assert_eq!(
            tasks.close(Duration::from_secs(2)).await,
            1,
            "one is cut short"
        );
        // Closed: a task started now still runs, and is still counted.
        tasks.spawn(async {}).await.unwrap();
        assert_eq!(tasks.running(), 1);
    }
}
