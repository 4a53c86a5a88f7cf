//! Consumer groups: Kafka's classic group protocol (JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup) and committed offsets.
//!
//! A group goes Empty → PreparingRebalance → CompletingRebalance → Stable, as in Kafka's
//! coordinator. A rebalance ends as soon as every member has (re)joined — a member that left
//! with LeaveGroup is gone at once, so a consumer restarted in the same group is served within
//! [`INITIAL_DELAY`], not after its predecessor's session timeout — or when the rebalance
//! timeout passes, which removes members that did not rejoin. A member that stops
//! heartbeating is removed after its session timeout, as in Kafka.
//!
//! Requests that must wait (a JoinGroup until the rebalance ends, a follower's SyncGroup until
//! the leader's) get a [`Pending`] reply; [`Groups::tick`] drives the clock.

mod machine;

use std::{
    collections::{HashMap, HashSet},
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant},
};

use machine::Group;

use bytes::Bytes;
use kafka_protocol::{ResponseError, protocol::StrBytes};
use tokio::sync::oneshot;

/// How long a rebalance of an empty group waits for more members before it ends: consumers
/// started together then share one generation instead of joining one after the other. Kafka's
/// `group.initial.rebalance.delay.ms` is 3 s; a development broker has no use for that wait.
pub(crate) const INITIAL_DELAY: Duration = Duration::from_millis(100);

/// Kafka's `group.min.session.timeout.ms` and `group.max.session.timeout.ms`: a client asking
/// for a session outside them is refused here as it would be by Kafka.
pub(crate) const SESSION_TIMEOUTS: std::ops::RangeInclusive<i32> = 6_000..=1_800_000;

pub(crate) fn code(error: ResponseError) -> i16 {
    error.code()
}

/// A group's state, named as Kafka names it (DescribeGroups, ListGroups).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl State {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::PreparingRebalance => "PreparingRebalance",
            Self::CompletingRebalance => "CompletingRebalance",
            Self::Stable => "Stable",
        }
    }
}

/// What a JoinGroup gets.
#[derive(Debug, Clone, Default)]
pub(crate) struct Joined {
    pub(crate) error: i16,
    pub(crate) generation: i32,
    pub(crate) protocol_type: Option<StrBytes>,
    pub(crate) protocol_name: Option<StrBytes>,
    pub(crate) leader: StrBytes,
    pub(crate) member_id: StrBytes,
    /// Every member and its metadata for the chosen protocol: for the leader only.
    pub(crate) members: Vec<(StrBytes, Option<StrBytes>, Bytes)>,
}

impl Joined {
    fn error(error: ResponseError, member_id: StrBytes) -> Self {
        Self {
            error: code(error),
            generation: -1,
            member_id,
            ..Self::default()
        }
    }
}

/// What a SyncGroup gets.
#[derive(Debug, Clone, Default)]
pub(crate) struct Synced {
    pub(crate) error: i16,
    pub(crate) protocol_type: Option<StrBytes>,
    pub(crate) protocol_name: Option<StrBytes>,
    pub(crate) assignment: Bytes,
}

impl Synced {
    fn error(error: ResponseError) -> Self {
        Self {
            error: code(error),
            ..Self::default()
        }
    }
}

/// A reply now, or one that comes when the group gets there.
#[derive(Debug)]
pub(crate) enum Pending<T> {
    Now(T),
    Later(oneshot::Receiver<T>),
}

/// A JoinGroup request, as the coordinator needs it.
#[derive(Debug)]
pub(crate) struct JoinRequest {
    pub(crate) member_id: StrBytes,
    pub(crate) group_instance_id: Option<StrBytes>,
    pub(crate) client_id: StrBytes,
    pub(crate) client_host: StrBytes,
    pub(crate) session_timeout_ms: i32,
    pub(crate) rebalance_timeout_ms: i32,
    pub(crate) protocol_type: StrBytes,
    pub(crate) protocols: Vec<(StrBytes, Bytes)>,
    /// Version 4 on: a member without an id is given one and asked to join again with it.
    pub(crate) requires_known_member_id: bool,
}

/// A committed offset.
#[derive(Debug, Clone)]
pub(crate) struct Committed {
    pub(crate) offset: i64,
    pub(crate) leader_epoch: i32,
    pub(crate) metadata: Option<StrBytes>,
}

/// A group as DescribeGroups reports it.
#[derive(Debug)]
pub(crate) struct Description {
    pub(crate) state: State,
    pub(crate) protocol_type: StrBytes,
    pub(crate) protocol: StrBytes,
    /// Id, instance id, client id, host, metadata, assignment.
    pub(crate) members: Vec<DescribedMember>,
}

/// A member as DescribeGroups reports it.
#[derive(Debug)]
pub(crate) struct DescribedMember {
    pub(crate) member_id: StrBytes,
    pub(crate) group_instance_id: Option<StrBytes>,
    pub(crate) client_id: StrBytes,
    pub(crate) client_host: StrBytes,
    pub(crate) metadata: Bytes,
    pub(crate) assignment: Bytes,
}

/// Every group of the broker.
///
/// Only groups with timers to run (members, ids handed out) are ticked, so idle groups cost
/// nothing; an Empty group is forgotten once its retention ends (at once if it has no
/// offsets), checked every [`SWEEP`]. At most `max` groups exist: a JoinGroup or commit that
/// would make one more is refused.
#[derive(Debug)]
pub(crate) struct Groups {
    inner: Mutex<Inner>,
    max: usize,
    retention: Duration,
}

#[derive(Debug, Default)]
struct Inner {
    groups: HashMap<StrBytes, Group>,
    /// Groups to tick.
    active: HashSet<StrBytes>,
    last_sweep: Option<Instant>,
}

/// How often Empty groups are looked at for expiry.
const SWEEP: Duration = Duration::from_secs(10);

impl Groups {
    pub(crate) fn new(max: usize, retention: Duration) -> Self {
        Self {
            inner: Mutex::default(),
            max,
            retention,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change to a group completes under the lock without anything that can panic
        // half-way, so a poisoned lock still guards consistent groups.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The group, created if there is room.
    fn entry<'a>(
        &self,
        inner: &'a mut Inner,
        group: &StrBytes,
        now: Instant,
    ) -> Option<&'a mut Group> {
        if !inner.groups.contains_key(group) {
            if inner.groups.len() >= self.max {
                tracing::warn!(
                    max = self.max,
                    "group limit reached: a new group is refused"
                );
                return None;
            }
            inner.groups.insert(group.clone(), Group::new(now));
        }
        inner.groups.get_mut(group)
    }

    pub(crate) fn join(&self, group: &StrBytes, request: JoinRequest) -> Pending<Joined> {
        let now = Instant::now();
        let mut inner = self.lock();
        let member_id = request.member_id.clone();
        let Some(entry) = self.entry(&mut inner, group, now) else {
            return Pending::Now(Joined::error(ResponseError::PolicyViolation, member_id));
        };
        let joined = entry.join(request, now);
        if entry.is_active() {
            inner.active.insert(group.clone());
        }
        joined
    }

    /// The member id of a static member (LeaveGroup names members by instance id).
    pub(crate) fn member_for_instance(
        &self,
        group: &StrBytes,
        instance: &StrBytes,
    ) -> Option<StrBytes> {
        self.lock().groups.get(group)?.member_for_instance(instance)
    }

    pub(crate) fn sync(
        &self,
        group: &StrBytes,
        member_id: &StrBytes,
        generation: i32,
        assignments: Vec<(StrBytes, Bytes)>,
    ) -> Pending<Synced> {
        match self.lock().groups.get_mut(group) {
            Some(group) => group.sync(member_id, generation, assignments, Instant::now()),
            None => Pending::Now(Synced::error(ResponseError::UnknownMemberId)),
        }
    }

    pub(crate) fn heartbeat(&self, group: &StrBytes, member_id: &StrBytes, generation: i32) -> i16 {
        match self.lock().groups.get_mut(group) {
            Some(group) => group.heartbeat(member_id, generation, Instant::now()),
            None => code(ResponseError::UnknownMemberId),
        }
    }

    /// Removes members that leave; for each, whether it was a member.
    pub(crate) fn leave(&self, group: &StrBytes, member_ids: &[StrBytes]) -> Vec<bool> {
        let now = Instant::now();
        let mut inner = self.lock();
        let Some(group) = inner.groups.get_mut(group) else {
            return vec![false; member_ids.len()];
        };
        member_ids.iter().map(|id| group.remove(id, now)).collect()
    }

    /// Stores offsets if the member may commit; the error code otherwise.
    pub(crate) fn commit(
        &self,
        group: &StrBytes,
        member_id: &StrBytes,
        generation: i32,
        offsets: Vec<(StrBytes, i32, Committed)>,
    ) -> i16 {
        let now = Instant::now();
        let mut inner = self.lock();
        match self.entry(&mut inner, group, now) {
            Some(group) => group.commit(member_id, generation, offsets, now),
            None => code(ResponseError::PolicyViolation),
        }
    }

    /// Committed offsets: of the given partitions, or all of the group's (`None`).
    pub(crate) fn committed(
        &self,
        group: &StrBytes,
        partitions: Option<Vec<(StrBytes, i32)>>,
    ) -> Vec<(StrBytes, i32, Option<Committed>)> {
        let inner = self.lock();
        match inner.groups.get(group) {
            Some(group) => group.committed(partitions),
            None => partitions
                .into_iter()
                .flatten()
                .map(|(topic, partition)| (topic, partition, None))
                .collect(),
        }
    }

    /// Every group: id, protocol type, state.
    pub(crate) fn list(&self) -> Vec<(StrBytes, StrBytes, State)> {
        let mut listed: Vec<_> = self
            .lock()
            .groups
            .iter()
            .map(|(id, group)| {
                let (protocol_type, state) = group.listing();
                (id.clone(), protocol_type, state)
            })
            .collect();
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        listed
    }

    pub(crate) fn describe(&self, group: &StrBytes) -> Option<Description> {
        self.lock().groups.get(group).map(Group::describe)
    }

    /// Ends rebalances whose time has come and removes members whose session ran out — in the
    /// groups that have timers only; and, every [`SWEEP`], forgets expired Empty groups.
    pub(crate) fn tick(&self) {
        let now = Instant::now();
        let mut guard = self.lock();
        let inner = &mut *guard;
        let groups = &mut inner.groups;
        inner.active.retain(|id| {
            groups.get_mut(id).is_some_and(|group| {
                group.tick(now);
                group.is_active()
            })
        });
        if inner.last_sweep.is_none_or(|last| now >= last + SWEEP) {
            inner.last_sweep = Some(now);
            let retention = self.retention;
            inner
                .groups
                .retain(|_, group| !group.expired(now, retention));
        }
    }
}
