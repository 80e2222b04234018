"""TEST DOUBLE of the real agent (`python -m leoflow_agent`, services/agent).

The dispatcher tests start this script in place of the agent (a fake virtualenv's
`bin/python` runs it) to drive the dispatcher through the agent's side of the
protocol without running any user code. It reads the variables the dispatcher
gives every agent (LEOFLOW_AGENT_DISPATCHER_ADDRESS, LEOFLOW_AGENT_TOKEN,
LEOFLOW_AGENT_BUNDLE_DIR) and behaves as the task env's DOUBLE_MODE says:

  succeed              register, fetch the spec, heartbeat, report running, then success
  crash_before_running register, write to stderr, exit 3 without reporting
  crash_after_running  report running, write a traceback to stderr, exit 7 without reporting
  silent_after_running report running, then neither heartbeat nor exit
  run_until_told       report running, heartbeat until told to stop (should_terminate: exit 0)
                       or until DOUBLE_RELEASE_FILE exists (then report success)
  idle                 register and heartbeat; report nothing (the test reports itself)

Other knobs: DOUBLE_RECORD_DIR (where it writes <pid>.json: argv, cwd, env, and
what the dispatcher answered), DOUBLE_HEARTBEAT (seconds), DOUBLE_SPAWN_CHILD=1
(start a `sleep` child in the same process group, like user code; with
DOUBLE_CHILD_NEW_SESSION=1 in a session of its own, as the real agent runs it), and
DOUBLE_IGNORE_SIGTERM=1 (only SIGKILL stops it). Transient UNAVAILABLE errors are
retried (with CANCELLED and DEADLINE_EXCEEDED), so a double outlives a dispatcher
restart.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
from google.protobuf import json_format
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dispatcher.v1 import agent_pb2, agent_pb2_grpc

MODE = os.environ.get("DOUBLE_MODE", "succeed")
HEARTBEAT = float(os.environ.get("DOUBLE_HEARTBEAT", "0.2"))
RECORD = Path(os.environ["DOUBLE_RECORD_DIR"]) / f"{os.getpid()}.json"
RETRY_FOR = 30.0
# What a dispatcher that is stopping or restarting answers; the real agent retries these too.
TRANSIENT = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED}
)

record: dict = {
    "argv": sys.argv[1:],
    "cwd": os.getcwd(),
    "env": dict(os.environ),
    "pid": os.getpid(),
}


def save() -> None:
    tmp = RECORD.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(RECORD)


def call(method, request):
    """Call with the token; retry while the dispatcher is unreachable or restarting."""
    metadata = (("authorization", f"Bearer {os.environ['LEOFLOW_AGENT_TOKEN']}"),)
    deadline = time.monotonic() + RETRY_FOR
    while True:
        try:
            return method(request, metadata=metadata, timeout=5)
        except grpc.RpcError as exc:
            if exc.code() not in TRANSIENT or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def report(stub, state: int, **fields):
    return call(
        stub.ReportState,
        agent_pb2.ReportStateRequest(
            state=state, hostname=socket.gethostname(), pid=os.getpid(), **fields
        ),
    )


def heartbeat_until_told(stub, *, release: Path | None = None) -> bool:
    """Heartbeat until should_terminate (False) or until `release` exists (True)."""
    while True:
        if release is not None and release.exists():
            return True
        reply = call(stub.Heartbeat, agent_pb2.HeartbeatRequest())
        if reply.should_terminate:
            record["told_to_terminate"] = True
            save()
            return False
        time.sleep(HEARTBEAT)


def main() -> int:
    if os.environ.get("DOUBLE_IGNORE_SIGTERM") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.environ.get("DOUBLE_SPAWN_CHILD") == "1":
        # Like the real agent, optionally in a session of its own (outside our group).
        new_session = os.environ.get("DOUBLE_CHILD_NEW_SESSION") == "1"
        record["child_pid"] = subprocess.Popen(["sleep", "300"], start_new_session=new_session).pid
    save()
    channel = grpc.insecure_channel(os.environ["LEOFLOW_AGENT_DISPATCHER_ADDRESS"])
    stub = agent_pb2_grpc.AgentServiceStub(channel)
    registered = call(
        stub.Register,
        agent_pb2.RegisterRequest(
            agent_version="test-double",
            protocol_version=1,
            hostname=socket.gethostname(),
            pid=os.getpid(),
        ),
    )
    record["register"] = json_format.MessageToDict(registered, preserving_proto_field_name=True)
    spec = call(stub.GetTaskSpec, agent_pb2.GetTaskSpecRequest())
    record["spec"] = json_format.MessageToDict(spec.execution, preserving_proto_field_name=True)
    save()

    if MODE == "crash_before_running":
        print("boom before user code: could not import the DAG", file=sys.stderr, flush=True)
        return 3
    if MODE == "idle":
        heartbeat_until_told(stub)
        return 0
    call(stub.Heartbeat, agent_pb2.HeartbeatRequest())
    report(stub, states_pb2.TASK_INSTANCE_STATE_RUNNING)
    if MODE == "crash_after_running":
        print(
            "Traceback (most recent call last):\nValueError: boom in user code",
            file=sys.stderr,
            flush=True,
        )
        return 7
    if MODE == "silent_after_running":
        while True:
            time.sleep(3600)
    if MODE == "run_until_told":
        release = os.environ.get("DOUBLE_RELEASE_FILE")
        if not heartbeat_until_told(stub, release=Path(release) if release else None):
            return 0
    rendered = {"bash_command": "echo done"}
    reply = report(
        stub,
        states_pb2.TASK_INSTANCE_STATE_SUCCESS,
        rendered_fields=json_format.ParseDict(
            rendered, agent_pb2.ReportStateRequest().rendered_fields
        ),
        rendered_map_index="first",
    )
    record["final_report"] = json_format.MessageToDict(reply, preserving_proto_field_name=True)
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
