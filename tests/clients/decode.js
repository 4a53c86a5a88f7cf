// Decodes AliECS's Kafka messages in JavaScript with protobufjs (as ALICE's web-ui does), from
// the .proto files `ecsim proto --out DIR` writes:
//
//     node decode.js DIR < recording.jsonl
//
// reads records as `ecsim record` writes them (topic, value_hex) and prints each message as
// JSON, with the field names of the .proto files. In a consumer, `decode(topic, value)` is the
// part to take: `value` is the record's bytes (a Buffer) as the Kafka client gives them.
"use strict";
const path = require("path");
const readline = require("readline");
const protobuf = require("protobufjs");

const dir = process.argv[2];
const root = new protobuf.Root();
// AliECS's files import each other as "protos/NAME.proto".
root.resolvePath = (origin, target) => path.join(dir, target);
root.loadSync(["protos/common.proto", "protos/events.proto", "protos/kafka.proto"], {
  keepCase: true,
});
const Event = root.lookupType("events.Event");
const NewState = root.lookupType("kafka.NewStateNotification");
const RunningList = root.lookupType("kafka.ActiveRunsList");

// The type AliECS writes to a topic.
function messageType(topic) {
  if (
    topic.startsWith("aliecs.env_state.") ||
    topic.startsWith("aliecs.env_leave_state.") ||
    ["aliecs.before_start_activity", "aliecs.after_start_activity", "aliecs.start_activity"].includes(topic)
  ) {
    return NewState;
  }
  if (topic.startsWith("aliecs.env_list.")) {
    return RunningList;
  }
  return Event;
}

// A record's value, decoded, as a plain object (64-bit integers as strings, enums by name).
function decode(topic, value) {
  const type = messageType(topic);
  return type.toObject(type.decode(value), { longs: String, enums: String, bytes: String });
}

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (!line.trim()) {
    return;
  }
  const record = JSON.parse(line);
  const value = Buffer.from(record.value_hex, "hex");
  console.log(JSON.stringify({ topic: record.topic, value: decode(record.topic, value) }));
});
