"""A kafka-python consumer with default settings, for ecsim's client tests (see README.md)."""
import time

from kafka import KafkaConsumer

import client_protocol as p

consumer = KafkaConsumer(bootstrap_servers=p.BOOTSTRAP, group_id=p.GROUP)
consumer.subscribe(p.TOPICS)
count = 0
ready = False
start = time.monotonic()
while not p.done(count):
    if time.monotonic() - start > p.TIMEOUT_S:
        p.give_up(count)
    batches = consumer.poll(timeout_ms=100)
    if consumer.assignment() and not ready:
        # position() waits until the client has resolved where to start (the latest offsets,
        # by default), so nothing published later is missed.
        for tp in consumer.assignment():
            consumer.position(tp)
        ready = True
        p.say({"ready": True})
    for records in batches.values():
        for r in records:
            p.message(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp)
            count += 1
consumer.close()
p.say({"done": count})
