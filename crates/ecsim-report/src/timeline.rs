//! What a run did, per environment, as the report draws it, collected from the published
//! records.

use std::{collections::BTreeMap, sync::Mutex};

use ecsim_core::publish::{Publisher, Record};
use ecsim_proto::events::{Event, OpStatus, event::Payload};
use prost::Message as _;

/// A state an environment was in, from `from` (ms since the Unix epoch) until the next span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// When it entered the state.
    pub from: i64,
    /// The state (`CONFIGURED`, `RUNNING`, `ERROR`, `DONE` …).
    pub state: String,
}

/// A run of an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunBar {
    /// Its number.
    pub number: u32,
    /// When it started (START_ACTIVITY's moment).
    pub from: i64,
    /// When it ended; `None` while it was still on at the end.
    pub to: Option<i64>,
}

/// What a mark on a lane says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    /// A transition or call that failed (an environment event with an error).
    Failure,
    /// A transition the core started by itself (GO_ERROR, an auto-stop, a beam-dump stop).
    Core,
    /// An integrated service's operation finished (DCS, ODC, TRG, DDSched …).
    Service,
}

/// A moment worth a mark on a lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// When.
    pub at: i64,
    /// What kind.
    pub kind: MarkKind,
    /// What happened, for the hover text.
    pub text: String,
}

/// One environment's lane.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lane {
    /// Its AliECS id.
    pub id: String,
    /// Its states, in order.
    pub spans: Vec<Span>,
    /// Its runs, in order.
    pub runs: Vec<RunBar>,
    /// Its failures, core-initiated transitions and service operations, in order.
    pub marks: Vec<Mark>,
    /// Its detectors (from its "workflow loaded" event).
    pub detectors: Vec<String>,
    /// The transition in progress, if any.
    pub transition: Option<String>,
}

/// A run's timeline: a lane per environment in order of creation, and message counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    /// The first and last record's time (ms since the Unix epoch).
    pub start: i64,
    /// See [`Timeline::start`].
    pub end: i64,
    /// The environments, in the order they appeared.
    pub lanes: Vec<Lane>,
    /// Messages published per topic and second (seconds from `start`).
    pub per_topic: BTreeMap<String, BTreeMap<i64, u64>>,
}

/// Collects a [`Timeline`] from the records a run publishes.
#[derive(Debug, Default)]
pub struct TimelineRecorder(Mutex<Builder>);

#[derive(Debug, Default)]
struct Builder {
    timeline: Timeline,
    /// Environment id → index in `lanes`.
    index: BTreeMap<String, usize>,
    seen_any: bool,
}

impl TimelineRecorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The timeline so far.
    pub fn timeline(&self) -> Timeline {
        self.lock().timeline.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Builder> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Publisher for TimelineRecorder {
    fn publish(&self, record: Record) {
        let at = record.timestamp.unix_millis();
        let mut builder = self.lock();
        builder.count(&record.topic, at);
        let topic = record.topic.as_ref();
        let wanted = topic == ecsim_proto::topics::ENVIRONMENT
            || topic.starts_with("aliecs.integrated_service.");
        if !wanted {
            return;
        }
        // A value that does not decode is not ours to judge here: it is simply not drawn.
        let Ok(event) = Event::decode(record.value.as_slice()) else {
            return;
        };
        match event.payload {
            Some(Payload::EnvironmentEvent(e)) if !e.environment_id.is_empty() => {
                builder.environment(at, &e);
            }
            Some(Payload::IntegratedServiceEvent(e)) if !e.environment_id.is_empty() => {
                let done = matches!(
                    OpStatus::try_from(e.operation_status),
                    Ok(OpStatus::DoneOk | OpStatus::DoneError | OpStatus::DoneTimeout)
                );
                if done {
                    let lane = builder.lane(&e.environment_id);
                    let status =
                        OpStatus::try_from(e.operation_status).map_or("?", |s| s.as_str_name());
                    let failed = !e.error.is_empty();
                    lane.marks.push(Mark {
                        at,
                        kind: if failed {
                            MarkKind::Failure
                        } else {
                            MarkKind::Service
                        },
                        text: format!(
                            "{}: {} {status}{}",
                            e.name,
                            e.operation_name,
                            if failed {
                                format!(" — {}", e.error)
                            } else {
                                String::new()
                            }
                        ),
                    });
                }
            }
            _ => {}
        }
    }
}

impl Builder {
    fn count(&mut self, topic: &str, at: i64) {
        if !self.seen_any {
            self.seen_any = true;
            self.timeline.start = at;
            self.timeline.end = at;
        }
        self.timeline.start = self.timeline.start.min(at);
        self.timeline.end = self.timeline.end.max(at);
        let second = (at - self.timeline.start).div_euclid(1000);
        *self
            .timeline
            .per_topic
            .entry(topic.to_owned())
            .or_default()
            .entry(second)
            .or_default() += 1;
    }

    fn lane(&mut self, id: &str) -> &mut Lane {
        let index = match self.index.get(id) {
            Some(&index) => index,
            None => {
                self.timeline.lanes.push(Lane {
                    id: id.to_owned(),
                    ..Lane::default()
                });
                let index = self.timeline.lanes.len() - 1;
                self.index.insert(id.to_owned(), index);
                index
            }
        };
        &mut self.timeline.lanes[index]
    }

    fn environment(&mut self, at: i64, e: &ecsim_proto::events::EvEnvironmentEvent) {
        let lane = self.lane(&e.environment_id);
        let state = e.state.as_str();
        if !state.is_empty() && lane.spans.last().is_none_or(|s| s.state != state) {
            // A run is over when its environment goes anywhere but RUNNING: stopped, or its
            // START failed and it went to ERROR.
            if state != "RUNNING"
                && let Some(run) = lane.runs.last_mut().filter(|r| r.to.is_none())
            {
                run.to = Some(at);
            }
            lane.spans.push(Span {
                from: at,
                state: state.to_owned(),
            });
        }
        if let Some(detectors) = e.vars.get("detectors")
            && let Ok(detectors) = serde_json::from_str::<Vec<String>>(detectors)
        {
            lane.detectors = detectors;
        }
        if !e.transition.is_empty() {
            let over = matches!(
                OpStatus::try_from(e.transition_status),
                Ok(OpStatus::DoneOk | OpStatus::DoneError | OpStatus::DoneTimeout)
            ) && e.transition_step.is_empty();
            lane.transition = (!over).then(|| e.transition.clone());
        }
        if e.run_number != 0 && lane.runs.last().is_none_or(|r| r.number != e.run_number) {
            lane.runs.push(RunBar {
                number: e.run_number,
                from: at,
                to: None,
            });
        }
        if !e.error.is_empty() {
            let what = if e.transition.is_empty() {
                e.message.clone()
            } else {
                format!("{} {}", e.transition, e.transition_step)
            };
            lane.marks.push(Mark {
                at,
                kind: MarkKind::Failure,
                text: format!("{}: {}", what.trim(), e.error),
            });
        } else if e.transition_step.is_empty() && e.message == "transition starting" {
            // Transitions the core starts: GO_ERROR, and those its special users request (the
            // LHC's beam-dump stop, the auto-stop timer).
            let special = e
                .last_request_user
                .as_ref()
                .filter(|u| matches!(u.external_id, Some(60 | 65)))
                .map(|u| u.name.clone());
            if e.transition == "GO_ERROR" || special.is_some() {
                lane.marks.push(Mark {
                    at,
                    kind: MarkKind::Core,
                    text: match special {
                        Some(user) => format!("{} by {user}", e.transition),
                        None => e.transition.clone(),
                    },
                });
            }
        }
    }
}
