"""What the Python consumers share: the JSON lines and the stdin count (see README.md)."""
import json
import logging
import os
import sys
import threading
import time

BOOTSTRAP = os.environ["ECSIM_BOOTSTRAP"]
GROUP = os.environ["ECSIM_GROUP"]
TOPICS = os.environ["ECSIM_TOPICS"].split(",")
TIMEOUT_S = 120

# The clients' own errors, on stderr with their level, for the test to look for.
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

expected = None


def _read_expected():
    global expected
    line = sys.stdin.readline()
    if line.strip():
        expected = int(line)


threading.Thread(target=_read_expected, daemon=True).start()


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def message(topic, partition, offset, key, value, timestamp):
    say({
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "key": None if key is None else key.hex(),
        "value": None if value is None else value.hex(),
        "timestamp": timestamp,
        "received": int(time.time() * 1000),
    })


def done(count):
    return expected is not None and count >= expected


def give_up(count):
    sys.stderr.write(f"timed out with {count} of {expected} messages\n")
    sys.exit(1)
