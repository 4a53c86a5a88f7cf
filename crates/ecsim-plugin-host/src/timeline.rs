//! Playing a call's reply on the simulation's clock.
//!
//! A plugin returns, at once, everything its call does over simulated time: events at offsets
//! from the call's start, a duration, and requests to the core. The host publishes each event
//! when it is due and completes the call when its time is up. What is due after the call's end
//! (a service's later notification, an ODC partition going to ERROR while RUNNING) is played by
//! a task of its own, so the call returns on time and nothing the plugin said is dropped.

use std::time::Duration;

use ecsim_core::{clock::Timestamp, plugin::PluginContext};
use ecsim_proto::{
    events::EvIntegratedServiceEvent,
    plugin::{CallReply, core_request},
};

/// An event due at an offset from the call's start.
#[derive(Debug, Clone)]
struct TimedEvent {
    at: Duration,
    service: String,
    event: EvIntegratedServiceEvent,
    timestamp: Option<Timestamp>,
}

/// A request to the core due at an offset from the call's start.
#[derive(Debug, Clone)]
struct TimedRequest {
    at: Duration,
    environment_id: String,
    reason: String,
    stop_first: bool,
}

/// What a reply does over time, checked.
#[derive(Debug, Default)]
pub(crate) struct Timeline {
    events: Vec<TimedEvent>,
    requests: Vec<TimedRequest>,
}

fn valid_service(service: &str) -> bool {
    !service.is_empty()
        && service
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl Timeline {
    /// Takes the events and core requests out of `reply`, or says what is wrong with them.
    pub(crate) fn from_reply(reply: &mut CallReply) -> Result<Self, String> {
        let mut timeline = Self::default();
        for (index, event) in std::mem::take(&mut reply.events).into_iter().enumerate() {
            if !valid_service(&event.service) {
                return Err(format!(
                    "event {index} names service {:?}, which is not a topic name \
                     (letters, digits, '_', '-', '.')",
                    event.service
                ));
            }
            let Some(payload) = event.event else {
                return Err(format!("event {index} has no event"));
            };
            timeline.events.push(TimedEvent {
                at: Duration::from_millis(event.after_ms),
                service: event.service,
                event: payload,
                timestamp: (event.timestamp_ms != 0)
                    .then(|| Timestamp::from_unix_millis(event.timestamp_ms)),
            });
        }
        for (index, request) in std::mem::take(&mut reply.core_requests)
            .into_iter()
            .enumerate()
        {
            let stop_first = match request.request {
                Some(core_request::Request::StopThenGoError(_)) => true,
                Some(core_request::Request::GoError(_)) => false,
                None => return Err(format!("core request {index} asks for nothing")),
            };
            timeline.requests.push(TimedRequest {
                at: Duration::from_millis(request.after_ms),
                environment_id: request.environment_id,
                reason: request.reason,
                stop_first,
            });
        }
        // Stable: events due at the same time keep the order the plugin gave them.
        timeline.events.sort_by_key(|e| e.at);
        Ok(timeline)
    }

    /// Publishes the events due up to `end` as they fall due, waits until `end`, and leaves
    /// what comes later to tasks of its own.
    pub(crate) async fn play(self, context: &PluginContext, start: Timestamp, end: Duration) {
        let at = move |offset: Duration| {
            Timestamp::from_unix_nanos(
                start
                    .unix_nanos()
                    .saturating_add(i64::try_from(offset.as_nanos()).unwrap_or(i64::MAX)),
            )
        };
        let (now, later): (Vec<_>, Vec<_>) = self.events.into_iter().partition(|e| e.at <= end);
        for event in now {
            context.clock.sleep_until(at(event.at)).await;
            publish(context, event);
        }
        context.clock.sleep_until(at(end)).await;

        if !later.is_empty() {
            let context = context.clone();
            tokio::spawn(async move {
                for event in later {
                    context.clock.sleep_until(at(event.at)).await;
                    publish(&context, event);
                }
            });
        }
        for request in self.requests {
            let context = context.clone();
            let due = at(request.at);
            tokio::spawn(async move {
                context.clock.sleep_until(due).await;
                if request.stop_first {
                    context
                        .core
                        .partition_error(&request.environment_id, &request.reason)
                        .await;
                } else {
                    context
                        .core
                        .critical_error(&request.environment_id, &request.reason)
                        .await;
                }
            });
        }
    }
}

fn publish(context: &PluginContext, event: TimedEvent) {
    match event.timestamp {
        Some(timestamp) => {
            context
                .events
                .integrated_service_at(&event.service, event.event, timestamp);
        }
        None => context
            .events
            .integrated_service(&event.service, event.event),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecsim_proto::plugin::{CoreRequest, TimedEvent as WireEvent};

    #[test]
    fn replies_with_bad_services_or_empty_entries_are_refused_with_their_index() {
        let event = |service: &str| WireEvent {
            after_ms: 0,
            service: service.into(),
            event: Some(EvIntegratedServiceEvent::default()),
            timestamp_ms: 0,
        };
        let mut reply = CallReply {
            events: vec![event("dcs"), event("d c s")],
            ..Default::default()
        };
        assert_eq!(
            Timeline::from_reply(&mut reply).unwrap_err(),
            "event 1 names service \"d c s\", which is not a topic name (letters, digits, '_', '-', '.')"
        );
        let mut reply = CallReply {
            events: vec![WireEvent {
                event: None,
                ..event("odc")
            }],
            ..Default::default()
        };
        assert_eq!(
            Timeline::from_reply(&mut reply).unwrap_err(),
            "event 0 has no event"
        );
        let mut reply = CallReply {
            core_requests: vec![CoreRequest::default()],
            ..Default::default()
        };
        assert_eq!(
            Timeline::from_reply(&mut reply).unwrap_err(),
            "core request 0 asks for nothing"
        );
    }

    #[test]
    fn events_are_ordered_by_time_keeping_the_plugins_order_for_ties() {
        let event = |after_ms, step: &str| WireEvent {
            after_ms,
            service: "dcs".into(),
            event: Some(EvIntegratedServiceEvent {
                operation_step: step.into(),
                ..Default::default()
            }),
            timestamp_ms: 0,
        };
        let mut reply = CallReply {
            events: vec![event(5, "c"), event(0, "a"), event(5, "d"), event(0, "b")],
            ..Default::default()
        };
        let timeline = Timeline::from_reply(&mut reply).unwrap();
        let steps: Vec<&str> = timeline
            .events
            .iter()
            .map(|e| e.event.operation_step.as_str())
            .collect();
        assert_eq!(steps, ["a", "b", "c", "d"]);
    }
}
