//! Ending a replay early: a request that any thread can make (a signal handler, a panic hook)
//! and the driver waits on beside its steps.

use std::sync::Arc;

use crate::report::Stopped;

/// A request to stop a replay before the end of its timeline, made from anywhere: a signal
/// handler's thread, a panic hook, a test. The first request wins; later ones change nothing.
#[derive(Debug, Clone)]
pub struct Stop(Arc<tokio::sync::watch::Sender<Option<Stopped>>>);

impl Default for Stop {
    fn default() -> Self {
        Self(Arc::new(tokio::sync::watch::Sender::new(None)))
    }
}

impl Stop {
    /// A stop nobody has asked for yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the replay to stop, for `why`; returns whether this was the first request.
    pub fn request(&self, why: Stopped) -> bool {
        self.0.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(why);
            true
        })
    }

    /// Why a stop was asked for, if it was.
    pub fn requested(&self) -> Option<Stopped> {
        self.0.borrow().clone()
    }

    /// Resolves when a stop is asked for, with why.
    pub async fn wait(&self) -> Stopped {
        let mut receiver = self.0.subscribe();
        let why = match receiver.wait_for(Option::is_some).await {
            Ok(why) => why.clone(),
            // The sender lives in `self`: it cannot be gone while this waits.
            Err(_) => None,
        };
        match why {
            Some(why) => why,
            None => std::future::pending().await,
        }
    }
}
