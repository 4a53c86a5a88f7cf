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

use std::sync::{Arc, OnceLock, Weak};

use ecsim_proto::events::{
    EvCallEvent, EvEnvironmentEvent, EvIntegratedServiceEvent, EvMetaEventCoreStart, EvRoleEvent,
    EvRunEvent, EvTaskEvent,
};

use crate::clock::{Clock, Timestamp};

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
    /// `aliecs.task`
    Task(EvTaskEvent),
    /// `aliecs.role`
    Role(EvRoleEvent),
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
    /// Live subscribers (see [`EventBus::subscribe`]); made at the first subscription.
    live: OnceLock<tokio::sync::broadcast::Sender<Arc<CoreEvent>>>,
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
        if let Some(sender) = self.live.get().filter(|s| s.receiver_count() > 0) {
            // No receiver left between the check and the send is not an error.
            let _ = sender.send(Arc::new(event.clone()));
        }
    }

    /// A receiver of every event emitted from now on. The first subscription sets the
    /// capacity of the queue all subscribers share.
    pub(crate) fn subscribe(
        &self,
        capacity: usize,
    ) -> tokio::sync::broadcast::Receiver<Arc<CoreEvent>> {
        self.live
            .get_or_init(|| tokio::sync::broadcast::channel(capacity.max(1)).0)
            .subscribe()
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
