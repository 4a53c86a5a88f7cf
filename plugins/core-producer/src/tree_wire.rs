//! `events.Ev_TaskEvent` and `events.Ev_RoleEvent` encoded from the core's shared parts.
//!
//! The core hands task and role events over as [`TaskEvent`] and [`RoleEvent`]: shared ids,
//! names and paths and the value that changed, so that the most frequent events cost no
//! allocation (`ecsim_core::event`'s `tree` module). These encoders write the bytes prost writes
//! for [`TaskEvent::to_proto`] and [`RoleEvent::to_proto`] — fields in number order, empty
//! strings left out, the traits always there — straight from those parts, without making the
//! message first. The tests check them byte for byte against prost.

use ecsim_core::event::{RoleEvent, TaskEvent};
use ecsim_proto::prost::{Message, bytes::BufMut, encoding};

use crate::fields::{encoding_only, str_field, str_len};

/// A role event to encode; encoding only (a `Message` because the envelope encoder takes one).
#[derive(Debug)]
pub(crate) struct RoleWire<'a>(pub(crate) &'a RoleEvent);

impl Message for RoleWire<'_> {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        let (e, role) = (self.0, &*self.0.role);
        str_field(1, role.name(), buf);
        str_field(2, e.status(), buf);
        str_field(3, e.state(), buf);
        str_field(4, role.path(), buf);
        str_field(5, &role.environment_id, buf);
    }

    encoding_only!();

    fn encoded_len(&self) -> usize {
        let (e, role) = (self.0, &*self.0.role);
        str_len(1, role.name())
            + str_len(2, e.status())
            + str_len(3, e.state())
            + str_len(4, role.path())
            + str_len(5, &role.environment_id)
    }

    fn clear(&mut self) {}
}

/// A task event to encode; encoding only.
#[derive(Debug)]
pub(crate) struct TaskWire<'a>(pub(crate) &'a TaskEvent);

/// The traits' field number.
const TRAITS: u32 = 7;

impl Message for TaskWire<'_> {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        let (e, task) = (self.0, &*self.0.task);
        str_field(1, &task.name, buf);
        str_field(2, task.id.as_str(), buf);
        str_field(3, e.state.as_str(), buf);
        str_field(4, e.status.as_str(), buf);
        str_field(5, &task.hostname, buf);
        str_field(6, &task.class_name, buf);
        // A message field that is set is written even when empty, as prost does.
        encoding::message::encode(TRAITS, e.traits(), buf);
        str_field(8, e.environment_id(), buf);
        str_field(9, e.path(), buf);
    }

    encoding_only!();

    fn encoded_len(&self) -> usize {
        let (e, task) = (self.0, &*self.0.task);
        str_len(1, &task.name)
            + str_len(2, task.id.as_str())
            + str_len(3, e.state.as_str())
            + str_len(4, e.status.as_str())
            + str_len(5, &task.hostname)
            + str_len(6, &task.class_name)
            + encoding::message::encoded_len(TRAITS, e.traits())
            + str_len(8, e.environment_id())
            + str_len(9, e.path())
    }

    fn clear(&mut self) {}
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ecsim_core::{
        TaskId,
        event::{RoleChange, RoleFacts, TaskEventStatus, TaskFacts},
        fsm::State,
        role_state::{RoleState, TaskStatus},
    };
    use ecsim_proto::events::Traits;

    use super::*;

    /// Every task or role status.
    const STATUSES: [TaskStatus; 5] = [
        TaskStatus::Undefined,
        TaskStatus::Active,
        TaskStatus::Inactive,
        TaskStatus::Partial,
        TaskStatus::Invariant,
    ];

    /// Every state and status a role reports, on a short and a long path (a length past 127
    /// takes a two-byte varint), with and without an environment id.
    #[test]
    fn role_events_are_the_bytes_prost_writes_for_their_message() {
        let states = [RoleState::Unknown, RoleState::Mixed, RoleState::Invariant]
            .into_iter()
            .chain(State::ALL.map(RoleState::Is));
        let changes: Vec<RoleChange> = states
            .map(RoleChange::State)
            .chain(STATUSES.map(RoleChange::Status))
            .collect();
        let long = format!("readout-dataflow.host-{}.readout", "f".repeat(200));
        for path in ["readout-dataflow", "readout-dataflow.host-flp1.stfb", &long] {
            for environment_id in ["", "2oDvieFrVTi"] {
                let role = Arc::new(RoleFacts::new(environment_id.into(), path.to_owned()));
                for &change in &changes {
                    let event = RoleEvent {
                        role: Arc::clone(&role),
                        change,
                    };
                    let ours = RoleWire(&event);
                    let prost = event.to_proto().encode_to_vec();
                    assert_eq!(ours.encode_to_vec(), prost, "{event:?}");
                    assert_eq!(ours.encoded_len(), prost.len());
                }
            }
        }
    }

    /// A task's events in every state and status, a hook's traits and the defaults, a finished
    /// hook, and a task killed after its environment (no environment, path or traits).
    #[test]
    fn task_events_are_the_bytes_prost_writes_for_their_message() {
        let facts = |traits: Traits, host: &str| {
            Arc::new(TaskFacts {
                id: TaskId::from("2oDvieFrVTi"),
                name: "readout#2oDvieFrVTi".into(),
                class_name: "readout".into(),
                hostname: host.into(),
                traits: Arc::new(traits),
                role: Arc::new(RoleFacts::new(
                    "2oDvieFrVTj".into(),
                    "readout-dataflow.host-flp1.readout".into(),
                )),
            })
        };
        let hook = Traits {
            trigger: "DESTROY".into(),
            r#await: "DESTROY".into(),
            timeout: "10s".into(),
            critical: false,
        };
        let plain = Traits {
            timeout: "0s".into(),
            critical: true,
            ..Traits::default()
        };
        let statuses = STATUSES
            .map(TaskEventStatus::Is)
            .into_iter()
            .chain([TaskEventStatus::Finished]);
        for task in [
            facts(plain, "flp1"),
            facts(hook.clone(), &"h".repeat(300)),
            // Either side of the one-byte length's bound.
            facts(hook.clone(), &"h".repeat(127)),
            facts(hook, &"h".repeat(128)),
            facts(Traits::default(), ""),
        ] {
            for state in State::ALL {
                for status in statuses.clone() {
                    for detached in [false, true] {
                        let event = TaskEvent {
                            task: Arc::clone(&task),
                            state,
                            status,
                            detached,
                        };
                        let ours = TaskWire(&event);
                        let prost = event.to_proto().encode_to_vec();
                        assert_eq!(ours.encode_to_vec(), prost, "{event:?}");
                        assert_eq!(ours.encoded_len(), prost.len());
                    }
                }
            }
        }
    }
}
