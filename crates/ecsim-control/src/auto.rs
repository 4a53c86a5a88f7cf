//! Automatic environments (`NewAutoEnvironment`): created, started, and torn down by the core
//! once their run is over, their events streamed to the one client that `Subscribe`s with the
//! request's subscription id.
//!
//! AliECS's auto environment (`core/environment/manager.go` CreateAutoEnvironment) deploys,
//! configures and starts, then looks at its state once a second: back in CONFIGURED (the run
//! stopped — its tasks ended, or a client or timer stopped it) it resets and tears down; in
//! ERROR, STANDBY or DEPLOYED it is torn down by force. ecsim's tasks never end by themselves, so
//! an auto environment's run ends when a client stops it or its `auto_stop_timeout` expires
//! (`auto_stop_enabled = "true"`, AliECS's own timer).

use std::{collections::BTreeMap, sync::Mutex, time::Duration};

use ecsim_core::{Core, DestroyOptions, EnvironmentId, fsm::State};
use ecsim_proto::{common::User, events::Event};
use tokio::sync::{Notify, broadcast::error::RecvError, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::{convert, tasks::Tasks, templates};

/// What a subscriber receives.
pub(crate) type Feed = mpsc::Receiver<Result<Event, Status>>;

/// At most this many `Subscribe` calls wait at once for an id to be registered.
pub(crate) const MAX_WAITING: usize = 1024;

/// The feeds of auto environments nobody has subscribed to yet, by subscription id, and the
/// subscribers waiting for theirs (AliECS's `Subscribe` waits until its id is registered).
#[derive(Debug, Default)]
pub(crate) struct Feeds {
    /// Each feed with the number of its registration, so that forgetting an old one never
    /// drops a newer feed of the same id.
    feeds: Mutex<BTreeMap<String, (u64, Feed)>>,
    registrations: std::sync::atomic::AtomicU64,
    registered: Notify,
    waiting: std::sync::atomic::AtomicUsize,
}

impl Feeds {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (u64, Feed)>> {
        self.feeds
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers the feed of subscription `id`, replacing one nobody took (AliECS overwrites
    /// the stream of an id given twice), and wakes the subscribers waiting.
    /// Returns the registration's number, for [`Feeds::forget`].
    pub(crate) fn add(&self, id: &str, feed: Feed) -> u64 {
        let number = self
            .registrations
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.lock().insert(id.to_owned(), (number, feed));
        self.registered.notify_waiters();
        number
    }

    /// The feed of subscription `id`, for its one subscriber.
    pub(crate) fn take(&self, id: &str) -> Option<Feed> {
        self.lock().remove(id).map(|(_, feed)| feed)
    }

    /// The feed of subscription `id`, once it is registered; `None` if `stop` is cancelled
    /// first. Bounded: past [`MAX_WAITING`] waiting subscribers, an error.
    pub(crate) async fn wait(
        &self,
        id: &str,
        stop: &CancellationToken,
    ) -> Result<Option<Feed>, Status> {
        use std::sync::atomic::Ordering;
        /// Counts a waiter for as long as it lives: a subscriber that goes away while it waits
        /// (the wait dropped) is uncounted as surely as one that got its feed.
        struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let waiting = Waiting(&self.waiting);
        if waiting.0.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING {
            return Err(Status::resource_exhausted(format!(
                "{MAX_WAITING} subscribers already wait for ids nobody has registered"
            )));
        }
        loop {
            // Armed before looking, so that a registration in between is not missed.
            let registered = self.registered.notified();
            tokio::pin!(registered);
            registered.as_mut().enable();
            if let Some(feed) = self.take(id) {
                return Ok(Some(feed));
            }
            tokio::select! {
                biased;
                () = stop.cancelled() => return Ok(None),
                () = registered => {}
            }
        }
    }

    /// Forgets the feed of registration `number` if nobody took it (its environment is gone).
    pub(crate) fn forget(&self, id: &str, number: u64) {
        let mut feeds = self.lock();
        if feeds.get(id).is_some_and(|(n, _)| *n == number) {
            feeds.remove(id);
        }
    }
}

/// How many events wait for an auto environment's subscriber.
const FEED_CAPACITY: usize = 4096;

/// How often AliECS looks at an auto environment's state while its run is on.
const POLL: Duration = Duration::from_secs(1);

/// Starts forwarding `environment`'s events from now on into a new feed; the returned sender
/// ends the forwarding (after what was already emitted) when dropped or sent to.
pub(crate) fn feed(
    core: &Core,
    environment: EnvironmentId,
    tasks: &Tasks,
) -> (Feed, oneshot::Sender<()>) {
    let mut events = core.subscribe(FEED_CAPACITY);
    let (sender, feed) = mpsc::channel(FEED_CAPACITY);
    let (done, mut finished) = oneshot::channel::<()>();
    tasks.spawn(async move {
        let forward = |event: &ecsim_core::event::CoreEvent| {
            (convert::environment_of(event) == Some(environment.as_str()))
                .then(|| convert::event(event))
        };
        loop {
            tokio::select! {
                biased;
                received = events.recv() => match received {
                    Ok(event) => {
                        if let Some(event) = forward(&event)
                            && sender.send(Ok(event)).await.is_err()
                        {
                            return;
                        }
                    }
                    Err(RecvError::Lagged(missed)) => {
                        let _ = sender.send(Err(lagged(missed))).await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                },
                _ = &mut finished => {
                    // Everything the lifecycle emitted is queued already: pass it on, then end.
                    while let Ok(event) = events.try_recv() {
                        if let Some(event) = forward(&event)
                            && sender.send(Ok(event)).await.is_err()
                        {
                            return;
                        }
                    }
                    return;
                }
            }
        }
    });
    (feed, done)
}

pub(crate) fn lagged(missed: u64) -> Status {
    Status::resource_exhausted(format!(
        "the subscriber fell {missed} events behind and missed them; subscribe again"
    ))
}

/// An auto environment's life after its creation: START, then once a second its state until
/// the run is over, then its teardown, as AliECS's loop does. The basic tasks of a utility
/// template end by themselves a moment after START, and the core then stops the run.
pub(crate) async fn run(
    core: &Core,
    id: &EnvironmentId,
    user: User,
    basic_tasks: bool,
    tasks: &Tasks,
) {
    // `destroy` fails only for an environment already gone (a client destroyed it): then there
    // is nothing left to do, as for AliECS's loop, which finds it nil.
    let destroy = |force| DestroyOptions {
        force,
        allow_in_running_state: false,
        keep_tasks: false,
    };
    if core
        .control(id, ecsim_core::fsm::Transition::StartActivity, user.clone())
        .await
        .is_err()
    {
        let _ = core.destroy(id, destroy(true), user).await;
        return;
    }
    if basic_tasks {
        let core = core.clone();
        let id = id.clone();
        tasks.spawn(async move {
            core.clock().sleep(templates::BASIC_TASK_RUN).await;
            // Every task terminated: AliECS stops the run as at END_OF_STREAM.
            let _ = core.stop_from_core(&id, "basic tasks terminated").await;
        });
    }
    loop {
        core.clock().sleep(POLL).await;
        match core.state(id) {
            None => return,
            Some(State::Running) => continue,
            Some(State::Configured) => {
                let _ = core.destroy(id, destroy(false), user).await;
                return;
            }
            Some(_) => {
                let _ = core.destroy(id, destroy(true), user).await;
                return;
            }
        }
    }
}

/// How long the feed of an auto environment waits for its subscriber after the environment
/// ended, before it is dropped.
pub(crate) const UNCLAIMED: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    #[tokio::test]
    async fn a_subscriber_waits_for_its_id_and_one_that_leaves_is_uncounted() {
        let feeds = std::sync::Arc::new(Feeds::default());
        let stop = CancellationToken::new();
        // Subscribers that give up while they wait free their place.
        for _ in 0..MAX_WAITING + 10 {
            let gave_up =
                tokio::time::timeout(Duration::from_millis(1), feeds.wait("nobody", &stop)).await;
            assert!(gave_up.is_err());
        }
        assert_eq!(feeds.waiting.load(Ordering::SeqCst), 0);
        // One that waits gets the feed registered after it began.
        let waiter = {
            let (feeds, stop) = (std::sync::Arc::clone(&feeds), stop.clone());
            tokio::spawn(async move { feeds.wait("d4jr2k0l8d0c", &stop).await })
        };
        tokio::task::yield_now().await;
        let (_sender, feed) = mpsc::channel(1);
        feeds.add("d4jr2k0l8d0c", feed);
        let got = waiter.await.expect("joined").expect("not refused");
        assert!(got.is_some());
        // The server's stop ends a wait.
        stop.cancel();
        assert!(
            feeds
                .wait("nobody", &stop)
                .await
                .expect("not refused")
                .is_none()
        );
        assert_eq!(feeds.waiting.load(Ordering::SeqCst), 0);
    }
}
