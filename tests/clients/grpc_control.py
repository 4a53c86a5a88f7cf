"""Drives `ecsim serve` through AliECS's control API with grpcio, as a Python test harness
would drive AliECS: create -> START -> STOP -> DESTROY, the replies' fields checked, the
environment's events received with Subscribe, and AliECS's statuses for bad requests.

Usage: grpc_control.py ENDPOINT PROTO_ROOT

The client is generated here, at run time, from the repository's proto/ (AliECS's schema) with
grpcio-tools, as a user generates one from AliECS's own o2control.proto. Prints one JSON line
with what it saw; exits 1 with the reason when something is not as AliECS would have it.
"""

import json
import sys
import tempfile
import threading

import grpc
from grpc_tools import protoc


def generate(proto_root, out):
    protos = ["protos/common.proto", "protos/events.proto", "protos/o2control.proto"]
    args = ["protoc", f"-I{proto_root}", f"--python_out={out}", f"--grpc_python_out={out}"]
    if protoc.main(args + protos) != 0:
        raise SystemExit(f"protoc could not compile {protos} under {proto_root}")
    sys.path.insert(0, out)


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def main(endpoint, proto_root):
    out = tempfile.mkdtemp(prefix="ecsim-grpc-")
    generate(proto_root, out)
    from protos import common_pb2, events_pb2, o2control_pb2, o2control_pb2_grpc  # noqa: E402

    channel = grpc.insecure_channel(endpoint)
    grpc.channel_ready_future(channel).result(timeout=10)
    control = o2control_pb2_grpc.ControlStub(channel)
    user = common_pb2.User(name="Jane Shifter", externalId=812)
    vars = {
        "detectors": '["ITS","TPC"]',
        "hosts": '["alio2-cr1-flp001","alio2-cr1-flp145"]',
        "run_type": "PHYSICS",
        "kafka_enabled": "true",
    }

    info = control.GetFrameworkInfo(o2control_pb2.GetFrameworkInfoRequest())
    check(info.environmentsCount == 0, f"no environment yet: {info}")
    check("TPC" in info.availableDetectors, f"TPC available: {info}")

    created = control.NewEnvironment(
        o2control_pb2.NewEnvironmentRequest(
            workflowTemplate="readout-dataflow", vars=vars, public=True, requestUser=user
        )
    )
    env = created.environment
    check(env.state == "CONFIGURED", f"created CONFIGURED: {env.state}")
    check(list(env.includedDetectors) == ["ITS", "TPC"], f"detectors: {env.includedDetectors}")
    check(env.numberOfFlps == 2, f"two FLPs: {env.numberOfFlps}")
    check(len(env.tasks) == env.numberOfTasks > 0, "its tasks listed")
    check(json.loads(env.userVars["last_request_user"])["name"] == "Jane Shifter", "the user")

    # Subscribe before the first transition; read on a thread of its own.
    events = []
    stream = control.Subscribe(o2control_pb2.SubscribeRequest(id=env.id))

    def read():
        for event in stream:
            events.append(event)

    reader = threading.Thread(target=read)
    reader.start()

    Optype = o2control_pb2.ControlEnvironmentRequest.Optype
    started = control.ControlEnvironment(
        o2control_pb2.ControlEnvironmentRequest(id=env.id, type=Optype.START_ACTIVITY, requestUser=user)
    )
    check(started.state == "RUNNING", f"RUNNING: {started.state}")
    check(started.currentRunNumber == 1, f"run 1: {started.currentRunNumber}")
    check(
        started.transitionDuration == started.endOfTransition - started.startOfTransition,
        "the duration is the transition's",
    )
    stopped = control.ControlEnvironment(
        o2control_pb2.ControlEnvironmentRequest(id=env.id, type=Optype.STOP_ACTIVITY, requestUser=user)
    )
    check((stopped.state, stopped.currentRunNumber) == ("CONFIGURED", 0), f"stopped: {stopped}")
    destroyed = control.DestroyEnvironment(
        o2control_pb2.DestroyEnvironmentRequest(id=env.id, requestUser=user)
    )
    check(len(destroyed.cleanupTasksReply.killedTasks) == len(env.tasks), "every task killed")
    reader.join(timeout=20)
    check(not reader.is_alive(), "the stream ends with the teardown")

    statuses = {}
    for name, request_id in [("missing", ""), ("bad", "not an id!"), ("unknown", env.id)]:
        try:
            control.GetEnvironment(o2control_pb2.GetEnvironmentRequest(id=request_id))
            raise AssertionError(f"GetEnvironment({request_id!r}) should fail")
        except grpc.RpcError as error:
            statuses[name] = [error.code().name, error.details()]

    transitions = []
    last = 0
    for event in events:
        check(event.timestampNano >= last, "events in order")
        last = event.timestampNano
        if event.WhichOneof("Payload") == "environmentEvent":
            e = event.environmentEvent
            check(e.environmentId == env.id, "only this environment's events")
            if e.transitionStatus == events_pb2.OpStatus.DONE_OK and not e.transitionStep:
                transitions.append(f"{e.transition} {e.state}")
    print(
        json.dumps(
            {
                "id": env.id,
                "run": started.currentRunNumber,
                "events": len(events),
                "transitions": transitions,
                "statuses": statuses,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    try:
        main(sys.argv[1], sys.argv[2])
    except AssertionError as error:
        print(f"grpcio client: {error}", file=sys.stderr)
        sys.exit(1)
