"""The wheel's pytest fixtures as a consumer developer uses them: a consumer written with a
Kafka client, at its default settings, subscribed before a scenario runs, sees every message the
run published, each tagged with the run's id and scenario — and the fixtures use the ``ecsim``
command the wheel installed."""

import socket
import sys
import time
from pathlib import Path

import pytest

from ecsim import ecsim_command

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
PHYSICS = SCENARIOS / "physics-run.toml"
TOPICS = ["aliecs.environment", "aliecs.run"]


def test_the_fixtures_run_the_ecsim_the_wheel_installed():
    assert Path(ecsim_command()).resolve().is_relative_to(Path(sys.prefix).resolve())


def expected(run, topic):
    return run.summary["messages"]["by_topic"].get(topic, 0)


def test_a_confluent_kafka_consumer_sees_every_message_of_a_run(ecsim_broker, ecsim_run):
    from confluent_kafka import Consumer

    consumer = Consumer(
        {"bootstrap.servers": ecsim_broker.bootstrap, "group.id": "confluent-fixture-test"}
    )
    assigned = []
    consumer.subscribe(TOPICS, on_assign=lambda _, partitions: assigned.extend(partitions))
    deadline = time.monotonic() + 60
    while not assigned and time.monotonic() < deadline:
        consumer.poll(0.2)
    assert assigned, "the consumer joined its group"

    run = ecsim_run(PHYSICS)
    assert run.returncode == 0, run.stderr
    want = sum(expected(run, topic) for topic in TOPICS)
    assert want > 0
    seen = []
    deadline = time.monotonic() + 60
    while len(seen) < want and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is None or message.error():
            continue
        seen.append(message)
    consumer.close()
    assert len(seen) == want
    ids = set(run.summary["environment_ids"]["physics"])
    for message in seen:
        headers = dict(message.headers())
        assert headers["ecsim.run"].decode() == run.run_id
        assert headers["ecsim.scenario"].decode() == "physics-run"
        assert message.key().decode() in ids


def test_a_kafka_python_consumer_sees_every_message_of_a_run(ecsim_broker, ecsim_run):
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        *TOPICS, bootstrap_servers=ecsim_broker.bootstrap, group_id="kafka-python-fixture-test"
    )
    deadline = time.monotonic() + 60
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.poll(timeout_ms=200)
    assert consumer.assignment(), "the consumer joined its group"

    run = ecsim_run(PHYSICS, "--seed", "7")
    assert run.returncode == 0, run.stderr
    want = sum(expected(run, topic) for topic in TOPICS)
    seen = []
    deadline = time.monotonic() + 60
    while len(seen) < want and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            seen.extend(records)
    consumer.close()
    assert len(seen) == want
    assert all(dict(r.headers)["ecsim.run"].decode() == run.run_id for r in seen)


def test_a_run_whose_expectations_fail_says_so(ecsim_run, tmp_path):
    scenario = tmp_path / "wrong.toml"
    text = PHYSICS.read_text()
    assert 'topic = "aliecs.env_state.RUNNING"' in text
    scenario.write_text(
        text + '\n[[expect]]\ntopic = "aliecs.env_state.RUNNING"\ncount = 99\n'
    )
    run = ecsim_run(scenario)
    assert run.returncode == 4
    failed = [e for e in run.summary["expectations"] if not e["met"]]
    assert len(failed) == 1


def test_a_scenario_that_cannot_run_fails_the_test_with_ecsims_message(ecsim_run, tmp_path):
    scenario = tmp_path / "broken.toml"
    scenario.write_text('[scenario]\nname = "broken"\n[[timeline]]\ndo = "launch"\n')
    with pytest.raises(pytest.fail.Exception, match="is not something a step can do"):
        ecsim_run(scenario)


def test_serve_answers_on_its_control_api_and_its_broker(ecsim_serve):
    from confluent_kafka.admin import AdminClient

    host, port = ecsim_serve.grpc.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10):
        pass
    topics = AdminClient({"bootstrap.servers": ecsim_serve.bootstrap}).list_topics(timeout=30)
    assert "aliecs.environment" in topics.topics
