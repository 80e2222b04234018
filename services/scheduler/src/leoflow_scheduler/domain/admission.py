"""Queueing ready task instances under the concurrency limits (pools,
max_active_tasks per run, max_active_tis_per_dag): the I/O around the pure
`scheduling.concurrency.admit`.

Invariants:
- counts are read while holding the locks that serialize queueing: the run's
  row (max_active_tasks, held by the caller), each limited task's advisory lock
  (max_active_tis_per_dag across runs) and each pool's row (its slots), so two
  transactions never both take the last slot;
- those locks are only ever *tried* (SKIP LOCKED, pg_try_advisory_xact_lock):
  a transaction holding runs never waits for a pool, so no lock cycle can form;
  what could not be locked stays `scheduled` and the admission loop is woken
  to try again after this transaction commits;
- a held task instance waits in `scheduled`; it is queued as soon as a slot
  frees (every end of an execution wakes the admission loop).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from leoflow_common.states import TaskInstanceState as TI

from ..repository import pools
from ..scheduling.concurrency import Budget, Candidate, HoldReason, admit
from ..state_machine import propose_ti_state, task_rules
from . import dispatch
from .specs import LoadedVersion
from .uow import WAKE_SLOTS, UnitOfWork, utcnow

# States that hold a max_active_tis_per_dag slot (Airflow's ACTIVE_STATES).
TASK_ACTIVE_STATES = ["queued", "running", "deferred"]


async def _task_budget(uow: UnitOfWork, run_row, version: LoadedVersion, task_ids: set[str], budget: Budget):
    for task_id in sorted(task_ids):
        limit = version.graph.tasks[task_id].max_active_tis_per_dag
        if limit <= 0:
            continue
        key = f"leoflow:task-concurrency:{run_row['tenant_id']}/{run_row['dag_id']}/{task_id}"
        locked = await uow.conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))", key)
        if not locked:
            budget.contended_tasks.add(task_id)
            continue
        active = await uow.conn.fetchval(
            "SELECT count(*) FROM task_instances WHERE tenant_id = $1 AND dag_id = $2 AND task_id = $3 "
            "AND state = ANY($4::text[])",
            run_row["tenant_id"], run_row["dag_id"], task_id, TASK_ACTIVE_STATES,
        )  # fmt: skip
        budget.task_slots[task_id] = limit - active


async def _pool_budget(uow: UnitOfWork, tenant_id: str, names: set[str], budget: Budget) -> None:
    for name in sorted(names):
        row = await uow.conn.fetchrow(
            "SELECT slots, include_deferred FROM pools WHERE tenant_id = $1 AND name = $2 "
            "FOR UPDATE SKIP LOCKED",
            tenant_id,
            name,
        )
        if row is None:
            exists = await uow.conn.fetchval(
                "SELECT true FROM pools WHERE tenant_id = $1 AND name = $2", tenant_id, name
            )
            if exists:
                budget.contended_pools.add(name)
            continue
        total = math.inf if row["slots"] == -1 else row["slots"]
        occupied = await pools.occupied_slots(
            conn=uow.conn, tenant_id=tenant_id, name=name, include_deferred=row["include_deferred"]
        )
        budget.pool_total[name] = total
        budget.pool_open[name] = total - occupied


async def queue_ready(
    uow: UnitOfWork,
    *,
    run_row,
    version: LoadedVersion,
    ready_rows: Iterable,
    run_active: int,
    max_active_tasks: int,
) -> dict:
    """Queue what the limits allow, hold the rest in `scheduled`.
    Returns {task instance id: new state} for the rows that changed."""
    rows = {row["id"]: row for row in ready_rows}
    if not rows:
        return {}
    candidates = [
        Candidate(
            key=row["id"], task_id=row["task_id"], pool=row["pool"], pool_slots=row["pool_slots"],
            priority_weight=row["priority_weight"], map_index=row["map_index"],
        )
        for row in rows.values()
    ]  # fmt: skip
    budget = Budget(run_slots=max_active_tasks - run_active)
    await _task_budget(uow, run_row, version, {c.task_id for c in candidates}, budget)
    await _pool_budget(uow, run_row["tenant_id"], {c.pool for c in candidates}, budget)
    admitted, held = admit(candidates, budget)
    now = utcnow()
    changed: dict = {}
    for candidate in admitted:
        row = rows[candidate.key]
        extra = {} if row["scheduled_at"] else {"scheduled_at": now}
        if await dispatch.queue_try(
            uow, rule=task_rules.QueueReadyTask, run_row=run_row, ti_row=row, version=version,
            new_try=True, **extra,
        ):  # fmt: skip
            changed[row["id"]] = TI.QUEUED
    for key in held:
        row = rows[key]
        if TI.from_db(row["state"]) == TI.NONE and await propose_ti_state(
            uow.conn, row["id"], task_rules.ScheduleReadyTask, TI.NONE, scheduled_at=now
        ):
            changed[row["id"]] = TI.SCHEDULED
    if HoldReason.CONTENDED in held.values():
        uow.wake(WAKE_SLOTS)
    return changed
