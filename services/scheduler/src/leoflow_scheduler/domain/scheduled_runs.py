"""Creating the runs the timetable asks for (Airflow's _create_dag_runs): for
each unpaused DAG whose next run is due and that has fewer queued or running
non-backfill runs than max_active_runs, a queued run of type "scheduled"
(run_id "scheduled__<run_after ISO 8601>", triggered_by "timetable") with the
stored logical date and data interval, then the DAG's next run is computed
from it. A run that already exists for that logical date is not created twice;
the next run is computed from it instead."""

from __future__ import annotations

import logging
from datetime import datetime

from leoflow_common.errors import InvalidArgument
from leoflow_common.states import DagRunType

from ..repository import audit_log, dag_runs, next_dagruns
from ..timetables import DataInterval
from .context import SchedulerContext
from .next_run import next_info, run_interval, store_next
from .params import resolve_params
from .run_factory import NewRun, create_run
from .uow import utcnow

log = logging.getLogger(__name__)


def scheduled_run_id(run_after: datetime) -> str:
    """Airflow's run id for a scheduled run: "scheduled__" + run_after in ISO 8601."""
    return f"{DagRunType.SCHEDULED.value}__{run_after.isoformat()}"


async def create_due_runs(ctx: SchedulerContext, *, batch: int = 100) -> int:
    """Create one run for each DAG whose next run is due; returns how many."""
    async with ctx.pool.acquire() as conn:
        due = await next_dagruns.due(conn=conn, limit=batch)
    created = 0
    for row in due:
        created += await _create_next(ctx, row["tenant_id"], row["dag_id"])
    return created


async def _create_next(ctx: SchedulerContext, tenant_id: str, dag_id: str) -> int:
    now = utcnow()
    async with ctx.transaction() as uow:
        conn = uow.conn
        dag = await next_dagruns.lock_dag(conn=conn, tenant_id=tenant_id, dag_id=dag_id)
        if (
            dag is None
            or dag["is_paused"]
            or dag["is_stale"]
            or dag["latest_version_id"] is None
            or dag["next_dagrun_run_after"] is None
            or dag["next_dagrun_run_after"] > now
        ):
            return 0
        active = await dag_runs.count_active_non_backfill(conn=conn, tenant_id=tenant_id, dag_id=dag_id)
        if active >= dag["max_active_runs"]:
            return 0  # woken again when one of its runs ends
        version = await ctx.specs.get(conn, dag["latest_version_id"])
        logical_date = dag["next_dagrun_logical_date"]
        existing = await dag_runs.get_by_logical_date(
            conn=conn, tenant_id=tenant_id, dag_id=dag_id, logical_date=logical_date
        )
        if existing is not None:
            log.warning("a run of %s for %s exists already; not creating it again", dag_id, logical_date)
            await store_next(conn, tenant_id, dag_id, next_info(version.spec, run_interval(existing), now))
            return 0
        run_after = dag["next_dagrun_run_after"]
        new = NewRun(
            run_id=scheduled_run_id(run_after), run_type=DagRunType.SCHEDULED.value, run_after=run_after,
            logical_date=logical_date, data_interval_start=dag["next_dagrun_data_interval_start"],
            data_interval_end=dag["next_dagrun_data_interval_end"], triggered_by="timetable",
        )  # fmt: skip
        try:
            resolve_params(version.spec, {})
        except InvalidArgument as exc:
            # Airflow logs "Failed creating DagRun" and tries again every loop; we
            # record it once and move on to the next tick rather than spin.
            log.error("cannot create the scheduled run %s of %s: %s", new.run_id, dag_id, exc.message)
            await audit_log.write_event(
                conn=conn, tenant_id=tenant_id, event="scheduled_run_not_created", owner="scheduler",
                dag_id=dag_id, run_id=new.run_id, logical_date=logical_date, extra={"error": exc.message},
            )  # fmt: skip
            created = 0
        else:
            created = int(await create_run(uow, tenant_id, dag_id, version, new) is not None)
        interval = DataInterval(
            new.data_interval_start or logical_date, new.data_interval_end or logical_date
        )
        await store_next(conn, tenant_id, dag_id, next_info(version.spec, interval, now))
    return created


async def next_due(ctx: SchedulerContext) -> datetime | None:
    """When the next scheduled run anywhere becomes due."""
    async with ctx.pool.acquire() as conn:
        return await next_dagruns.next_due(conn=conn)
