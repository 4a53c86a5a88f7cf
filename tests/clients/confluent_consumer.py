"""A confluent-kafka consumer with default settings, for ecsim's client tests (see README.md).

One setting is added, and it only observes: librdkafka's statistics, whose per-partition
`fetch_state` says when the client has resolved where to start (the latest offsets, by default)
and fetches — the moment to say it is ready, so that nothing published later is missed.
(`position()` cannot tell: it stays unset until a first message is consumed.)
"""
import json
import time

from confluent_kafka import Consumer

import client_protocol as p

assigned = []
fetching = set()


def on_stats(text):
    stats = json.loads(text)
    for topic, t in stats.get("topics", {}).items():
        for partition, s in t.get("partitions", {}).items():
            if s.get("fetch_state") == "active":
                fetching.add((topic, int(partition)))


consumer = Consumer({
    "bootstrap.servers": p.BOOTSTRAP,
    "group.id": p.GROUP,
    "statistics.interval.ms": 100,
    "stats_cb": on_stats,
})
consumer.subscribe(p.TOPICS, on_assign=lambda _consumer, partitions: assigned.extend(partitions))
count = 0
ready = False
start = time.monotonic()
while not p.done(count):
    if time.monotonic() - start > p.TIMEOUT_S:
        p.give_up(count)
    msg = consumer.poll(0.1)
    if assigned and not ready and all((tp.topic, tp.partition) in fetching for tp in assigned):
        ready = True
        p.say({"ready": True})
    if msg is None:
        continue
    if msg.error():
        raise SystemExit(f"consumer error: {msg.error()}")
    p.message(msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value(), msg.timestamp()[1])
    count += 1
consumer.close()
p.say({"done": count})
