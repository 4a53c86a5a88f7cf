"""Decodes AliECS's Kafka messages in Python with the descriptor set `ecsim proto --out DIR`
writes (DIR/aliecs.binpb): the protobuf package only, no generated code.

    python decode.py DIR/aliecs.binpb < recording.jsonl

reads records as `ecsim record` writes them (topic, value_hex) and prints each message as JSON,
with the field names of the .proto files. In a consumer, `decode(topic, value)` is the part to
take: `value` is the record's bytes as the Kafka client gives them.
"""

import json
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

with open(sys.argv[1], "rb") as schema:
    files = descriptor_pb2.FileDescriptorSet.FromString(schema.read())
pool = descriptor_pool.DescriptorPool()
for file in files.file:
    pool.Add(file)


def message_class(name):
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))


EVENT = message_class("events.Event")
NEW_STATE = message_class("kafka.NewStateNotification")
RUNNING_LIST = message_class("kafka.ActiveRunsList")


def message_type(topic):
    """The type AliECS writes to a topic."""
    if topic.startswith(("aliecs.env_state.", "aliecs.env_leave_state.")) or topic in (
        "aliecs.before_start_activity",
        "aliecs.after_start_activity",
        "aliecs.start_activity",
    ):
        return NEW_STATE
    if topic.startswith("aliecs.env_list."):
        return RUNNING_LIST
    return EVENT


def decode(topic, value):
    """A record's value, decoded, as a dict (proto3 JSON, field names as in the .proto)."""
    message = message_type(topic).FromString(value)
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


for line in sys.stdin:
    if not line.strip():
        continue
    record = json.loads(line)
    value = bytes.fromhex(record["value_hex"])
    print(json.dumps({"topic": record["topic"], "value": decode(record["topic"], value)}))
