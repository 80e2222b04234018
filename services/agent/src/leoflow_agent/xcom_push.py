"""Pushing a successful task's XComs; a push that fails fails the task.

Airflow 3 semantics (outcome.xcoms_to_push): with do_xcom_push and a value that is
not None, one XCom per key with multiple_outputs, then "return_value". A task a
mapped downstream expands over also reports its output's length
(record_output_lengths); a value that cannot be mapped over fails the task. The xcom service
owns the size limit (256 KiB) and answers INVALID_ARGUMENT beyond it; the agent
never drops a value silently: the reason goes to the task log and becomes the
task's error message.
"""

from __future__ import annotations

import grpc
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.xcom.v1 import xcom_pb2

from .jsonvalues import NotJSONSerializable, to_json
from .outcome import Outcome, failed, output_lengths, xcoms_to_push
from .task_run import TaskRun

# Bash tasks push only return_value; multiple_outputs is a Python-task notion.
_BASH = dag_pb2.OPERATOR_KIND_BASH


async def push_outcome_xcoms(run: TaskRun, outcome: Outcome) -> Outcome:
    """Push `outcome.value`'s XComs; the outcome, or a failure saying why not."""
    multiple_outputs = run.spec.multiple_outputs and run.spec.kind != _BASH
    pushes = xcoms_to_push(outcome.value, do_xcom_push=run.spec.do_xcom_push, multiple_outputs=multiple_outputs)
    for key, value in pushes:
        try:
            value_json = to_json(value, what=f"XCom {key!r}").encode()
        except NotJSONSerializable as exc:
            return _push_failure(run, f"TypeError: {exc}")
        request = xcom_pb2.PushXComRequest(key=run.execution.key, xcom_key=key, value_json=value_json)
        try:
            await run.control_plane.push_xcom(request)
        except grpc.aio.AioRpcError as exc:
            reason = f"XComPushError: XCom {key!r} ({len(value_json)} bytes) was rejected by the XCom service: {exc.code().name}: {exc.details()}"
            return _push_failure(run, reason)
        run.agent_log("info", f"Pushed XCom {key!r} ({len(value_json)} bytes)")
    return outcome


def _push_failure(run: TaskRun, message: str) -> Outcome:
    run.agent_log("error", message)
    return failed(message)


def record_output_lengths(run: TaskRun, outcome: Outcome) -> Outcome:
    """Keep the lengths of the output for the report; fail the task if it cannot be mapped."""
    multiple_outputs = run.spec.multiple_outputs and run.spec.kind != _BASH
    lengths = output_lengths(outcome.value if run.spec.do_xcom_push else None, multiple_outputs=multiple_outputs)
    if isinstance(lengths, str):
        return _push_failure(run, lengths)
    run.mapped_lengths = lengths
    return outcome
