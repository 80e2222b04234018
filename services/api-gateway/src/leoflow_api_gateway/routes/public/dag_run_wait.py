"""GET /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/wait: Airflow 3's (experimental)
"wait until the run finishes" stream, for CI jobs and scripts.

NDJSON: one `{"state": ...}` line at once, then one every `interval` seconds until the
run is finished; the last line also carries `results` — the `return_value` XCom of
each task named by `result` (a mapped task's values as a list in map_index order) —
when `result` was given, as Airflow's DagRunWaiter does.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from leoflow_common.auth import Capability
from leoflow_common.errors import InvalidArgument, NotFound
from leoflow_common.states import DagRunState
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.scheduler.v1 import runs_pb2
from leoflow_proto.xcom.v1 import xcom_pb2
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ...clients import acting_as
from ...convert.xcom import xcom_value
from ...http.endpoint import endpoint, gateway, principal_of
from ...http.errors import leoflow_error_of, or_404
from ...http.params import parse_query
from .dag_run import run_not_found

NDJSON = "application/x-ndjson"
FINISHED = frozenset({DagRunState.SUCCESS, DagRunState.FAILED})
# Airflow bounds nothing; a sleep this long is as good as forever and cannot overflow.
LONGEST_INTERVAL = 3600.0
RETURN_VALUE = "return_value"
PAGE = 1000  # the services' largest page
# A run deleted while waited for, or a service down for good, ends the stream.
MAX_FAILED_POLLS = 3

log = logging.getLogger(__name__)


class WaitQuery(BaseModel):
    interval: float = Field(gt=0.0, allow_inf_nan=False)
    result: list[str] = []


async def _state(request: Request, key: keys_pb2.DagRunKey) -> DagRunState:
    answer = await gateway(request).clients.runs.GetDagRun(runs_pb2.GetDagRunRequest(key=key))
    return DagRunState.from_proto(answer.dag_run.state)


async def _results(request: Request, key: keys_pb2.DagRunKey, task_ids: list[str]) -> dict[str, Any]:
    """task_id -> its return value (a mapped task's: the list of its instances' values)."""
    xcom = gateway(request).clients.xcom
    found: dict[str, Any] = {}
    for task_id in dict.fromkeys(task_ids):  # each once, in the order asked
        entries: list[xcom_pb2.XComEntry] = []
        while True:  # a mapped task may have more instances than a page holds
            try:
                listed = await xcom.ListXComs(
                    xcom_pb2.ListXComsRequest(
                        dag_id=key.dag_id, run_id=key.run_id, task_id=task_id, xcom_key=RETURN_VALUE,
                        page=keys_pb2.PageRequest(limit=PAGE, offset=len(entries)), include_values=True,
                    )
                )
            except Exception as exc:
                # A name no task can have is a task without a value, as in Airflow.
                if isinstance(leoflow_error_of(exc), (InvalidArgument, NotFound)):
                    break
                raise
            entries.extend(listed.entries)
            if not listed.entries or len(entries) >= listed.total_entries:
                break
        entries.sort(key=lambda entry: entry.key.map_index)
        if not entries:
            continue  # Airflow leaves out a task without a return value
        if len(entries) == 1 and entries[0].key.map_index < 0:
            found[task_id] = xcom_value(entries[0])
        else:
            found[task_id] = [xcom_value(entry) for entry in entries]
    return found


async def _lines(request: Request, key: keys_pb2.DagRunKey, query: WaitQuery, first: DagRunState) -> AsyncIterator[str]:
    # The body is sent after the route returned: carry the caller's token ourselves.
    with acting_as(principal_of(request).token):
        state, failures = first, 0
        while True:
            line: dict[str, Any] = {"state": state.value}
            if state in FINISHED and query.result:
                line["results"] = await _results(request, key, query.result)
            yield json.dumps(line) + "\n"
            if state in FINISHED:
                return
            await asyncio.sleep(min(query.interval, LONGEST_INTERVAL))
            try:
                state, failures = await _state(request, key), 0
            except Exception as exc:  # noqa: BLE001 - the status line is gone: retry a few times, then end
                failures += 1
                if failures > MAX_FAILED_POLLS:
                    log.warning("wait stream of %s ended early: %s", key, leoflow_error_of(exc) or exc)
                    return


@endpoint(Capability.READ)
async def wait_dag_run_until_finished(request: Request) -> Response:
    dag_id, run_id = request.path_params["dag_id"], request.path_params["dag_run_id"]
    query = parse_query(request, WaitQuery)
    key = keys_pb2.DagRunKey(dag_id=dag_id, run_id=run_id)
    first = await or_404(_state(request, key), run_not_found(dag_id, run_id))
    return StreamingResponse(_lines(request, key, query, first), media_type=NDJSON)


routes = [
    Route("/dags/{dag_id}/dagRuns/{dag_run_id}/wait", wait_dag_run_until_finished, methods=["GET"]),
]
