//! One group's state machine: members joining, the generation they share, assignments,
//! sessions, committed offsets. [`super::Groups`] holds every group and drives the clock.

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use bytes::Bytes;
use kafka_protocol::{ResponseError, protocol::StrBytes};
use tokio::sync::oneshot;

use super::{
    Committed, DescribedMember, Description, INITIAL_DELAY, JoinRequest, Joined, Pending,
    SESSION_TIMEOUTS, State, Synced, code,
};

#[derive(Debug)]
pub(super) struct Member {
    /// The order members first joined in: the first present leads.
    arrival: u64,
    group_instance_id: Option<StrBytes>,
    client_id: StrBytes,
    client_host: StrBytes,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    protocols: Vec<(StrBytes, Bytes)>,
    assignment: Bytes,
    last_seen: Instant,
    awaiting_join: Option<oneshot::Sender<Joined>>,
    awaiting_sync: Option<oneshot::Sender<Synced>>,
}

#[derive(Debug)]
pub(super) struct Group {
    state: State,
    generation: i32,
    protocol_type: Option<StrBytes>,
    protocol: Option<StrBytes>,
    leader: Option<StrBytes>,
    members: BTreeMap<StrBytes, Member>,
    /// Member ids handed out (JoinGroup v4+) and not yet used, with when.
    pending_ids: HashMap<StrBytes, Instant>,
    /// While PreparingRebalance: when members that have not rejoined are dropped.
    rebalance_deadline: Instant,
    /// While PreparingRebalance: not before then (an empty group's initial delay).
    not_before: Instant,
    offsets: BTreeMap<(StrBytes, i32), Committed>,
    arrivals: u64,
    /// When the group last became Empty or was committed to while Empty: it is forgotten a
    /// retention period after (`Groups`).
    idle_since: Instant,
}

impl Group {
    pub(super) fn new(now: Instant) -> Self {
        Self {
            state: State::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            pending_ids: HashMap::new(),
            rebalance_deadline: now,
            not_before: now,
            offsets: BTreeMap::new(),
            arrivals: 0,
            idle_since: now,
        }
    }

    /// Whether the group has timers to run: members, or ids handed out.
    pub(super) fn is_active(&self) -> bool {
        self.state != State::Empty || !self.pending_ids.is_empty()
    }

    /// Whether an Empty group may be forgotten at `now`: at once without offsets (Kafka's Dead
    /// group), else a retention period after it was last used.
    pub(super) fn expired(&self, now: Instant, retention: Duration) -> bool {
        self.state == State::Empty
            && self.pending_ids.is_empty()
            && (self.offsets.is_empty() || now >= self.idle_since + retention)
    }

    /// The member holding a static instance id.
    pub(super) fn member_for_instance(&self, instance: &StrBytes) -> Option<StrBytes> {
        self.members
            .iter()
            .find(|(_, member)| member.group_instance_id.as_ref() == Some(instance))
            .map(|(id, _)| id.clone())
    }

    /// KIP-345: a static member rejoining without its member id takes its place under a new
    /// one; the old id is fenced. In a Stable group, a follower gets its generation back at
    /// once, with no rebalance; otherwise (or a leader) the join goes on as any other.
    fn replace_static(
        &mut self,
        old: &StrBytes,
        instance: &StrBytes,
    ) -> (StrBytes, Option<Joined>) {
        let new = StrBytes::from_string(format!("{instance}-{}", uuid::Uuid::new_v4()));
        let Some(mut member) = self.members.remove(old) else {
            return (new, None);
        };
        if let Some(join) = member.awaiting_join.take() {
            let _ = join.send(Joined::error(ResponseError::FencedInstanceId, old.clone()));
        }
        if let Some(sync) = member.awaiting_sync.take() {
            let _ = sync.send(Synced::error(ResponseError::FencedInstanceId));
        }
        let was_leader = self.leader.as_ref() == Some(old);
        self.members.insert(new.clone(), member);
        tracing::debug!(%instance, %old, %new, "static member replaced");
        if self.state == State::Stable && !was_leader {
            let joined = Joined {
                error: 0,
                generation: self.generation,
                protocol_type: self.protocol_type.clone(),
                protocol_name: self.protocol.clone(),
                leader: self.leader.clone().unwrap_or_default(),
                member_id: new.clone(),
                members: Vec::new(),
            };
            return (new, Some(joined));
        }
        (new, None)
    }

    pub(super) fn join(&mut self, request: JoinRequest, now: Instant) -> Pending<Joined> {
        let JoinRequest {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            session_timeout_ms,
            rebalance_timeout_ms,
            protocol_type,
            protocols,
            requires_known_member_id,
        } = request;
        if !SESSION_TIMEOUTS.contains(&session_timeout_ms) {
            return Pending::Now(Joined::error(
                ResponseError::InvalidSessionTimeout,
                member_id,
            ));
        }
        if protocol_type.is_empty() || protocols.is_empty() {
            return Pending::Now(Joined::error(
                ResponseError::InconsistentGroupProtocol,
                member_id,
            ));
        }
        if self.state != State::Empty
            && (self.protocol_type.as_ref() != Some(&protocol_type)
                || !self.supports_one_of(&member_id, &protocols))
        {
            return Pending::Now(Joined::error(
                ResponseError::InconsistentGroupProtocol,
                member_id,
            ));
        }
        let holder = group_instance_id
            .as_ref()
            .and_then(|instance| Some((instance, self.member_for_instance(instance)?)));
        let member_id = match holder {
            Some((instance, old)) if member_id.is_empty() => {
                let (new, at_once) = self.replace_static(&old, instance);
                if let Some(member) = self.members.get_mut(&new) {
                    member.last_seen = now;
                    member.protocols.clone_from(&protocols);
                }
                if let Some(joined) = at_once {
                    return Pending::Now(joined);
                }
                new
            }
            Some((_, old)) if old != member_id => {
                return Pending::Now(Joined::error(ResponseError::FencedInstanceId, member_id));
            }
            _ if member_id.is_empty() => {
                let prefix = group_instance_id.as_ref().unwrap_or(&client_id);
                let id = StrBytes::from_string(format!("{prefix}-{}", uuid::Uuid::new_v4()));
                // Static members skip the round trip (KIP-345).
                if requires_known_member_id && group_instance_id.is_none() {
                    self.pending_ids.insert(id.clone(), now);
                    return Pending::Now(Joined::error(ResponseError::MemberIdRequired, id));
                }
                id
            }
            _ if self.members.contains_key(&member_id)
                || self.pending_ids.remove(&member_id).is_some() =>
            {
                member_id
            }
            _ => return Pending::Now(Joined::error(ResponseError::UnknownMemberId, member_id)),
        };

        let (sender, receiver) = oneshot::channel();
        let rebalance_timeout = Duration::from_millis(
            u64::try_from(rebalance_timeout_ms.max(session_timeout_ms)).unwrap_or(0),
        );
        self.arrivals += 1;
        let arrival = self.arrivals;
        let member = self.members.entry(member_id).or_insert_with(|| Member {
            arrival,
            group_instance_id: None,
            client_id: StrBytes::default(),
            client_host: StrBytes::default(),
            session_timeout: Duration::ZERO,
            rebalance_timeout: Duration::ZERO,
            protocols: Vec::new(),
            assignment: Bytes::new(),
            last_seen: now,
            awaiting_join: None,
            awaiting_sync: None,
        });
        member.group_instance_id = group_instance_id;
        member.client_id = client_id;
        member.client_host = client_host;
        member.session_timeout =
            Duration::from_millis(u64::try_from(session_timeout_ms).unwrap_or(0));
        member.rebalance_timeout = rebalance_timeout;
        member.protocols = protocols;
        member.last_seen = now;
        // A second JoinGroup from a member replaces its first, which is told to rejoin.
        if let Some(earlier) = member.awaiting_join.replace(sender) {
            let _ = earlier.send(Joined::error(
                ResponseError::RebalanceInProgress,
                StrBytes::default(),
            ));
        }
        self.protocol_type = Some(protocol_type);
        if self.state != State::PreparingRebalance {
            self.prepare_rebalance(now);
        }
        self.try_complete_join(now, false);
        Pending::Later(receiver)
    }

    /// Whether a joining member's protocols leave one that every other member supports.
    fn supports_one_of(&self, member_id: &StrBytes, protocols: &[(StrBytes, Bytes)]) -> bool {
        protocols.iter().any(|(name, _)| {
            self.members
                .iter()
                .filter(|(id, _)| *id != member_id)
                .all(|(_, member)| member.protocols.iter().any(|(other, _)| other == name))
        })
    }

    fn prepare_rebalance(&mut self, now: Instant) {
        let was_empty = self.state == State::Empty;
        self.state = State::PreparingRebalance;
        let longest = self
            .members
            .values()
            .map(|member| member.rebalance_timeout)
            .max()
            .unwrap_or_default();
        self.rebalance_deadline = now + longest;
        self.not_before = if was_empty { now + INITIAL_DELAY } else { now };
        for member in self.members.values_mut() {
            if let Some(sync) = member.awaiting_sync.take() {
                let _ = sync.send(Synced::error(ResponseError::RebalanceInProgress));
            }
        }
    }

    /// Ends the rebalance if every member has joined (and the initial delay is over), or if
    /// its deadline passed (`expired`), dropping members that did not rejoin.
    fn try_complete_join(&mut self, now: Instant, expired: bool) {
        if self.state != State::PreparingRebalance || now < self.not_before {
            return;
        }
        let all_joined = self.members.values().all(|m| m.awaiting_join.is_some());
        if !all_joined && !expired {
            return;
        }
        self.members
            .retain(|_, member| member.awaiting_join.is_some());
        self.generation += 1;
        if self.members.is_empty() {
            self.become_empty(now);
            return;
        }
        self.protocol = self.choose_protocol();
        if self
            .leader
            .as_ref()
            .is_none_or(|leader| !self.members.contains_key(leader))
        {
            self.leader = self
                .members
                .iter()
                .min_by_key(|(_, member)| member.arrival)
                .map(|(id, _)| id.clone());
        }
        self.state = State::CompletingRebalance;
        let leader = self.leader.clone().unwrap_or_default();
        let protocol = self.protocol.clone();
        let listing: Vec<(StrBytes, Option<StrBytes>, Bytes)> = self
            .members
            .iter()
            .map(|(id, member)| {
                let metadata = member
                    .protocols
                    .iter()
                    .find(|(name, _)| Some(name) == protocol.as_ref())
                    .map(|(_, metadata)| metadata.clone())
                    .unwrap_or_default();
                (id.clone(), member.group_instance_id.clone(), metadata)
            })
            .collect();
        for (id, member) in &mut self.members {
            member.last_seen = now;
            if let Some(reply) = member.awaiting_join.take() {
                let _ = reply.send(Joined {
                    error: 0,
                    generation: self.generation,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: protocol.clone(),
                    leader: leader.clone(),
                    member_id: id.clone(),
                    members: if *id == leader {
                        listing.clone()
                    } else {
                        Vec::new()
                    },
                });
            }
        }
    }

    /// The first of the leader's protocols (in its order of preference) that every member
    /// supports; there is one, since a join without one was refused.
    fn choose_protocol(&self) -> Option<StrBytes> {
        let first = self
            .leader
            .as_ref()
            .and_then(|leader| self.members.get(leader))
            .or_else(|| self.members.values().next())?;
        first
            .protocols
            .iter()
            .map(|(name, _)| name)
            .find(|name| {
                self.members
                    .values()
                    .all(|member| member.protocols.iter().any(|(other, _)| other == *name))
            })
            .cloned()
    }

    /// Kafka keeps an Empty group's protocol type (tools list it as "consumer", not "simple").
    fn become_empty(&mut self, now: Instant) {
        self.state = State::Empty;
        self.leader = None;
        self.protocol = None;
        self.idle_since = now;
    }

    pub(super) fn sync(
        &mut self,
        member_id: &StrBytes,
        generation: i32,
        assignments: Vec<(StrBytes, Bytes)>,
        now: Instant,
    ) -> Pending<Synced> {
        let state = self.state;
        let Some(member) = self.members.get_mut(member_id) else {
            return Pending::Now(Synced::error(ResponseError::UnknownMemberId));
        };
        if generation != self.generation {
            return Pending::Now(Synced::error(ResponseError::IllegalGeneration));
        }
        member.last_seen = now;
        match state {
            State::Empty => Pending::Now(Synced::error(ResponseError::UnknownMemberId)),
            State::PreparingRebalance => {
                Pending::Now(Synced::error(ResponseError::RebalanceInProgress))
            }
            State::Stable => Pending::Now(self.synced(member_id)),
            State::CompletingRebalance => {
                let (sender, receiver) = oneshot::channel();
                member.awaiting_sync = Some(sender);
                if self.leader.as_ref() == Some(member_id) {
                    let mut assignments: HashMap<StrBytes, Bytes> =
                        assignments.into_iter().collect();
                    for (id, member) in &mut self.members {
                        member.assignment = assignments.remove(id).unwrap_or_default();
                    }
                    self.state = State::Stable;
                    let ids: Vec<StrBytes> = self.members.keys().cloned().collect();
                    for id in ids {
                        let reply = self.synced(&id);
                        if let Some(waiting) = self
                            .members
                            .get_mut(&id)
                            .and_then(|m| m.awaiting_sync.take())
                        {
                            let _ = waiting.send(reply);
                        }
                    }
                }
                Pending::Later(receiver)
            }
        }
    }

    fn synced(&self, member_id: &StrBytes) -> Synced {
        Synced {
            error: 0,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            assignment: self
                .members
                .get(member_id)
                .map(|member| member.assignment.clone())
                .unwrap_or_default(),
        }
    }

    pub(super) fn heartbeat(&mut self, member_id: &StrBytes, generation: i32, now: Instant) -> i16 {
        let state = self.state;
        let current = self.generation;
        let Some(member) = self.members.get_mut(member_id) else {
            return code(ResponseError::UnknownMemberId);
        };
        member.last_seen = now;
        if generation != current {
            return code(ResponseError::IllegalGeneration);
        }
        match state {
            State::PreparingRebalance => code(ResponseError::RebalanceInProgress),
            State::Empty => code(ResponseError::UnknownMemberId),
            State::CompletingRebalance | State::Stable => 0,
        }
    }

    /// Removes a member (it left, or its session ran out) and rebalances the rest.
    pub(super) fn remove(&mut self, member_id: &StrBytes, now: Instant) -> bool {
        let Some(member) = self.members.remove(member_id) else {
            return false;
        };
        if let Some(join) = member.awaiting_join {
            let _ = join.send(Joined::error(
                ResponseError::UnknownMemberId,
                member_id.clone(),
            ));
        }
        if let Some(sync) = member.awaiting_sync {
            let _ = sync.send(Synced::error(ResponseError::UnknownMemberId));
        }
        match self.state {
            State::Stable | State::CompletingRebalance if self.members.is_empty() => {
                self.generation += 1;
                self.become_empty(now);
            }
            State::Stable | State::CompletingRebalance => self.prepare_rebalance(now),
            State::PreparingRebalance => self.try_complete_join(now, false),
            State::Empty => {}
        }
        true
    }

    pub(super) fn tick(&mut self, now: Instant) {
        let expired: Vec<StrBytes> = self
            .members
            .iter()
            .filter(|(_, member)| {
                member.awaiting_join.is_none() && now > member.last_seen + member.session_timeout
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            tracing::debug!(member = %id, "session timed out");
            self.remove(&id, now);
        }
        self.pending_ids
            .retain(|_, handed_out| now < *handed_out + Duration::from_secs(300));
        if self.state == State::PreparingRebalance {
            let expired = now >= self.rebalance_deadline;
            self.try_complete_join(now, expired);
        }
    }

    fn commit_allowed(&self, member_id: &StrBytes, generation: i32) -> i16 {
        if generation < 0 && member_id.is_empty() {
            // A consumer that assigns its own partitions commits outside any generation.
            return if self.state == State::Empty {
                0
            } else {
                code(ResponseError::UnknownMemberId)
            };
        }
        if !self.members.contains_key(member_id) {
            return code(ResponseError::UnknownMemberId);
        }
        if generation != self.generation {
            return code(ResponseError::IllegalGeneration);
        }
        if self.state == State::CompletingRebalance {
            return code(ResponseError::RebalanceInProgress);
        }
        0
    }

    pub(super) fn commit(
        &mut self,
        member_id: &StrBytes,
        generation: i32,
        offsets: Vec<(StrBytes, i32, Committed)>,
        now: Instant,
    ) -> i16 {
        let error = self.commit_allowed(member_id, generation);
        if error != 0 {
            return error;
        }
        if let Some(member) = self.members.get_mut(member_id) {
            member.last_seen = now;
        }
        for (topic, partition, committed) in offsets {
            self.offsets.insert((topic, partition), committed);
        }
        if self.state == State::Empty {
            self.idle_since = now;
        }
        0
    }

    /// Committed offsets: of the given partitions, or all (`None`).
    pub(super) fn committed(
        &self,
        partitions: Option<Vec<(StrBytes, i32)>>,
    ) -> Vec<(StrBytes, i32, Option<Committed>)> {
        match partitions {
            Some(wanted) => wanted
                .into_iter()
                .map(|(topic, partition)| {
                    let committed = self.offsets.get(&(topic.clone(), partition)).cloned();
                    (topic, partition, committed)
                })
                .collect(),
            None => self
                .offsets
                .iter()
                .map(|((topic, partition), committed)| {
                    (topic.clone(), *partition, Some(committed.clone()))
                })
                .collect(),
        }
    }

    /// Protocol type and state, for ListGroups.
    pub(super) fn listing(&self) -> (StrBytes, State) {
        (self.protocol_type.clone().unwrap_or_default(), self.state)
    }

    pub(super) fn describe(&self) -> Description {
        let protocol = self.protocol.clone().unwrap_or_default();
        Description {
            state: self.state,
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            protocol: protocol.clone(),
            members: self
                .members
                .iter()
                .map(|(id, member)| DescribedMember {
                    member_id: id.clone(),
                    group_instance_id: member.group_instance_id.clone(),
                    client_id: member.client_id.clone(),
                    client_host: member.client_host.clone(),
                    metadata: member
                        .protocols
                        .iter()
                        .find(|(name, _)| *name == protocol)
                        .map(|(_, metadata)| metadata.clone())
                        .unwrap_or_default(),
                    assignment: member.assignment.clone(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(member_id: &str) -> JoinRequest {
        JoinRequest {
            member_id: StrBytes::from_string(member_id.to_owned()),
            group_instance_id: None,
            client_id: StrBytes::from_static_str("client"),
            client_host: StrBytes::from_static_str("/127.0.0.1"),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 30_000,
            protocol_type: StrBytes::from_static_str("consumer"),
            protocols: vec![
                (StrBytes::from_static_str("range"), Bytes::from_static(b"r")),
                (
                    StrBytes::from_static_str("roundrobin"),
                    Bytes::from_static(b"rr"),
                ),
            ],
            requires_known_member_id: true,
        }
    }

    /// Joins with a member id handed out by the broker (JoinGroup v4's two steps).
    fn join(group: &mut Group, now: Instant) -> (StrBytes, oneshot::Receiver<Joined>) {
        let Pending::Now(first) = group.join(request(""), now) else {
            panic!("an unknown member is asked to come back with an id");
        };
        assert_eq!(first.error, code(ResponseError::MemberIdRequired));
        let Pending::Later(reply) = group.join(request(&first.member_id), now) else {
            panic!("a join waits for the rebalance");
        };
        (first.member_id, reply)
    }

    fn joined(reply: &mut oneshot::Receiver<Joined>) -> Joined {
        reply.try_recv().expect("the join was answered")
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn consumers_started_together_share_one_generation_and_the_leader_assigns() {
        let t0 = Instant::now();
        let mut group = Group::new(t0);
        let (a, mut a_reply) = join(&mut group, t0);
        let (b, mut b_reply) = join(&mut group, t0 + ms(30));
        group.tick(t0 + ms(50));
        assert!(a_reply.try_recv().is_err(), "the initial delay is not over");
        group.tick(t0 + INITIAL_DELAY);
        let (a_joined, b_joined) = (joined(&mut a_reply), joined(&mut b_reply));
        assert_eq!((a_joined.error, a_joined.generation), (0, 1));
        assert_eq!(a_joined.leader, a, "the first member leads");
        assert_eq!(a_joined.members.len(), 2, "the leader sees every member");
        assert!(b_joined.members.is_empty(), "a follower sees none");
        assert_eq!(a_joined.protocol_name.as_deref(), Some("range"));

        let Pending::Later(mut b_sync) = group.sync(&b, 1, vec![], t0 + ms(110)) else {
            panic!("a follower waits for the leader's assignments");
        };
        let assignments = vec![
            (a.clone(), Bytes::from_static(b"for a")),
            (b.clone(), Bytes::from_static(b"for b")),
        ];
        let Pending::Later(mut a_sync) = group.sync(&a, 1, assignments, t0 + ms(120)) else {
            panic!("the leader's sync is answered through its receiver");
        };
        assert_eq!(a_sync.try_recv().unwrap().assignment, &b"for a"[..]);
        assert_eq!(b_sync.try_recv().unwrap().assignment, &b"for b"[..]);
        assert_eq!(group.heartbeat(&b, 1, t0 + ms(130)), 0);
        assert_eq!(
            group.heartbeat(&b, 0, t0 + ms(130)),
            code(ResponseError::IllegalGeneration)
        );
    }

    #[test]
    fn a_member_that_leaves_is_gone_at_once_and_the_rest_rebalance_without_waiting() {
        let t0 = Instant::now();
        let mut group = Group::new(t0);
        let (a, mut a_reply) = join(&mut group, t0);
        let (b, _b_reply) = join(&mut group, t0);
        group.tick(t0 + INITIAL_DELAY);
        joined(&mut a_reply);
        group.sync(&a, 1, vec![], t0 + INITIAL_DELAY);

        assert!(group.remove(&b, t0 + ms(200)));
        assert_eq!(
            group.heartbeat(&a, 1, t0 + ms(210)),
            code(ResponseError::RebalanceInProgress),
            "the remaining member is told to rejoin"
        );
        let Pending::Later(mut again) = group.join(request(&a), t0 + ms(220)) else {
            panic!("a known member's join waits for the rebalance");
        };
        let rejoined = joined(&mut again);
        assert_eq!(
            rejoined.generation, 2,
            "no wait: every member left has rejoined"
        );
        assert_eq!(rejoined.members.len(), 1);
    }

    #[test]
    fn a_consumer_restarted_in_its_group_is_served_after_the_initial_delay() {
        let t0 = Instant::now();
        let mut group = Group::new(t0);
        let (old, mut reply) = join(&mut group, t0);
        group.tick(t0 + INITIAL_DELAY);
        joined(&mut reply);
        group.sync(
            &old,
            1,
            vec![(old.clone(), Bytes::from_static(b"all"))],
            t0 + INITIAL_DELAY,
        );
        assert!(group.remove(&old, t0 + ms(1000)));
        assert_eq!(group.state, State::Empty);

        let restart = t0 + ms(1100);
        let (new, mut reply) = join(&mut group, restart);
        group.tick(restart + INITIAL_DELAY);
        let restarted = joined(&mut reply);
        assert_eq!((restarted.error, restarted.leader), (0, new));
        assert!(restarted.generation > 1);
    }

    #[test]
    fn a_silent_member_is_removed_after_its_session_timeout_not_before() {
        let t0 = Instant::now();
        let mut group = Group::new(t0);
        let (a, mut a_reply) = join(&mut group, t0);
        group.tick(t0 + INITIAL_DELAY);
        joined(&mut a_reply);
        group.sync(&a, 1, vec![], t0 + INITIAL_DELAY);
        group.tick(t0 + ms(9_000));
        assert!(group.members.contains_key(&a));
        group.tick(t0 + ms(10_200));
        assert!(!group.members.contains_key(&a));
        assert_eq!(group.state, State::Empty);
    }

    #[test]
    fn a_member_that_does_not_rejoin_is_dropped_at_the_rebalance_deadline() {
        let t0 = Instant::now();
        let mut group = Group::new(t0);
        let (a, mut a_reply) = join(&mut group, t0);
        let (b, mut b_reply) = join(&mut group, t0);
        group.tick(t0 + INITIAL_DELAY);
        joined(&mut a_reply);
        joined(&mut b_reply);
        group.sync(&a, 1, vec![], t0 + INITIAL_DELAY);
        // A third member arrives; a rejoins, b keeps heartbeating but never rejoins.
        let (_, mut c_reply) = join(&mut group, t0 + ms(1000));
        let Pending::Later(mut a_again) = group.join(request(&a), t0 + ms(1000)) else {
            panic!("waits");
        };
        for s in 2..35 {
            group.heartbeat(&b, 1, t0 + ms(s * 1000));
            group.tick(t0 + ms(s * 1000));
        }
        let rebalanced = joined(&mut a_again);
        assert_eq!(
            rebalanced.members.len(),
            2,
            "b was dropped at the 30 s rebalance timeout"
        );
        assert_eq!(joined(&mut c_reply).error, 0);
        assert!(!group.members.contains_key(&b));
    }

    #[test]
    fn joins_kafka_refuses_are_refused() {
        let t0 = Instant::now();
        let mut group = Group::new(t0);
        let mut short = request("");
        short.session_timeout_ms = 1000;
        let Pending::Now(refused) = group.join(short, t0) else {
            panic!()
        };
        assert_eq!(refused.error, code(ResponseError::InvalidSessionTimeout));
        let Pending::Now(unknown) = group.join(request("who-is-this"), t0) else {
            panic!()
        };
        assert_eq!(unknown.error, code(ResponseError::UnknownMemberId));

        let (_, _reply) = join(&mut group, t0);
        let mut other = request("");
        other.protocols = vec![(StrBytes::from_static_str("sticky"), Bytes::new())];
        let Pending::Now(inconsistent) = group.join(other, t0) else {
            panic!()
        };
        assert_eq!(
            inconsistent.error,
            code(ResponseError::InconsistentGroupProtocol)
        );
    }

    #[test]
    fn offsets_are_committed_by_members_of_the_generation_or_outside_any_group() {
        let t0 = Instant::now();
        let mut group = Group::new(t0);
        let offset = |n| {
            vec![(
                StrBytes::from_static_str("aliecs.run"),
                0,
                Committed {
                    offset: n,
                    leader_epoch: -1,
                    metadata: None,
                },
            )]
        };
        assert_eq!(group.commit(&StrBytes::default(), -1, offset(5), t0), 0);
        let (a, mut reply) = join(&mut group, t0);
        group.tick(t0 + INITIAL_DELAY);
        joined(&mut reply);
        assert_eq!(
            group.commit(&a, 1, offset(6), t0 + INITIAL_DELAY),
            code(ResponseError::RebalanceInProgress),
            "between join and sync"
        );
        group.sync(&a, 1, vec![], t0 + INITIAL_DELAY);
        assert_eq!(group.commit(&a, 1, offset(7), t0 + INITIAL_DELAY), 0);
        assert_eq!(
            group.commit(&StrBytes::default(), -1, offset(8), t0),
            code(ResponseError::UnknownMemberId),
            "a group with members takes commits from its members only"
        );
        let committed = group.committed(None);
        assert_eq!(committed.len(), 1);
        assert_eq!(committed[0].2.as_ref().map(|c| c.offset), Some(7));
    }

    fn static_request(member_id: &str, instance: &str) -> JoinRequest {
        JoinRequest {
            group_instance_id: Some(StrBytes::from_string(instance.to_owned())),
            ..request(member_id)
        }
    }

    #[test]
    fn a_restarted_static_member_takes_its_place_at_once_and_fences_its_old_id() {
        let t0 = Instant::now();
        let mut group = Group::new(t0);
        // Two static members: no MEMBER_ID_REQUIRED round trip for them (KIP-345).
        let Pending::Later(mut a_reply) = group.join(static_request("", "a"), t0) else {
            panic!("a static member joins at once");
        };
        let Pending::Later(mut b_reply) = group.join(static_request("", "b"), t0) else {
            panic!("a static member joins at once");
        };
        group.tick(t0 + INITIAL_DELAY);
        let (a, b) = (joined(&mut a_reply), joined(&mut b_reply));
        assert!(a.member_id.starts_with("a-"), "{}", a.member_id);
        group.sync(
            &a.member_id,
            1,
            vec![(b.member_id.clone(), Bytes::from_static(b"for b"))],
            t0 + INITIAL_DELAY,
        );
        assert!(group.is_active());

        // b restarts: it rejoins without its member id, and is back in generation 1 at once.
        let Pending::Now(back) = group.join(static_request("", "b"), t0 + ms(500)) else {
            panic!("a follower's restart needs no rebalance");
        };
        assert_eq!((back.error, back.generation), (0, 1));
        assert_ne!(back.member_id, b.member_id, "a new member id");
        let Pending::Now(synced) = group.sync(&back.member_id, 1, vec![], t0 + ms(510)) else {
            panic!("the group is stable");
        };
        assert_eq!(synced.assignment, &b"for b"[..], "its assignment kept");
        assert_eq!(
            group.heartbeat(&a.member_id, 1, t0 + ms(520)),
            0,
            "a was not disturbed"
        );
        assert_eq!(
            group.heartbeat(&b.member_id, 1, t0 + ms(520)),
            code(ResponseError::UnknownMemberId),
            "the old id is gone"
        );
        let Pending::Now(fenced) = group.join(static_request(&b.member_id, "b"), t0 + ms(530))
        else {
            panic!("answered at once");
        };
        assert_eq!(fenced.error, code(ResponseError::FencedInstanceId));
    }

    #[test]
    fn an_empty_group_is_forgotten_at_once_without_offsets_and_after_its_retention_with_them() {
        let t0 = Instant::now();
        let retention = Duration::from_secs(3600);
        let mut group = Group::new(t0);
        let (a, mut reply) = join(&mut group, t0);
        group.tick(t0 + INITIAL_DELAY);
        joined(&mut reply);
        assert!(
            !group.expired(t0 + INITIAL_DELAY, retention),
            "a group with members stays"
        );
        assert!(group.remove(&a, t0 + ms(200)));
        assert!(
            group.expired(t0 + ms(200), retention),
            "empty, no offsets: Dead"
        );
        assert_eq!(
            group.listing().0.as_str(),
            "consumer",
            "an empty group keeps its protocol type"
        );

        let offsets = vec![(
            StrBytes::from_static_str("t"),
            0,
            Committed {
                offset: 5,
                leader_epoch: -1,
                metadata: None,
            },
        )];
        assert_eq!(
            group.commit(&StrBytes::default(), -1, offsets, t0 + ms(300)),
            0
        );
        assert!(!group.expired(t0 + ms(300) + retention - ms(1), retention));
        assert!(group.expired(t0 + ms(300) + retention, retention));
    }
}
