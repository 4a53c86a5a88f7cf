// The client x feature matrix for kafkajs (see README.md and features.py): each feature on a
// topic of its own, with kafkajs's defaults but for what the feature needs, one JSON line each.
'use strict';
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const { Kafka, logLevel, CompressionTypes } = require('kafkajs');
const crypto = require('crypto');

const kafka = new Kafka({
  clientId: 'ecsim-features',
  brokers: [process.env.ECSIM_BOOTSTRAP],
  logLevel: logLevel.NOTHING,
});
const COUNT = 10;
// The features to try (comma-separated), all when unset.
const ONLY = new Set((process.env.ECSIM_FEATURES || '').split(',').filter(Boolean));
const BASE_MS = 1750000000000;
const fresh = (prefix) => `${prefix}-${crypto.randomBytes(4).toString('hex')}`;
const say = (feature, ok, detail) =>
  process.stdout.write(JSON.stringify({ feature, ok, detail: String(detail || '').slice(0, 400) }) + '\n');

async function feature(name, attempt) {
  if (ONLY.size && !ONLY.has(name)) return;
  try {
    say(name, true, await attempt());
  } catch (error) {
    say(name, false, `${error.name}: ${error.message}`);
  }
}

async function produce(topic, compression = CompressionTypes.None) {
  // Created first: not every broker creates topics on demand (tansu does not).
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] }).catch(() => {});
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({
      topic,
      compression,
      messages: [...Array(COUNT).keys()].map((i) => ({
        key: `env-${i}`,
        value: `value-${i}`,
        timestamp: String(BASE_MS + i * 1000),
        headers: { h: 'x' },
      })),
    });
  } finally {
    await producer.disconnect();
  }
}

// Reads `count` records from the group's position (the earliest offset for a new group).
async function consume(topic, groupId, count = COUNT, options = {}) {
  const consumer = kafka.consumer({ groupId, ...options });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const records = [];
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ message }) => {
      records.push({
        offset: Number(message.offset),
        key: String(message.key),
        value: String(message.value),
        timestamp: Number(message.timestamp),
        h: message.headers.h && String(message.headers.h),
      });
      if (records.length >= count) done();
    },
  });
  const timer = setTimeout(done, 60000);
  await finished;
  clearTimeout(timer);
  return { consumer, records };
}

function expectRecords(records) {
  for (let i = 0; i < COUNT; i++) {
    const r = records[i];
    const want = { offset: i, key: `env-${i}`, value: `value-${i}`, timestamp: BASE_MS + i * 1000, h: 'x' };
    if (!r || JSON.stringify(r) !== JSON.stringify(want)) {
      throw new Error(`record ${i}: got ${JSON.stringify(r)}, want ${JSON.stringify(want)}`);
    }
  }
}

(async () => {
  const topic = fresh('features');
  await feature('produce', () => produce(topic));
  await feature('consume in a group', async () => {
    const { consumer, records } = await consume(topic, fresh('g'));
    await consumer.disconnect();
    expectRecords(records);
  });
  await feature('commit and resume', async () => {
    const groupId = fresh('g');
    const first = await consume(topic, groupId);
    await first.consumer.commitOffsets([{ topic, partition: 0, offset: '6' }]);
    await first.consumer.disconnect();
    const again = await consume(topic, groupId, 1);
    await again.consumer.disconnect();
    if (again.records[0]?.offset !== 6) throw new Error(`resumed at ${JSON.stringify(again.records[0])}`);
  });
  await feature('seek by time', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const found = await admin.fetchTopicOffsetsByTimestamp(topic, BASE_MS + 7000);
      if (found[0].offset !== '7') throw new Error(`offset ${found[0].offset}`);
    } finally {
      await admin.disconnect();
    }
  });
  await feature('compression', async () => {
    const t = fresh('c-gzip');
    await produce(t, CompressionTypes.GZIP);
    const { consumer, records } = await consume(t, fresh('g'));
    await consumer.disconnect();
    expectRecords(records);
    return 'gzip (kafkajs has the others as plugins only)';
  });
  await feature('replication factor refused', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: fresh('r'), numPartitions: 1, replicationFactor: 3 }] });
    } catch (error) {
      const causes = (error.errors || []).map((e) => e.type).join(',');
      if (causes.includes('INVALID_REPLICATION_FACTOR')) return causes;
      throw error;
    } finally {
      await admin.disconnect();
    }
    throw new Error('a replication factor of 3 was accepted');
  });
  await feature('transactions refused', async () => {
    const producer = kafka.producer({ transactionalId: fresh('tx'), maxInFlightRequests: 1, idempotent: true });
    await producer.connect();
    try {
      const transaction = await producer.transaction();
      await transaction.abort();
    } catch (error) {
      if (/authoriz/i.test(`${error.type} ${error.message}`)) return `${error.type}: ${error.message}`;
      throw error;
    } finally {
      await producer.disconnect();
    }
    throw new Error('transactions were granted');
  });
  process.exit(0);
})();
