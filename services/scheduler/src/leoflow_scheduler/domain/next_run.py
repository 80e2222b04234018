"""A DAG's next scheduled run (Airflow's DagModel.calculate_dagrun_date_fields):
the timetable's next run after the DAG's last automated run (the scheduled or
backfill run with the latest logical date), within start_date/end_date and
catchup, as of now. Stored in the dags table's next_dagrun_* columns."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from leoflow_proto.dag.v1 import dag_pb2

from ..repository import dag_runs, next_dagruns
from ..timetables import DagRunInfo, DataInterval, time_restriction, timetable_for


def run_interval(run_row) -> DataInterval | None:
    """A run's data interval (its logical date when it has none recorded)."""
    if run_row is None or run_row["logical_date"] is None:
        return None
    start = run_row["data_interval_start"] or run_row["logical_date"]
    end = run_row["data_interval_end"] or run_row["logical_date"]
    return DataInterval(start, end)


def next_info(spec: dag_pb2.DagSpec, last: DataInterval | None, now: datetime) -> DagRunInfo | None:
    """The run after `last` (None: the first), or None when there is no more."""
    return timetable_for(spec).next_dagrun_info(
        last_automated_data_interval=last, restriction=time_restriction(spec), now=now
    )


async def store_next(
    conn: asyncpg.Connection, tenant_id: str, dag_id: str, info: DagRunInfo | None
) -> None:
    await next_dagruns.store(
        conn=conn, tenant_id=tenant_id, dag_id=dag_id,
        logical_date=info.logical_date if info else None,
        interval_start=info.data_interval.start if info else None,
        interval_end=info.data_interval.end if info else None,
        run_after=info.run_after if info else None,
    )  # fmt: skip


async def refresh_next_dagrun(
    conn: asyncpg.Connection, tenant_id: str, dag_id: str, spec: dag_pb2.DagSpec, now: datetime
) -> DagRunInfo | None:
    """Recompute and store the DAG's next run from its last automated run."""
    last = await dag_runs.last_automated_run(conn=conn, tenant_id=tenant_id, dag_id=dag_id)
    info = next_info(spec, run_interval(last), now)
    await store_next(conn, tenant_id, dag_id, info)
    return info
