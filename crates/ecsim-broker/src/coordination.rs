//! The group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, offsets,
//! ListGroups, DescribeGroups — requests translated to and from [`crate::group`].

use kafka_protocol::{
    ResponseError,
    messages::{
        BrokerId, DescribeGroupsRequest, DescribeGroupsResponse, FindCoordinatorRequest,
        FindCoordinatorResponse, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest,
        JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, ListGroupsRequest,
        ListGroupsResponse, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest,
        OffsetFetchResponse, SyncGroupRequest, SyncGroupResponse,
        describe_groups_response::{DescribedGroup, DescribedGroupMember},
        find_coordinator_response::Coordinator,
        join_group_response::JoinGroupResponseMember,
        leave_group_response::MemberResponse,
        list_groups_response::ListedGroup,
        offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic},
        offset_fetch_response::{OffsetFetchResponsePartition, OffsetFetchResponseTopic},
    },
    protocol::StrBytes,
};

use crate::{
    NODE_ID,
    context::Context,
    group::{Committed, JoinRequest, Joined, Pending, Synced},
};

/// Every key, a group's or a transaction's, has this node for coordinator. A transaction is
/// refused at the next step, InitProducerId (`data::init_producer_id`): refused here, kafkajs
/// would report "Failed to find group coordinator" where every client reports the refusal
/// itself at InitProducerId.
pub(crate) fn find_coordinator(
    context: &Context<'_>,
    request: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let address = context.shared.advertised;
    let host = StrBytes::from_string(address.ip().to_string());
    let port = i32::from(address.port());
    if context.version >= 4 {
        let coordinators = request
            .coordinator_keys
            .into_iter()
            .map(|key| {
                Coordinator::default()
                    .with_key(key)
                    .with_node_id(BrokerId(NODE_ID))
                    .with_host(host.clone())
                    .with_port(port)
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    FindCoordinatorResponse::default()
        .with_node_id(BrokerId(NODE_ID))
        .with_host(host)
        .with_port(port)
}

async fn settle<T>(pending: Pending<T>, dropped: impl FnOnce() -> T) -> T {
    match pending {
        Pending::Now(reply) => reply,
        // The group let go of the request without an answer (the broker is stopping): the
        // client is told to rejoin, which it would do anyway.
        Pending::Later(receiver) => receiver.await.unwrap_or_else(|_| dropped()),
    }
}

pub(crate) async fn join_group(
    context: &Context<'_>,
    request: JoinGroupRequest,
) -> JoinGroupResponse {
    let group = request.group_id.0.clone();
    let join = JoinRequest {
        member_id: request.member_id,
        group_instance_id: request.group_instance_id,
        client_id: context.client_id.clone(),
        client_host: StrBytes::from_string(format!("/{}", context.peer.ip())),
        session_timeout_ms: request.session_timeout_ms,
        // Version 0 has no rebalance timeout: the session timeout serves.
        rebalance_timeout_ms: if context.version == 0 {
            request.session_timeout_ms
        } else {
            request.rebalance_timeout_ms
        },
        protocol_type: request.protocol_type,
        protocols: request
            .protocols
            .into_iter()
            .map(|protocol| (protocol.name, protocol.metadata))
            .collect(),
        requires_known_member_id: context.version >= 4,
    };
    let joined = settle(context.shared.groups.join(&group, join), || Joined {
        error: ResponseError::RebalanceInProgress.code(),
        generation: -1,
        ..Joined::default()
    })
    .await;
    let mut response = JoinGroupResponse::default()
        .with_error_code(joined.error)
        .with_generation_id(joined.generation)
        .with_protocol_name(joined.protocol_name)
        .with_leader(joined.leader)
        .with_member_id(joined.member_id)
        .with_members(
            joined
                .members
                .into_iter()
                .map(|(member_id, group_instance_id, metadata)| {
                    JoinGroupResponseMember::default()
                        .with_member_id(member_id)
                        .with_group_instance_id(group_instance_id)
                        .with_metadata(metadata)
                })
                .collect(),
        );
    if context.version >= 7 {
        response = response.with_protocol_type(joined.protocol_type);
    } else if response.protocol_name.is_none() {
        // Before version 6 the protocol name is not nullable.
        response = response.with_protocol_name(Some(StrBytes::default()));
    }
    response
}

pub(crate) async fn sync_group(
    context: &Context<'_>,
    request: SyncGroupRequest,
) -> SyncGroupResponse {
    let assignments = request
        .assignments
        .into_iter()
        .map(|assignment| (assignment.member_id, assignment.assignment))
        .collect();
    let pending = context.shared.groups.sync(
        &request.group_id.0,
        &request.member_id,
        request.generation_id,
        assignments,
    );
    let synced = settle(pending, || Synced {
        error: ResponseError::RebalanceInProgress.code(),
        ..Synced::default()
    })
    .await;
    let response = SyncGroupResponse::default()
        .with_error_code(synced.error)
        .with_assignment(synced.assignment);
    if context.version >= 5 {
        response
            .with_protocol_type(synced.protocol_type)
            .with_protocol_name(synced.protocol_name)
    } else {
        response
    }
}

pub(crate) fn heartbeat(context: &Context<'_>, request: HeartbeatRequest) -> HeartbeatResponse {
    let error = context.shared.groups.heartbeat(
        &request.group_id.0,
        &request.member_id,
        request.generation_id,
    );
    HeartbeatResponse::default().with_error_code(error)
}

pub(crate) fn leave_group(context: &Context<'_>, request: LeaveGroupRequest) -> LeaveGroupResponse {
    let unknown = ResponseError::UnknownMemberId.code();
    if context.version < 3 {
        let left = context.shared.groups.leave(
            &request.group_id.0,
            std::slice::from_ref(&request.member_id),
        );
        let error = if left.first() == Some(&true) {
            0
        } else {
            unknown
        };
        return LeaveGroupResponse::default().with_error_code(error);
    }
    // A static member may leave by its instance id alone (KIP-345).
    let ids: Vec<StrBytes> = request
        .members
        .iter()
        .map(|member| match &member.group_instance_id {
            Some(instance) if member.member_id.is_empty() => context
                .shared
                .groups
                .member_for_instance(&request.group_id.0, instance)
                .unwrap_or_default(),
            _ => member.member_id.clone(),
        })
        .collect();
    let left = context.shared.groups.leave(&request.group_id.0, &ids);
    let members = request
        .members
        .into_iter()
        .zip(left)
        .map(|(member, left)| {
            MemberResponse::default()
                .with_member_id(member.member_id)
                .with_group_instance_id(member.group_instance_id)
                .with_error_code(if left { 0 } else { unknown })
        })
        .collect();
    LeaveGroupResponse::default().with_members(members)
}

pub(crate) fn offset_commit(
    context: &Context<'_>,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let offsets = request
        .topics
        .iter()
        .flat_map(|topic| {
            topic.partitions.iter().map(|partition| {
                (
                    topic.name.0.clone(),
                    partition.partition_index,
                    Committed {
                        offset: partition.committed_offset,
                        leader_epoch: partition.committed_leader_epoch,
                        metadata: partition.committed_metadata.clone(),
                    },
                )
            })
        })
        .collect();
    let error = context.shared.groups.commit(
        &request.group_id.0,
        &request.member_id,
        request.generation_id_or_member_epoch,
        offsets,
    );
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            OffsetCommitResponseTopic::default()
                .with_name(topic.name)
                .with_partitions(
                    topic
                        .partitions
                        .into_iter()
                        .map(|partition| {
                            OffsetCommitResponsePartition::default()
                                .with_partition_index(partition.partition_index)
                                .with_error_code(error)
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

pub(crate) fn offset_fetch(
    context: &Context<'_>,
    request: OffsetFetchRequest,
) -> OffsetFetchResponse {
    let wanted = request.topics.map(|topics| {
        topics
            .into_iter()
            .flat_map(|topic| {
                topic
                    .partition_indexes
                    .into_iter()
                    .map(move |partition| (topic.name.0.clone(), partition))
            })
            .collect()
    });
    let committed = context.shared.groups.committed(&request.group_id.0, wanted);
    let mut topics: Vec<OffsetFetchResponseTopic> = Vec::new();
    // Each topic's place in `topics`: a group may hold offsets of many topics.
    let mut places: std::collections::HashMap<StrBytes, usize> = std::collections::HashMap::new();
    for (topic, partition, committed) in committed {
        let entry = OffsetFetchResponsePartition::default()
            .with_partition_index(partition)
            .with_committed_offset(committed.as_ref().map_or(-1, |c| c.offset))
            .with_committed_leader_epoch(committed.as_ref().map_or(-1, |c| c.leader_epoch))
            .with_metadata(Some(committed.and_then(|c| c.metadata).unwrap_or_default()));
        match places.get(&topic) {
            Some(&place) => topics[place].partitions.push(entry),
            None => {
                places.insert(topic.clone(), topics.len());
                topics.push(
                    OffsetFetchResponseTopic::default()
                        .with_name(kafka_protocol::messages::TopicName(topic))
                        .with_partitions(vec![entry]),
                );
            }
        }
    }
    OffsetFetchResponse::default().with_topics(topics)
}

pub(crate) fn list_groups(context: &Context<'_>, request: ListGroupsRequest) -> ListGroupsResponse {
    let groups = context
        .shared
        .groups
        .list()
        .into_iter()
        .filter(|(_, _, state)| {
            request.states_filter.is_empty()
                || request
                    .states_filter
                    .iter()
                    .any(|wanted| wanted.as_str() == state.name())
        })
        .map(|(id, protocol_type, state)| {
            let listed = ListedGroup::default()
                .with_group_id(kafka_protocol::messages::GroupId(id))
                .with_protocol_type(protocol_type);
            if context.version >= 4 {
                listed.with_group_state(StrBytes::from_static_str(state.name()))
            } else {
                listed
            }
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}

pub(crate) fn describe_groups(
    context: &Context<'_>,
    request: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let groups = request
        .groups
        .into_iter()
        .map(|id| {
            let described = DescribedGroup::default().with_group_id(id.clone());
            let Some(group) = context.shared.groups.describe(&id.0) else {
                // Kafka describes a group it does not know as Dead, without an error.
                return described.with_group_state(StrBytes::from_static_str("Dead"));
            };
            described
                .with_group_state(StrBytes::from_static_str(group.state.name()))
                .with_protocol_type(group.protocol_type)
                .with_protocol_data(group.protocol)
                .with_members(
                    group
                        .members
                        .into_iter()
                        .map(|member| {
                            let described = DescribedGroupMember::default()
                                .with_member_id(member.member_id)
                                .with_client_id(member.client_id)
                                .with_client_host(member.client_host)
                                .with_member_metadata(member.metadata)
                                .with_member_assignment(member.assignment);
                            if context.version >= 4 {
                                described.with_group_instance_id(member.group_instance_id)
                            } else {
                                described
                            }
                        })
                        .collect(),
                )
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}
