"""Backfills (Airflow 3's backfill API, models/backfill.py).

Creating a backfill walks the DAG's timetable over [from_date, to_date] (catchup
on, the DAG's own start/end dates ignored, only dates whose interval has ended)
and, per date, in order (reversed with run_backwards):
- no run yet: a queued run of type "backfill" (run_id "backfill__<run_after>",
  triggered_by "backfill", the backfill's conf) is created;
- a run exists: it is left alone if it is still queued or running ("in
  flight"), or if the reprocess behaviour does not cover it ("none": any
  finished run; "failed": a successful run) ("already exists"); otherwise it is
  cleared back to queued and becomes one of the backfill's runs.
Each date is recorded in backfill_dag_runs with its run or its reason. The
backfill's runs start in its order, at most max_active_runs at a time, not while
it is paused; the backfill completes when none of its runs is queued or running.
One DAG has at most one active backfill.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from leoflow_common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from leoflow_common.states import DagRunState, DagRunType

from ..repository import audit_log, backfills, dag_runs, dags
from ..state_machine import run_rules
from ..timetables import DagRunInfo, NullTimetable, iter_dagrun_infos_between, timetable_for
from .clearing import clear_in_run
from .context import SchedulerContext
from .params import resolve_params
from .run_factory import NewRun, create_run
from .run_transitions import transition_run
from .specs import LoadedVersion
from .uow import WAKE_RUNS, UnitOfWork, utcnow

REPROCESS_BEHAVIORS = ("none", "failed", "completed")
IN_FLIGHT = "in flight"
ALREADY_EXISTS = "already exists"


def backfill_not_found(backfill_id: int) -> NotFound:
    return NotFound(f"Could not find backfill with id {backfill_id}")


def backfill_run_id(run_after: datetime) -> str:
    """Airflow's run id for a backfill run: "backfill__" + run_after in ISO 8601."""
    return f"{DagRunType.BACKFILL.value}__{run_after.isoformat()}"


def no_create_reason(run_state: str, reprocess_behavior: str) -> str | None:
    """Why an existing run is not reprocessed (Airflow's _get_dag_run_no_create_reason)."""
    if run_state not in (DagRunState.SUCCESS, DagRunState.FAILED):
        return IN_FLIGHT
    if reprocess_behavior == "none":
        return ALREADY_EXISTS
    if reprocess_behavior == "failed" and run_state != DagRunState.FAILED:
        return ALREADY_EXISTS
    return None


@dataclass
class BackfillRequest:
    """CreateBackfillRequest, parsed."""

    dag_id: str
    from_date: datetime
    to_date: datetime
    run_backwards: bool = False
    dag_run_conf: dict[str, Any] | None = None
    reprocess_behavior: str = "none"
    max_active_runs: int = 10


def _check_request(req: BackfillRequest) -> None:
    if req.reprocess_behavior not in REPROCESS_BEHAVIORS:
        raise InvalidArgument(
            f"reprocess_behavior must be one of {', '.join(REPROCESS_BEHAVIORS)}", field="reprocess_behavior"
        )
    if req.max_active_runs < 1:
        raise InvalidArgument("max_active_runs must be at least 1", field="max_active_runs")
    if req.to_date < req.from_date:
        raise InvalidArgument("to_date is before from_date", field="to_date")


async def _dag_version(ctx: SchedulerContext, conn, tenant_id: str, dag_id: str) -> LoadedVersion:
    dag = await dags.get_dag(conn=conn, tenant_id=tenant_id, dag_id=dag_id)
    if dag is None or dag["is_stale"] or dag["latest_version_id"] is None:
        raise NotFound(f"Could not find dag {dag_id}")
    return await ctx.specs.get(conn, dag["latest_version_id"])


def _infos(version: LoadedVersion, req: BackfillRequest, now: datetime) -> list[DagRunInfo]:
    """The backfill's dates (Airflow's _validate_backfill_params and _get_info_list)."""
    timetable = timetable_for(version.spec)
    if isinstance(timetable, NullTimetable):
        raise InvalidArgument(f"{req.dag_id} has no schedule", field="dag_id")
    if req.from_date >= now and req.to_date >= now:
        raise InvalidArgument("Backfill cannot be executed for future dates.", field="from_date")
    if req.dag_run_conf is not None:
        resolve_params(version.spec, req.dag_run_conf)
    infos = [
        info
        for info in iter_dagrun_infos_between(timetable, req.from_date, req.to_date, now=now)
        if info.data_interval.end < now
    ]
    return list(reversed(infos)) if req.run_backwards else infos


async def dry_run(ctx: SchedulerContext, tenant_id: str, req: BackfillRequest) -> list[datetime]:
    """The logical dates a backfill would run (create or reprocess), in order."""
    _check_request(req)
    now = utcnow()
    async with ctx.pool.acquire() as conn:
        version = await _dag_version(ctx, conn, tenant_id, req.dag_id)
        dates = []
        for info in _infos(version, req, now):
            existing = await dag_runs.get_by_logical_date(
                conn=conn, tenant_id=tenant_id, dag_id=req.dag_id, logical_date=info.logical_date
            )
            if existing is None or no_create_reason(existing["state"], req.reprocess_behavior) is None:
                dates.append(info.logical_date)
    return dates


async def create_backfill(
    ctx: SchedulerContext, tenant_id: str, req: BackfillRequest, actor: str | None
) -> asyncpg.Record:
    """Create the backfill and its runs (see the module docstring)."""
    _check_request(req)
    now = utcnow()
    async with ctx.transaction() as uow:
        conn = uow.conn
        version = await _dag_version(ctx, conn, tenant_id, req.dag_id)
        if await backfills.active_for_dag(conn=conn, tenant_id=tenant_id, dag_id=req.dag_id) is not None:
            raise AlreadyExists(f"There is already a running backfill for dag {req.dag_id}")
        infos = _infos(version, req, now)
        if not infos:
            raise InvalidArgument(f"No runs to create for Dag {req.dag_id}", field="from_date")
        backfill_id = await backfills.insert(
            conn=conn, tenant_id=tenant_id,
            values={
                "dag_id": req.dag_id, "from_date": req.from_date, "to_date": req.to_date,
                "dag_run_conf": req.dag_run_conf or {}, "reprocess_behavior": req.reprocess_behavior,
                "max_active_runs": req.max_active_runs, "run_backwards": req.run_backwards,
                "triggering_user_name": actor,
            },
        )  # fmt: skip
        if backfill_id is None:  # a concurrent request won the race
            raise AlreadyExists(f"There is already a running backfill for dag {req.dag_id}")
        for ordinal, info in enumerate(infos, start=1):
            await _backfill_date(ctx, uow, tenant_id, version, req, backfill_id, ordinal, info, actor)
        await audit_log.write_event(
            conn=conn, tenant_id=tenant_id, event="create_backfill", owner=actor, dag_id=req.dag_id,
            extra={"backfill_id": backfill_id, "runs": len(infos), "reprocess_behavior": req.reprocess_behavior},
        )  # fmt: skip
        return await backfills.get(conn=conn, tenant_id=tenant_id, backfill_id=backfill_id)


async def _backfill_date(
    ctx, uow: UnitOfWork, tenant_id, version, req: BackfillRequest, backfill_id, ordinal, info, actor
) -> None:
    conn = uow.conn
    record = dict(conn=conn, tenant_id=tenant_id, backfill_id=backfill_id, logical_date=info.logical_date,
                  sort_ordinal=ordinal)  # fmt: skip
    existing = await dag_runs.get_by_logical_date(
        conn=conn, tenant_id=tenant_id, dag_id=req.dag_id, logical_date=info.logical_date
    )
    if existing is not None:
        reason = no_create_reason(existing["state"], req.reprocess_behavior)
        locked = None if reason else await dag_runs.lock_run(conn=conn, run_pk=existing["id"], skip_locked=True)
        if reason is None and locked is not None and locked["state"] == existing["state"]:
            run_version = await ctx.specs.get(conn, locked["dag_version_id"])
            await clear_in_run(uow, run_version, locked, None, reset_run=True)
            await dag_runs.adopt_into_backfill(
                conn=conn, run_pk=locked["id"], backfill_id=backfill_id, conf=req.dag_run_conf
            )
            await backfills.add_dag_run(dag_run_id=locked["id"], **record)
            return
        await backfills.add_dag_run(dag_run_id=None, exception_reason=reason or IN_FLIGHT, **record)
        return
    new = NewRun(
        run_id=backfill_run_id(info.run_after), run_type=DagRunType.BACKFILL.value, run_after=info.run_after,
        logical_date=info.logical_date, data_interval_start=info.data_interval.start,
        data_interval_end=info.data_interval.end, conf=req.dag_run_conf or {}, triggered_by="backfill",
        triggering_user_name=actor, backfill_id=backfill_id,
    )  # fmt: skip
    run_pk = await create_run(uow, tenant_id, req.dag_id, version, new)
    if run_pk is None:
        await backfills.add_dag_run(dag_run_id=None, exception_reason=IN_FLIGHT, **record)
    else:
        await backfills.add_dag_run(dag_run_id=run_pk, **record)


async def get_backfill(ctx: SchedulerContext, tenant_id: str, backfill_id: int) -> asyncpg.Record:
    async with ctx.pool.acquire() as conn:
        row = await backfills.get(conn=conn, tenant_id=tenant_id, backfill_id=backfill_id)
    if row is None:
        raise NotFound("Backfill not found")
    return row


async def list_backfills(
    ctx: SchedulerContext, tenant_id: str, *, dag_id: str | None, active: bool | None,
    order_by: list[str], limit: int, offset: int,
) -> tuple[list[asyncpg.Record], int]:  # fmt: skip
    async with ctx.pool.acquire() as conn:
        try:
            return await backfills.list_backfills(
                conn=conn, tenant_id=tenant_id, dag_id=dag_id, active=active, order_by=order_by,
                limit=limit, offset=offset,
            )  # fmt: skip
        except KeyError as exc:
            raise InvalidArgument(
                f"Ordering with '{exc.args[0]}' is disallowed or the attribute does not exist on the model",
                field="order_by",
            ) from exc


async def _locked_active(uow: UnitOfWork, tenant_id: str, backfill_id: int):
    row = await backfills.lock(conn=uow.conn, tenant_id=tenant_id, backfill_id=backfill_id)
    if row is None:
        raise backfill_not_found(backfill_id)
    if row["completed_at"] is not None:
        raise FailedPrecondition("Backfill is already completed.")
    return row


async def set_paused(
    ctx: SchedulerContext, tenant_id: str, backfill_id: int, is_paused: bool, actor: str | None
) -> asyncpg.Record:
    """Pause (no new run of it starts) or unpause a backfill."""
    async with ctx.transaction() as uow:
        row = await _locked_active(uow, tenant_id, backfill_id)
        if row["is_paused"] != is_paused:
            await backfills.set_paused(conn=uow.conn, backfill_id=backfill_id, is_paused=is_paused)
            await audit_log.write_event(
                conn=uow.conn, tenant_id=tenant_id, event="pause_backfill" if is_paused else "unpause_backfill",
                owner=actor, dag_id=row["dag_id"], extra={"backfill_id": backfill_id},
            )  # fmt: skip
        if not is_paused:
            uow.wake(WAKE_RUNS)
        return await backfills.get(conn=uow.conn, tenant_id=tenant_id, backfill_id=backfill_id)


async def cancel(ctx: SchedulerContext, tenant_id: str, backfill_id: int, actor: str | None) -> asyncpg.Record:
    """Pause the backfill, fail its runs that have not started, and complete it
    (Airflow's cancel_backfill; running runs finish on their own)."""
    async with ctx.transaction() as uow:
        row = await _locked_active(uow, tenant_id, backfill_id)
        conn = uow.conn
        await backfills.set_paused(conn=conn, backfill_id=backfill_id, is_paused=True)
        for run_pk in await backfills.queued_run_ids(conn=conn, backfill_id=backfill_id):
            run_row = await dag_runs.lock_run(conn=conn, run_pk=run_pk)
            if run_row is not None and run_row["state"] == DagRunState.QUEUED:
                await transition_run(uow, run_row, run_rules.MarkRunFailed)
        await backfills.mark_completed(conn=conn, backfill_id=backfill_id, when=utcnow())
        await audit_log.write_event(
            conn=conn, tenant_id=tenant_id, event="cancel_backfill", owner=actor, dag_id=row["dag_id"],
            extra={"backfill_id": backfill_id},
        )  # fmt: skip
        return await backfills.get(conn=conn, tenant_id=tenant_id, backfill_id=backfill_id)


async def complete_finished_backfills(ctx: SchedulerContext) -> int:
    """Mark complete the backfills none of whose runs is queued or running."""
    async with ctx.transaction() as uow:
        rows = await backfills.completable(conn=uow.conn)
        now = utcnow()
        for row in rows:
            await backfills.mark_completed(conn=uow.conn, backfill_id=row["id"], when=now)
    return len(rows)
