"""Creating a DagRun with its task instances, whatever made it (a trigger, the
timetable, a backfill). The run is queued and pinned to one DAG version; each
task gets one task instance in state none, except a mapped task whose inputs
are all written in the DAG, which is expanded at once into map indexes 0..n-1
(Airflow's DagRun._create_tasks); any other mapped task gets a placeholder at
map_index -1 that is expanded when its upstreams have reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from leoflow_common.telemetry import inject_trace_context

from ..repository import dag_runs, dags, task_instances
from ..scheduling.mapping import MappingError, is_mapped, literal_count
from .specs import LoadedVersion
from .uow import WAKE_RUNS, UnitOfWork, utcnow


@dataclass
class NewRun:
    """The columns of a run to create."""

    run_id: str
    run_type: str
    run_after: datetime
    logical_date: datetime | None = None
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    conf: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
    triggered_by: str = "rest_api"
    triggering_user_name: str | None = None
    backfill_id: int | None = None


def task_rows(version: LoadedVersion) -> list[dict[str, Any]]:
    """One task-instance row per task (per map index for literal mappings)."""
    rows = []
    for task in version.spec.tasks:
        base = {
            "task_id": task.task_id,
            "max_tries": task.retries,
            "operator": task.operator_name,
            "display_name": task.display_name or task.task_id,
            "pool": task.pool or "default_pool",
            "pool_slots": task.pool_slots or 1,
            "queue": task.queue or "default",
            "priority_weight": task.priority_weight or 1,
        }
        count = None
        if is_mapped(task):
            try:
                count = literal_count(task)
            except MappingError:
                count = None  # refused at registration; never expanded
        if count:
            rows.extend({**base, "map_index": i} for i in range(count))
        else:
            rows.append(base)
    return rows


async def create_run(
    uow: UnitOfWork, tenant_id: str, dag_id: str, version: LoadedVersion, new: NewRun
) -> int | None:
    """Insert the queued run and its task instances; None if its run_id or
    logical date is taken. Wakes the run starter."""
    conn: asyncpg.Connection = uow.conn
    run_pk = await dag_runs.insert_run(
        conn=conn, tenant_id=tenant_id, dag_id=dag_id, run_id=new.run_id, run_type=new.run_type,
        logical_date=new.logical_date, data_interval_start=new.data_interval_start,
        data_interval_end=new.data_interval_end, run_after=new.run_after, queued_at=utcnow(), conf=new.conf,
        note=new.note, triggered_by=new.triggered_by, triggering_user_name=new.triggering_user_name,
        dag_version_id=version.id, trace_context=inject_trace_context(), backfill_id=new.backfill_id,
    )  # fmt: skip
    if run_pk is None:
        return None
    await task_instances.insert_for_run(
        conn=conn, tenant_id=tenant_id, run_pk=run_pk, dag_id=dag_id, run_id=new.run_id,
        dag_version_id=version.id, tasks=task_rows(version),
    )  # fmt: skip
    await dags.sync_last_run(conn=conn, tenant_id=tenant_id, dag_id=dag_id)
    uow.wake(WAKE_RUNS)
    return run_pk
