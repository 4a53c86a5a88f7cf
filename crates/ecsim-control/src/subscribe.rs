//! `Subscribe`: the event stream of an automatic environment, or of a live environment.
//!
//! AliECS's `Subscribe` takes any string as its id and waits until an automatic environment
//! registers it (`core/server.go` Subscribe): the Control GUI and `coconut` subscribe first and
//! ask for the environment after. ecsim does the same — without AliECS's busy loop — and, as an
//! addition of its own, streams a live environment's events when the id is that environment's.
//! Every stream ends with its environment's teardown, when the client goes away, or with
//! `UNAVAILABLE` when the server stops: none holds the server up.

use std::{pin::Pin, sync::Arc};

use ecsim_core::{Core, EnvironmentId, event::CoreEvent};
use ecsim_proto::events::Event;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::Stream;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::{
    auto::{self, Feed, Feeds},
    convert, status,
    tasks::Tasks,
};

/// What a stream sends.
type Item = Result<Event, Status>;

/// How many events wait for a slow client of a live environment's stream before it misses
/// some.
const BACKLOG: usize = 16 * 1024;

/// Where a stream's events come from.
enum Source {
    /// An automatic environment's feed, registered already.
    Feed(Feed),
    /// An automatic environment's feed, once its id is registered.
    Waiting(String),
    /// A live environment's events, from now on.
    Environment(EnvironmentId, broadcast::Receiver<Arc<CoreEvent>>),
}

/// The stream of subscription `id`.
pub(crate) fn open(
    core: &Core,
    feeds: Arc<Feeds>,
    id: &str,
    stopping: CancellationToken,
    tasks: &Tasks,
) -> Result<Pin<Box<dyn Stream<Item = Item> + Send>>, Status> {
    let source = if let Some(feed) = feeds.take(id) {
        Source::Feed(feed)
    } else {
        match status::environment_id(id) {
            Ok(environment) if core.state(&environment).is_some() => {
                let events = core.subscribe(BACKLOG);
                // Subscribed first, checked after: an environment destroyed in between is
                // noticed.
                if core.state(&environment).is_none() {
                    return Err(status::not_found(&environment));
                }
                Source::Environment(environment, events)
            }
            _ => Source::Waiting(id.to_owned()),
        }
    };
    let (sender, receiver) = mpsc::channel(64);
    tasks.spawn(pump(source, feeds, sender, stopping));
    Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(
        receiver,
    )))
}

/// The server's stop, as a stream's last item.
fn stopped() -> Status {
    Status::unavailable("ecsim serve is stopping: the stream ends here")
}

/// Passes the source's events to the client until the source ends, the client goes away or
/// the server stops.
async fn pump(
    source: Source,
    feeds: Arc<Feeds>,
    sender: mpsc::Sender<Item>,
    stopping: CancellationToken,
) {
    let mut feed = match source {
        Source::Feed(feed) => feed,
        Source::Waiting(id) => {
            let waited = tokio::select! {
                biased;
                () = sender.closed() => return,
                waited = feeds.wait(&id, &stopping) => waited,
            };
            match waited {
                Ok(Some(feed)) => feed,
                Ok(None) => {
                    let _ = sender.send(Err(stopped())).await;
                    return;
                }
                Err(refused) => {
                    let _ = sender.send(Err(refused)).await;
                    return;
                }
            }
        }
        Source::Environment(id, events) => {
            return environment(id, events, sender, stopping).await;
        }
    };
    loop {
        let item = tokio::select! {
            biased;
            () = stopping.cancelled() => {
                let _ = sender.send(Err(stopped())).await;
                return;
            }
            () = sender.closed() => return,
            item = feed.recv() => item,
        };
        match item {
            Some(item) => {
                if sender.send(item).await.is_err() {
                    return;
                }
            }
            None => return,
        }
    }
}

/// A live environment's events, until its teardown completes.
async fn environment(
    id: EnvironmentId,
    mut events: broadcast::Receiver<Arc<CoreEvent>>,
    sender: mpsc::Sender<Item>,
    stopping: CancellationToken,
) {
    use broadcast::error::RecvError;
    loop {
        let received = tokio::select! {
            biased;
            () = stopping.cancelled() => {
                let _ = sender.send(Err(stopped())).await;
                return;
            }
            () = sender.closed() => return,
            received = events.recv() => received,
        };
        let event = match received {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => {
                let _ = sender.send(Err(auto::lagged(missed))).await;
                return;
            }
            Err(RecvError::Closed) => return,
        };
        if convert::environment_of(&event) != Some(id.as_str()) {
            continue;
        }
        let last = event.ends_environment();
        if sender.send(Ok(convert::event(&event))).await.is_err() || last {
            return;
        }
    }
}
