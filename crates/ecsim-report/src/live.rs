//! A live page of a run in progress (`ecsim serve --http-port`, `ecsim run --http-port` in real
//! time): environments with their state, run, detectors and transition, the timeline growing,
//! the last message of every topic decoded, the integrated services' last operations.
//!
//! [`LiveView`] is a [`Publisher`] beside the run's others: it keeps the [`Timeline`](crate::Timeline) (through a
//! [`TimelineRecorder`]) and the last record of each topic (decoded only when a page asks).
//! [`serve`] serves the page and a server-sent-event stream of snapshots, at most five a second
//! and only when something changed. Read-only: nothing on the page can change the run.

use std::{
    collections::BTreeMap, convert::Infallible, future::IntoFuture, sync::Arc, time::Duration,
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{
        Html,
        sse::{Event as SseEvent, KeepAlive, Sse},
    },
    routing::get,
};
use ecsim_core::publish::{Publisher, Record};
use tokio::sync::watch;
use tokio_stream::{Stream, StreamExt as _, wrappers::WatchStream};

use crate::timeline::TimelineRecorder;

/// What the page shows, kept as records pass.
#[derive(Debug)]
pub struct LiveView {
    timeline: TimelineRecorder,
    last: std::sync::Mutex<BTreeMap<String, Last>>,
    changed: watch::Sender<u64>,
    /// Set when the run is over: the event streams end, so that the server can stop.
    closed: watch::Sender<bool>,
    title: String,
}

#[derive(Debug, Clone)]
struct Last {
    count: u64,
    at: i64,
    value: Vec<u8>,
}

impl LiveView {
    /// A view of the run named `title`.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            timeline: TimelineRecorder::new(),
            last: std::sync::Mutex::new(BTreeMap::new()),
            changed: watch::Sender::new(0),
            closed: watch::Sender::new(false),
            title: title.into(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Last>> {
        self.last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Ends the pages' event streams (the last snapshot is sent first): the run is over.
    pub fn close(&self) {
        self.changed.send_modify(|n| *n += 1);
        self.closed.send_replace(true);
    }

    /// Everything the page shows, now, as JSON.
    pub fn snapshot(&self) -> serde_json::Value {
        let timeline = self.timeline.timeline();
        let environments: Vec<serde_json::Value> = timeline
            .lanes
            .iter()
            .map(|lane| {
                let running = lane.runs.last().filter(|r| r.to.is_none());
                serde_json::json!({
                    "id": lane.id,
                    "state": lane.spans.last().map(|s| s.state.as_str()).unwrap_or(""),
                    "run": running.map(|r| r.number),
                    "detectors": lane.detectors,
                    "transition": lane.transition,
                    "spans": lane.spans.iter().map(|s| serde_json::json!([s.from, s.state])).collect::<Vec<_>>(),
                    "runs": lane.runs.iter().map(|r| serde_json::json!([r.number, r.from, r.to])).collect::<Vec<_>>(),
                    "services": lane.marks.iter().rev().take(5).map(|m| m.text.clone()).collect::<Vec<_>>(),
                })
            })
            .collect();
        let topics: serde_json::Map<String, serde_json::Value> = self
            .lock()
            .iter()
            .map(|(topic, last)| {
                let decoded = ecsim_proto::topics::message_type_for_topic(topic)
                    .and_then(|kind| ecsim_proto::json::decode_to_json(kind, &last.value).ok())
                    .unwrap_or(serde_json::Value::Null);
                (
                    topic.clone(),
                    serde_json::json!({ "count": last.count, "at": last.at, "last": decoded }),
                )
            })
            .collect();
        serde_json::json!({
            "title": self.title,
            "start": timeline.start,
            "end": timeline.end,
            "environments": environments,
            "topics": topics,
        })
    }
}

impl Publisher for LiveView {
    fn publish(&self, record: Record) {
        {
            let mut last = self.lock();
            let entry = last.entry(record.topic.to_string()).or_insert(Last {
                count: 0,
                at: 0,
                value: Vec::new(),
            });
            entry.count += 1;
            entry.at = record.timestamp.unix_millis();
            entry.value.clone_from(&record.value);
        }
        self.timeline.publish(record);
        self.changed.send_modify(|n| *n += 1);
    }
}

/// More about one environment, for the page's links (`serve`: the control API's
/// `GetEnvironment`), as JSON; `None` when there is no such environment.
pub type Details = Arc<
    dyn Fn(String) -> std::pin::Pin<Box<dyn Future<Output = Option<serde_json::Value>> + Send>>
        + Send
        + Sync,
>;

#[derive(Clone)]
struct App {
    view: Arc<LiveView>,
    details: Option<Details>,
}

/// Serves the page on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    view: Arc<LiveView>,
    details: Option<Details>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/", get(page))
        .route("/events", get(events))
        .route("/snapshot", get(snapshot))
        .route("/api/environments/{id}", get(environment))
        .with_state(App { view, details });
    // Once told to stop, connections get a moment to finish what they are sending; a client
    // that half-sent a request, or keeps its connection open, does not hold the command up.
    let (stopping, stopped) = watch::channel(false);
    let signal = async move {
        shutdown.await;
        let _ = stopping.send(true);
    };
    let server = IntoFuture::into_future(axum::serve(listener, app).with_graceful_shutdown(signal));
    tokio::pin!(server);
    let mut stopped = stopped;
    tokio::select! {
        biased;
        served = &mut server => served,
        () = async {
            let _ = stopped.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(STOP_GRACE).await;
        } => {
            tracing::debug!("live page connections still open {STOP_GRACE:?} after the stop: closed");
            Ok(())
        }
    }
}

/// How long the live page's connections may stay open once it stops.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

async fn page(State(app): State<App>) -> Html<String> {
    Html(PAGE.replace(
        "{{details}}",
        if app.details.is_some() {
            "true"
        } else {
            "false"
        },
    ))
}

async fn snapshot(State(app): State<App>) -> Json<serde_json::Value> {
    Json(app.view.snapshot())
}

async fn environment(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, StatusCode> {
    let details = app.details.ok_or(StatusCode::NOT_FOUND)?;
    details(id).await.map(Json).ok_or(StatusCode::NOT_FOUND)
}

async fn events(State(app): State<App>) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let view = Arc::clone(&app.view);
    let mut closed = app.view.closed.subscribe();
    let changes = WatchStream::new(app.view.changed.subscribe())
        .throttle(Duration::from_millis(200))
        .map(move |_| {
            Ok(SseEvent::default()
                .event("snapshot")
                .data(view.snapshot().to_string()))
        });
    let changes = futures::StreamExt::take_until(changes, async move {
        // An error means the view is gone: end too.
        let _ = closed.wait_for(|closed| *closed).await;
    });
    Sse::new(changes).keep_alive(KeepAlive::default())
}

const PAGE: &str = include_str!("live.html");

/// Binds `port` on loopback (0 for a free one) before anything runs, so that the address can
/// be told at once.
pub fn bind(port: u16) -> std::io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves `view` on a thread of its own (for a run whose runtime is busy replaying) until
/// [`LiveServer::stop`].
#[derive(Debug)]
pub struct LiveServer {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LiveServer {
    /// Starts serving `view` on `listener`.
    pub fn start(listener: std::net::TcpListener, view: Arc<LiveView>) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("ecsim-live".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let served = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => {
                            serve(listener, view, None, async move {
                                let _ = stopped.await;
                            })
                            .await
                        }
                        Err(error) => Err(error),
                    };
                    if let Err(error) = served {
                        tracing::warn!(%error, "the live page stopped");
                    }
                });
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops serving (the view should be [`LiveView::close`]d first, so that pages hear the
    /// end) and waits for the server's thread.
    pub fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
