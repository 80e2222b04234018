"""GET .../taskInstances/{task_id}/logs/{try_number} (Airflow's routes/public/log.py).

`Accept: application/json` answers TaskInstancesLogResponse {content, continuation_token};
`application/x-ndjson` (what the UI sends) answers one StructuredLogMessage per line,
with an Airflow-Continuation-Token header while the try's log is still open. Either
way the answer holds what is logged so far: the UI polls while the task runs and an
answer that waited for the end would leave it blank. `follow=true` (a Leoflow
extension, for `leoflow logs -f` and curl) instead streams NDJSON lines as they are
written until the log closes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

from leoflow_common.auth import Capability
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.logs.v1 import logs_pb2
from leoflow_proto.scheduler.v1 import task_instances_pb2
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ...clients import acting_as
from ...convert.log import log_message
from ...datamodels.common import INT32_MAX
from ...datamodels.log import TaskInstancesLogResponse
from ...http.endpoint import endpoint, gateway, principal_of
from ...http.errors import HTTPError, leoflow_error_of, or_404
from ...http.params import parse_query, path_int
from ...http.responses import json_response
from ...signing import BadSignature, Signer

log = logging.getLogger(__name__)

NDJSON = "application/x-ndjson"
CONTINUATION_HEADER = "Airflow-Continuation-Token"


class GetLogQuery(BaseModel):
    full_content: bool = False
    map_index: int = Field(default=-1, ge=-1, le=INT32_MAX)
    token: str | None = None
    follow: bool = False


def continuation_tokens(request: Request) -> Signer:
    return Signer(gateway(request).settings.security.jwt_secret.get_secret_value(), "log_continuation")


def _after_sequence(request: Request, query: GetLogQuery) -> int:
    """Where to resume: the sequence a continuation token carries (0 = the beginning)."""
    if not query.token or query.full_content:
        return 0
    try:
        data = continuation_tokens(request).loads(query.token)
        after = int(data["after_sequence"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise HTTPError(400, "Bad Signature. Please use only the tokens provided by the API.") from None
    return max(after, 0)


async def _ensure_try_exists(request: Request, key: keys_pb2.TaskInstanceKey, try_number: int) -> None:
    """404 unless the task instance exists and has reached `try_number`."""
    call = gateway(request).clients.task_instances.GetTaskInstance(task_instances_pb2.GetTaskInstanceRequest(key=key))
    answer = await or_404(call, HTTPError(404, "TaskInstance not found"))
    if try_number > answer.task_instance.try_number:
        raise HTTPError(404, "TaskInstance not found")


async def _read_so_far(request: Request, read: logs_pb2.ReadLogsRequest) -> tuple[list[dict], str | None]:
    """Every record logged so far, and a continuation token unless the log is closed."""
    messages: list[dict] = []
    end_of_log = False
    last_sequence = read.after_sequence
    async for chunk in gateway(request).clients.logs.ReadLogs(read, timeout=gateway(request).settings.rpc_timeout):
        messages.extend(log_message(record) for record in chunk.records)
        last_sequence = max(last_sequence, chunk.last_sequence)
        end_of_log = end_of_log or chunk.end_of_log
    token = None if end_of_log else continuation_tokens(request).dumps({"after_sequence": last_sequence})
    return messages, token


# A followed log may stay silent for long; a dropped connection resumes after the
# last line sent, but a service that keeps failing at once ends the stream.
MAX_QUICK_RECONNECTS = 3
RECONNECT_BACKOFF = 0.2  # seconds, times the failures in a row


def _follow(request: Request, read: logs_pb2.ReadLogsRequest) -> AsyncIterator[str]:
    """NDJSON lines as the logs service streams them, until the log closes or the client leaves."""
    clients = gateway(request).clients
    token = principal_of(request).token

    async def lines() -> AsyncIterator[str]:
        # The body is sent after the route returned: carry the user's token ourselves.
        with acting_as(token):
            after, failures = read.after_sequence, 0
            while True:
                resume = logs_pb2.ReadLogsRequest(key=read.key, after_sequence=after, follow=True)
                call = clients.logs.ReadLogs(resume)
                try:
                    async for chunk in call:
                        failures = 0
                        for record in chunk.records:
                            after = max(after, record.sequence)
                            yield json.dumps(log_message(record)) + "\n"
                        if chunk.end_of_log:
                            return
                    return  # the service ended the stream: the log is complete
                except Exception as exc:  # noqa: BLE001 - the status line is gone; resume or end cleanly
                    failures += 1
                    if failures > MAX_QUICK_RECONNECTS:
                        log.warning("log stream of %s ended early: %s", read.key, leoflow_error_of(exc) or exc)
                        return
                finally:
                    call.cancel()
                await asyncio.sleep(RECONNECT_BACKOFF * failures)

    return lines()


@endpoint(Capability.READ)
async def get_log(request: Request) -> Response:
    dag_id, run_id, task_id = (request.path_params[k] for k in ("dag_id", "dag_run_id", "task_id"))
    try_number = path_int(request, "try_number", minimum=0)
    query = parse_query(request, GetLogQuery)
    ti_key = keys_pb2.TaskInstanceKey(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=query.map_index)
    await _ensure_try_exists(request, ti_key, try_number)
    read = logs_pb2.ReadLogsRequest(
        key=keys_pb2.TaskInstanceTryKey(task_instance=ti_key, try_number=try_number),
        after_sequence=_after_sequence(request, query),
        follow=query.follow,
    )
    # As Airflow: NDJSON only when asked for first; anything else gets JSON.
    wants_ndjson = request.headers.get("accept", "").split(",")[0].split(";")[0].strip() == NDJSON
    if try_number == 0:
        # Try 0 never ran: its log is empty and complete (nothing to follow either).
        messages, token = [], None
    elif query.follow:
        return StreamingResponse(_follow(request, read), media_type=NDJSON)
    else:
        messages, token = await _read_so_far(request, read)
    if wants_ndjson:
        body = "".join(json.dumps(message) + "\n" for message in messages)
        headers = {CONTINUATION_HEADER: token} if token else None
        return Response(body, media_type=NDJSON, headers=headers)
    return json_response(TaskInstancesLogResponse(content=messages, continuation_token=token))


@endpoint(Capability.READ)
async def get_external_log_url(request: Request) -> Response:
    """Airflow answers this only when its log handler links to an external system;
    Leoflow's logs service is the log store, so the answer is Airflow's own for a
    handler without external links (after validating the try number, as Airflow)."""
    path_int(request, "try_number", minimum=1)
    raise HTTPError(400, "Task log handler does not support external logs.")


routes = [
    Route("/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}", get_log, methods=["GET"]),
    Route(
        "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/externalLogUrl/{try_number}",
        get_external_log_url,
        methods=["GET"],
    ),
]
