"""The client x feature matrix, for one Python client (see README.md).

Usage: features.py CLIENT, with CLIENT one of confluent-kafka, kafka-python, aiokafka;
ECSIM_BOOTSTRAP names the broker, ECSIM_FEATURES (comma-separated) the features to try (all
when unset; "produce" is always tried, the others read what it wrote). Each client runs with its default settings but for what a
feature needs (a consumer reading from the earliest offset, a group id); every feature is tried
on a topic of its own and prints one JSON line: {"feature", "ok", "detail"}.
"""
import asyncio
import json
import os
import sys
import time
import traceback
import uuid

BOOTSTRAP = os.environ["ECSIM_BOOTSTRAP"]
# The features to try (comma-separated), all when unset.
ONLY = set(filter(None, os.environ.get("ECSIM_FEATURES", "").split(",")))
CLIENT = sys.argv[1]
COUNT = 10
BASE_MS = 1_750_000_000_000


def say(feature, ok, detail=""):
    sys.stdout.write(json.dumps({"feature": feature, "ok": ok, "detail": str(detail)[:400]}) + "\n")
    sys.stdout.flush()


def fresh(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def expect_records(records, feature):
    """The records a consumer got: COUNT of them, in order, keys, values, times and headers."""
    got = [(r["offset"], r["key"], r["value"], r["timestamp"]) for r in records]
    want = [(i, f"env-{i}".encode(), f"value-{i}".encode(), BASE_MS + i * 1000) for i in range(COUNT)]
    if got != want:
        raise AssertionError(f"{feature}: got {got[:3]}… want {want[:3]}…")
    if not all(dict(r["headers"]).get("h") == b"x" for r in records):
        raise AssertionError(f"{feature}: headers lost: {records[0]['headers']}")


# --- confluent-kafka (librdkafka) -------------------------------------------------------------

def confluent():
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})

    def produce(topic, compression="none"):
        # Created first: not every broker creates topics on demand (tansu does not).
        try:
            list(admin.create_topics([NewTopic(topic, 1, 1)]).values())[0].result(15)
        except KafkaException:
            pass
        producer = Producer({"bootstrap.servers": BOOTSTRAP, "compression.type": compression})
        for i in range(COUNT):
            producer.produce(topic, key=f"env-{i}", value=f"value-{i}", timestamp=BASE_MS + i * 1000,
                             headers=[("h", b"x")])
        left = producer.flush(30)
        if left:
            raise AssertionError(f"{left} messages not delivered")

    def consumer(group, **extra):
        config = {"bootstrap.servers": BOOTSTRAP, "group.id": group, "auto.offset.reset": "earliest"}
        config.update(extra)
        return Consumer(config)

    def consume(topic, group, count=COUNT, **extra):
        c = consumer(group, **extra)
        c.subscribe([topic])
        records = []
        deadline = time.monotonic() + 60
        while len(records) < count and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            records.append({"offset": m.offset(), "key": m.key(), "value": m.value(),
                            "timestamp": m.timestamp()[1], "headers": m.headers() or []})
        return c, records

    topic = fresh("features")
    feature("produce", lambda: produce(topic))
    feature("consume in a group", lambda: expect_records(consume(topic, fresh("g"))[1], "consume"))

    def commit_resume():
        group = fresh("g")
        # Without auto-commit, which would commit the position (10) again at close.
        c, _ = consume(topic, group, **{"enable.auto.commit": False})
        c.commit(offsets=[TopicPartition(topic, 0, 6)], asynchronous=False)
        c.close()
        c, records = consume(topic, group, count=1)
        c.close()
        if not records or records[0]["offset"] != 6:
            raise AssertionError(f"resumed at {records[:1]}")
    feature("commit and resume", commit_resume)

    def seek_by_time():
        c = consumer(fresh("g"))
        found = c.offsets_for_times([TopicPartition(topic, 0, BASE_MS + 7000)], 10)
        c.close()
        if found[0].offset != 7:
            raise AssertionError(f"offset {found[0].offset}")
    feature("seek by time", seek_by_time)

    def compression():
        for codec in ["gzip", "snappy", "lz4", "zstd"]:
            t = fresh(f"c-{codec}")
            produce(t, codec)
            c, records = consume(t, fresh("g"))
            c.close()
            expect_records(records, codec)
    feature("compression", compression)

    def static_membership():
        group, t = fresh("g"), topic
        c, _ = consume(t, group, count=1, **{"group.instance.id": "member-1"})
        c.close()
        started = time.monotonic()
        c, records = consume(t, group, count=1, **{"group.instance.id": "member-1"})
        c.close()
        waited = time.monotonic() - started
        if waited > 10:
            raise AssertionError(f"the restarted static member waited {waited:.1f} s")
        return f"{waited:.2f} s"
    feature("static membership", static_membership)

    def replication_refused():
        futures = admin.create_topics([NewTopic(fresh("r"), 1, 3)])
        try:
            list(futures.values())[0].result(15)
        except KafkaException as e:
            if "REPLICATION_FACTOR" in str(e).upper() or "Replication factor" in str(e):
                return str(e)
            raise
        raise AssertionError("a replication factor of 3 was accepted")
    feature("replication factor refused", replication_refused)

    def transactions_refused():
        producer = Producer({"bootstrap.servers": BOOTSTRAP, "transactional.id": fresh("tx")})
        try:
            producer.init_transactions(15)
        except KafkaException as e:
            if "AUTHORIZATION" in str(e).upper():
                return str(e)
            raise
        raise AssertionError("transactions were granted")
    feature("transactions refused", transactions_refused)


# --- kafka-python -----------------------------------------------------------------------------

def kafka_python():
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.structs import OffsetAndMetadata
    import kafka.errors as errors

    def produce(topic, compression=None):
        # Created first: not every broker creates topics on demand (tansu does not).
        admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
        try:
            admin.create_topics([NewTopic(topic, 1, 1)])
        except errors.KafkaError:
            pass
        finally:
            admin.close()
        producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, compression_type=compression)
        for i in range(COUNT):
            producer.send(topic, key=f"env-{i}".encode(), value=f"value-{i}".encode(),
                          timestamp_ms=BASE_MS + i * 1000, headers=[("h", b"x")])
        producer.flush(30)
        producer.close()

    def consume(topic, group, count=COUNT):
        c = KafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=group, auto_offset_reset="earliest",
                          enable_auto_commit=False)
        c.subscribe([topic])
        records = []
        deadline = time.monotonic() + 60
        while len(records) < count and time.monotonic() < deadline:
            for batch in c.poll(timeout_ms=500).values():
                for r in batch:
                    records.append({"offset": r.offset, "key": r.key, "value": r.value,
                                    "timestamp": r.timestamp, "headers": r.headers})
        return c, records

    topic = fresh("features")
    feature("produce", lambda: produce(topic))
    feature("consume in a group", lambda: expect_records(consume(topic, fresh("g"))[1], "consume"))

    def commit_resume():
        group = fresh("g")
        c, _ = consume(topic, group)
        c.commit({TopicPartition(topic, 0): OffsetAndMetadata(6, "", -1)})
        c.close()
        c, records = consume(topic, group, count=1)
        c.close()
        if not records or records[0]["offset"] != 6:
            raise AssertionError(f"resumed at {records[:1]}")
    feature("commit and resume", commit_resume)

    def seek_by_time():
        c = KafkaConsumer(bootstrap_servers=BOOTSTRAP)
        found = c.offsets_for_times({TopicPartition(topic, 0): BASE_MS + 7000})
        c.close()
        offset = list(found.values())[0].offset
        if offset != 7:
            raise AssertionError(f"offset {offset}")
    feature("seek by time", seek_by_time)

    def compression():
        t = fresh("c-gzip")
        produce(t, "gzip")
        c, records = consume(t, fresh("g"))
        c.close()
        expect_records(records, "gzip")
        return "gzip (snappy, lz4, zstd need packages kafka-python does not install)"
    feature("compression", compression)

    def replication_refused():
        admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
        try:
            admin.create_topics([NewTopic(fresh("r"), 1, 3)])
        except errors.InvalidReplicationFactorError as e:
            return str(e)
        finally:
            admin.close()
        raise AssertionError("a replication factor of 3 was accepted")
    feature("replication factor refused", replication_refused)

    def transactions_refused():
        try:
            producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, transactional_id=fresh("tx"))
            producer.init_transactions()
        except errors.TransactionalIdAuthorizationFailedError as e:
            return str(e)
        raise AssertionError("transactions were granted")
    feature("transactions refused", transactions_refused)


# --- aiokafka ---------------------------------------------------------------------------------

def aiokafka():
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.structs import OffsetAndMetadata
    import aiokafka.errors as errors

    async def produce(topic, compression=None):
        # Created first: not every broker creates topics on demand (tansu does not).
        admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, 1, 1)])
        except errors.KafkaError:
            pass
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, compression_type=compression)
        await producer.start()
        try:
            for i in range(COUNT):
                await producer.send_and_wait(topic, key=f"env-{i}".encode(), value=f"value-{i}".encode(),
                                             timestamp_ms=BASE_MS + i * 1000, headers=[("h", b"x")])
        finally:
            await producer.stop()

    async def consume(topic, group, count=COUNT, stop=True):
        c = AIOKafkaConsumer(topic, bootstrap_servers=BOOTSTRAP, group_id=group,
                             auto_offset_reset="earliest", enable_auto_commit=False)
        await c.start()
        records = []
        deadline = time.monotonic() + 60
        while len(records) < count and time.monotonic() < deadline:
            for batch in (await c.getmany(timeout_ms=500)).values():
                for r in batch:
                    records.append({"offset": r.offset, "key": r.key, "value": r.value,
                                    "timestamp": r.timestamp, "headers": list(r.headers)})
        if stop:
            await c.stop()
        return c, records

    def run(coroutine):
        return lambda: asyncio.run(coroutine())

    topic = fresh("features")

    async def produce_all():
        await produce(topic)
    feature("produce", run(produce_all))

    async def consume_group():
        expect_records((await consume(topic, fresh("g")))[1], "consume")
    feature("consume in a group", run(consume_group))

    async def commit_resume():
        group = fresh("g")
        c, _ = await consume(topic, group, stop=False)
        await c.commit({TopicPartition(topic, 0): OffsetAndMetadata(6, "")})
        await c.stop()
        _, records = await consume(topic, group, count=1)
        if not records or records[0]["offset"] != 6:
            raise AssertionError(f"resumed at {records[:1]}")
    feature("commit and resume", run(commit_resume))

    async def seek_by_time():
        c = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP)
        await c.start()
        try:
            found = await c.offsets_for_times({TopicPartition(topic, 0): BASE_MS + 7000})
        finally:
            await c.stop()
        offset = list(found.values())[0].offset
        if offset != 7:
            raise AssertionError(f"offset {offset}")
    feature("seek by time", run(seek_by_time))

    async def compression():
        t = fresh("c-gzip")
        await produce(t, "gzip")
        expect_records((await consume(t, fresh("g")))[1], "gzip")
        return "gzip (snappy, lz4, zstd need packages aiokafka does not install)"
    feature("compression", run(compression))

    async def replication_refused():
        admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
        await admin.start()
        try:
            response = await admin.create_topics([NewTopic(fresh("r"), 1, 3)])
        finally:
            await admin.close()
        codes = [topic[1] for topic in response.topic_errors]
        if codes != [errors.InvalidReplicationFactorError.errno]:
            raise AssertionError(f"error codes {codes}")
        return f"error code {codes[0]}"
    feature("replication factor refused", run(replication_refused))

    async def transactions_refused():
        producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, transactional_id=fresh("tx"))
        try:
            await asyncio.wait_for(producer.start(), 15)
        except errors.TransactionalIdAuthorizationFailed as e:
            return str(e) or type(e).__name__
        finally:
            await producer.stop()
        raise AssertionError("transactions were granted")
    feature("transactions refused", run(transactions_refused))


def feature(name, attempt):
    if ONLY and name not in ONLY:
        return
    try:
        detail = attempt()
        say(name, True, detail or "")
    except Exception as e:  # noqa: BLE001 — every failure is reported, none ends the matrix
        say(name, False, f"{type(e).__name__}: {e} | {traceback.format_exc().splitlines()[-3:]}")


{"confluent-kafka": confluent, "kafka-python": kafka_python, "aiokafka": aiokafka}[CLIENT]()
