// A kafkajs consumer with default settings, for ecsim's client tests (see README.md).
'use strict';
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const { Kafka, logLevel } = require('kafkajs');
const readline = require('readline');

const kafka = new Kafka({
  clientId: 'ecsim-client-test',
  brokers: [process.env.ECSIM_BOOTSTRAP],
  logLevel: logLevel.WARN,
});
const topics = process.env.ECSIM_TOPICS.split(',');
const hex = (buffer) => (buffer === null ? null : buffer.toString('hex'));
const say = (object) => process.stdout.write(JSON.stringify(object) + '\n');

(async () => {
  const consumer = kafka.consumer({ groupId: process.env.ECSIM_GROUP });
  let expected = null;
  let count = 0;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const check = () => {
    if (expected !== null && count >= expected) finish();
  };
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    expected = Number(line.trim());
    check();
  });
  // Ready once a fetch has come back after the group join: by then the client has resolved
  // where to start (the latest offsets, by default), so nothing published later is missed.
  let joinedGroup = false;
  let markReady;
  const ready = new Promise((resolve) => (markReady = resolve));
  consumer.on(consumer.events.GROUP_JOIN, () => (joinedGroup = true));
  consumer.on(consumer.events.FETCH, () => joinedGroup && markReady());
  await consumer.connect();
  await consumer.subscribe({ topics });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      say({
        topic,
        partition,
        offset: Number(message.offset),
        key: hex(message.key),
        value: hex(message.value),
        timestamp: Number(message.timestamp),
        received: Date.now(),
      });
      count += 1;
      check();
    },
  });
  await ready;
  say({ ready: true });
  const timeout = setTimeout(() => {
    process.stderr.write(`timed out with ${count} of ${expected} messages\n`);
    process.exit(1);
  }, 120000);
  await finished;
  clearTimeout(timeout);
  await consumer.disconnect();
  say({ done: count });
  process.exit(0);
})().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
