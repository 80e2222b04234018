"""The home page (Airflow's routes/ui/dashboard.py): GET /ui/dashboard/dag_stats —
active DAGs (not paused, not stale) and the DAGs whose latest run is failed,
running or queued — and GET /ui/dashboard/historical_metrics_data — runs and task
instances per state within a time window (see convert/dashboard.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from leoflow_common.auth import Capability
from leoflow_common.states import DagRunState, TaskInstanceState
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.scheduler.v1 import registry_pb2, runs_pb2, task_instances_pb2
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...convert.common import to_timestamp
from ...convert.dashboard import STATE_COUNT_CAP, WindowCounts, in_window
from ...http.endpoint import endpoint, gateway
from ...http.params import parse_query


def _count_request(**filters) -> registry_pb2.ListDagsRequest:
    # Only the count is needed: one row, and total_entries.
    return registry_pb2.ListDagsRequest(page=keys_pb2.PageRequest(limit=1), only_active=True, **filters)


@endpoint(Capability.READ)
async def dag_stats(request: Request) -> Response:
    registry = gateway(request).clients.registry
    requests = {
        "active_dag_count": _count_request(paused=False),
        "failed_dag_count": _count_request(last_dag_run_state=[DagRunState.FAILED.to_proto()]),
        "running_dag_count": _count_request(last_dag_run_state=[DagRunState.RUNNING.to_proto()]),
        "queued_dag_count": _count_request(last_dag_run_state=[DagRunState.QUEUED.to_proto()]),
    }
    answers = await asyncio.gather(*(registry.ListDags(r) for r in requests.values()))
    return JSONResponse({name: answer.total_entries for name, answer in zip(requests, answers, strict=True)})


class HistoricalMetricsQuery(BaseModel):
    start_date: datetime
    end_date: datetime | None = None


_MICROSECOND = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TI_STATES: tuple[str | None, ...] = (None, *(s.value for s in TaskInstanceState if s is not TaskInstanceState.NONE))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def _window(count, start: datetime, end: datetime | None) -> int:
    """One state's count in the window; `count(**ranges)` asks the service."""
    before_start = {"start_date_lte": start - _MICROSECOND}
    ends_before_now = end is not None and end < datetime.now(UTC)
    if not ends_before_now:
        total, started_before = await asyncio.gather(count(), count(**before_start))
        return in_window(WindowCounts(total, started_before), window_ends_before_now=False)
    after_end = {"end_date_gte": end + _MICROSECOND}
    ended = {"end_date_gte": _EPOCH}
    values = await asyncio.gather(
        count(), count(**before_start), count(**after_end), count(**before_start, **after_end), count(**ended), count(**before_start, **ended)
    )
    return in_window(WindowCounts(*values), window_ends_before_now=True)


def _ranges(message, ranges: dict[str, datetime]):
    for name, value in ranges.items():
        getattr(message, name).CopyFrom(to_timestamp(value))
    return message


@endpoint(Capability.READ)
async def historical_metrics(request: Request) -> Response:
    query = parse_query(request, HistoricalMetricsQuery)
    start, end = _aware(query.start_date), _aware(query.end_date) if query.end_date else None
    clients = gateway(request).clients
    one = keys_pb2.PageRequest(limit=1)

    def run_counter(state: DagRunState):
        async def count(**ranges: datetime) -> int:
            request_ = _ranges(runs_pb2.ListDagRunsRequest(page=one, states=[state.to_proto()]), ranges)
            return (await clients.runs.ListDagRuns(request_)).total_entries

        return count

    def ti_counter(state: str | None):
        async def count(**ranges: datetime) -> int:
            request_ = task_instances_pb2.ListTaskInstancesRequest(page=one)
            if state is None:
                request_.include_no_state = True
            else:
                request_.states.append(TaskInstanceState(state).to_proto())
            return (await clients.task_instances.ListTaskInstances(_ranges(request_, ranges))).total_entries

        return count

    run_counts = await asyncio.gather(*(_window(run_counter(s), start, end) for s in DagRunState))
    ti_counts = await asyncio.gather(*(_window(ti_counter(s), start, end) for s in _TI_STATES))
    return JSONResponse(
        {
            "dag_run_states": {s.value: n for s, n in zip(DagRunState, run_counts, strict=True)},
            "task_instance_states": {(s or "no_status"): n for s, n in zip(_TI_STATES, ti_counts, strict=True)},
            "state_count_limit": STATE_COUNT_CAP,
        }
    )


routes = [
    Route("/dashboard/dag_stats", dag_stats, methods=["GET"]),
    Route("/dashboard/historical_metrics_data", historical_metrics, methods=["GET"]),
]
