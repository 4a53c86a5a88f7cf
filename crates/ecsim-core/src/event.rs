//! Core events: what the simulated AliECS core announces, and how they reach the plugins.
//!
//! AliECS's core writes each of these to its own `aliecs.*` topic (reference §3.1). ecsim's core
//! writes nothing itself (ARCHITECTURE.md, invariant "the core has no Kafka"): it hands every
//! event to every [`CoreObserver`], and the core-producer plugin is the one that publishes them.
//! Integration plugins add their own events (DCS, ODC, … `Ev_IntegratedServiceEvent`) through an
//! [`EventEmitter`].
//!
//! Observing is not part of AliECS's plugin interface (AliECS's core writes its events itself,
//! through a global writer), so it is a trait of its own: a plugin that publishes core events
//! implements both, and is registered with `PluginRegistry::register_observing`.

use std::sync::{
    Arc, OnceLock, PoisonError, RwLock, Weak,
    atomic::{AtomicBool, Ordering},
};

use ecsim_proto::events::{
    EvCallEvent, EvEnvironmentEvent, EvIntegratedServiceEvent, EvMetaEventCoreStart, EvRunEvent,
};

use crate::clock::{Clock, Timestamp};

mod tree;

pub use tree::{RoleChange, RoleEvent, RoleFacts, TaskEvent, TaskEventStatus, TaskFacts};

/// One event of the core, with the instant it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreEvent {
    /// When it happened (`events.Event.timestamp`/`timestampNano`).
    pub timestamp: Timestamp,
    /// What happened.
    pub payload: CorePayload,
}

/// The kinds of core event, one per `aliecs.*` topic.
#[derive(Debug, Clone, PartialEq)]
pub enum CorePayload {
    /// `aliecs.core`: once, before the plugins are initialized.
    CoreStart(EvMetaEventCoreStart),
    /// `aliecs.environment`
    Environment(EvEnvironmentEvent),
    /// `aliecs.run`
    Run(EvRunEvent),
    /// `aliecs.task`, of shared parts ([`TaskEvent::to_proto`] gives AliECS's message).
    Task(TaskEvent),
    /// `aliecs.role`, of shared parts ([`RoleEvent::to_proto`] gives AliECS's message).
    Role(RoleEvent),
    /// `aliecs.call`
    Call(EvCallEvent),
    /// `aliecs.integrated_service.<service>`, emitted by an integration plugin.
    IntegratedService {
        /// The service, which names the topic: `dcs`, `odc`, `trg`, `ddsched`.
        service: String,
        /// The event.
        event: EvIntegratedServiceEvent,
    },
}

/// The message of an environment's last event, after its teardown (AliECS's text).
pub(crate) const TEARDOWN_COMPLETE: &str = "environment teardown complete";

impl CoreEvent {
    /// Whether this is an environment's last event: its teardown is complete, nothing more
    /// about it follows. A stream of one environment's events ends here (`Subscribe`).
    pub fn ends_environment(&self) -> bool {
        matches!(&self.payload,
            CorePayload::Environment(e)
                if e.state == crate::fsm::State::Done.as_str() && e.message == TEARDOWN_COMPLETE)
    }
}

/// What receives every core event, in the order the core emits them.
pub trait CoreObserver: Send + Sync + 'static {
    /// Receives one event. Runs on the simulation's path: must not block.
    fn observe(&self, event: &CoreEvent);
}

/// The observers of core events, in registry order.
#[derive(Default)]
pub(crate) struct EventBus {
    /// Set once, when the core starts. Once-cells, not locks: every event reads both, and a
    /// read of a set cell is a plain load.
    observers: OnceLock<Vec<Arc<dyn CoreObserver>>>,
    /// Live subscribers (see [`EventBus::subscribe`]), each with a queue of its own size.
    live: RwLock<Vec<tokio::sync::broadcast::Sender<Arc<CoreEvent>>>>,
    /// Whether any subscriber was ever made: until then an event costs no lock.
    any_live: AtomicBool,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus").finish_non_exhaustive()
    }
}

impl EventBus {
    /// The observers, in order; set once, when the core starts (a second call changes nothing).
    pub(crate) fn set_observers(&self, observers: Vec<Arc<dyn CoreObserver>>) {
        let _ = self.observers.set(observers);
    }

    /// Hands `event` to every observer, in order, before returning: events reach publishers in
    /// exactly the order the core emits them. Then to the live subscribers, if any.
    pub(crate) fn emit(&self, event: &CoreEvent) {
        for observer in self.observers.get().into_iter().flatten() {
            observer.observe(event);
        }
        if !self.any_live.load(Ordering::Acquire) {
            return;
        }
        let live = self.live.read().unwrap_or_else(PoisonError::into_inner);
        // One copy of the event for every subscriber.
        let mut shared: Option<Arc<CoreEvent>> = None;
        for sender in live.iter().filter(|s| s.receiver_count() > 0) {
            let event = shared.get_or_insert_with(|| Arc::new(event.clone()));
            // No receiver left between the check and the send is not an error.
            let _ = sender.send(Arc::clone(event));
        }
    }

    /// A receiver of every event emitted from now on, with a queue of `capacity` events of its
    /// own: a subscriber that falls further behind than that is told how many it missed
    /// (`Lagged`), and others are not held back by it, whatever their own capacity.
    pub(crate) fn subscribe(
        &self,
        capacity: usize,
    ) -> tokio::sync::broadcast::Receiver<Arc<CoreEvent>> {
        let (sender, receiver) = tokio::sync::broadcast::channel(capacity.max(1));
        let mut live = self.live.write().unwrap_or_else(PoisonError::into_inner);
        // The queues of subscribers gone are dropped here, so that they do not add up.
        live.retain(|s| s.receiver_count() > 0);
        live.push(sender);
        self.any_live.store(true, Ordering::Release);
        receiver
    }
}

/// What a plugin uses to emit events of its own (integrated-service events).
#[derive(Debug, Clone)]
pub struct EventEmitter {
    // Weak: the bus holds the plugins, and a plugin holds its emitter.
    bus: Weak<EventBus>,
    clock: Clock,
}

impl EventEmitter {
    pub(crate) fn new(bus: &Arc<EventBus>, clock: Clock) -> Self {
        Self {
            bus: Arc::downgrade(bus),
            clock,
        }
    }

    /// An emitter connected to nothing: what it emits is dropped. For testing a plugin on its
    /// own, outside a core.
    pub fn detached(clock: Clock) -> Self {
        Self {
            bus: Weak::new(),
            clock,
        }
    }

    /// Emits an integrated-service event for `service` (`dcs`, `odc`, …), timestamped now.
    pub fn integrated_service(&self, service: &str, event: EvIntegratedServiceEvent) {
        self.integrated_service_at(service, event, self.clock.now());
    }

    /// Emits an integrated-service event with an explicit timestamp, as AliECS's TRG plugin
    /// does for RunStart/RunStop (`WriteEventWithTimestamp`).
    pub fn integrated_service_at(
        &self,
        service: &str,
        event: EvIntegratedServiceEvent,
        timestamp: Timestamp,
    ) {
        if let Some(bus) = self.bus.upgrade() {
            let payload = CorePayload::IntegratedService {
                service: service.to_owned(),
                event,
            };
            bus.emit(&CoreEvent { timestamp, payload });
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::broadcast::error::TryRecvError;

    use super::*;

    fn event(n: i64) -> CoreEvent {
        CoreEvent {
            timestamp: Timestamp::from_unix_millis(1_750_000_000_000 + n),
            payload: CorePayload::CoreStart(EvMetaEventCoreStart::default()),
        }
    }

    #[test]
    fn each_subscriber_has_a_queue_of_its_own_size_and_a_slow_one_holds_back_no_other() {
        let bus = EventBus::default();
        bus.emit(&event(0)); // before any subscriber: nobody gets it
        let mut small = bus.subscribe(2);
        let mut large = bus.subscribe(64);
        for n in 1..=10 {
            bus.emit(&event(n));
        }
        // The small queue kept its last two and says how many it missed.
        assert_eq!(small.try_recv().unwrap_err(), TryRecvError::Lagged(8));
        let kept: Vec<Timestamp> = std::iter::from_fn(|| small.try_recv().ok())
            .map(|e| e.timestamp)
            .collect();
        assert_eq!(kept, [event(9).timestamp, event(10).timestamp]);
        // The large one, subscribed second, got every event: the first subscriber did not
        // set its size.
        let all: Vec<Timestamp> = std::iter::from_fn(|| large.try_recv().ok())
            .map(|e| e.timestamp)
            .collect();
        assert_eq!(
            all,
            (1..=10).map(|n| event(n).timestamp).collect::<Vec<_>>()
        );
    }

    #[test]
    fn an_environment_ends_with_its_teardown_complete_event_only() {
        let environment = |state: &str, message: &str| CoreEvent {
            timestamp: Timestamp::from_unix_millis(1_750_000_000_000),
            payload: CorePayload::Environment(EvEnvironmentEvent {
                state: state.to_owned(),
                message: message.to_owned(),
                ..EvEnvironmentEvent::default()
            }),
        };
        assert!(environment("DONE", TEARDOWN_COMPLETE).ends_environment());
        assert!(!environment("DONE", "transition completed successfully").ends_environment());
        assert!(!environment("STANDBY", TEARDOWN_COMPLETE).ends_environment());
        assert!(!event(1).ends_environment());
    }

    #[test]
    fn the_queues_of_subscribers_gone_are_dropped_at_the_next_subscription() {
        let bus = EventBus::default();
        for _ in 0..100 {
            drop(bus.subscribe(16));
        }
        let _kept = bus.subscribe(16);
        assert_eq!(bus.live.read().unwrap().len(), 1);
    }
}
