"""DagRun state changes with their side effects: the dates Airflow sets
(DagRun.set_state's table), the DagRunStateChanged event, the DAG's copy of its
latest run, and waking the run starter when a slot frees up."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leoflow_common.states import RUN_FINISHED, DagRunState

from ..metrics import DAG_RUN_TRANSITIONS
from ..repository import dags
from ..state_machine import propose_run_state
from ..state_machine.rules import RunRule
from . import events
from .uow import WAKE_BACKFILLS, WAKE_RUNS, WAKE_SCHEDULE, UnitOfWork, utcnow


def run_state_dates(
    old: DagRunState, new: DagRunState, start_date: datetime | None, now: datetime
) -> dict[str, Any]:
    """The date columns Airflow changes when a run goes from `old` to `new`."""
    if new == DagRunState.QUEUED:
        return {"queued_at": now, "start_date": None, "end_date": None}
    if new == DagRunState.RUNNING:
        return {"start_date": now if old in RUN_FINISHED else (start_date or now), "end_date": None}
    if old not in RUN_FINISHED:
        return {"end_date": now}
    return {}


async def transition_run(uow: UnitOfWork, run_row, rule: RunRule, **changes: Any) -> bool:
    """Apply `rule` to the run (compare-and-set on the state in `run_row`); on
    success publish DagRunStateChanged. Returns whether the run moved."""
    old = DagRunState(run_row["state"])
    dates = run_state_dates(old, rule.to_state, run_row["start_date"], utcnow())
    moved = await propose_run_state(uow.conn, run_row["id"], rule, old, **{**dates, **changes})
    if moved:
        DAG_RUN_TRANSITIONS.labels(rule.to_state.value).inc()
        await events.dag_run_state_changed(uow, run_row, rule.to_state)
        await dags.sync_last_run(
            conn=uow.conn, tenant_id=run_row["tenant_id"], dag_id=run_row["dag_id"]
        )
        # A finished run frees a max_active_runs slot; a queued one waits for one.
        uow.wake(WAKE_RUNS)
        if rule.to_state in RUN_FINISHED:
            # The DAG may create its next scheduled run now; its backfill may be done.
            uow.wake(WAKE_SCHEDULE)
            uow.wake(WAKE_BACKFILLS)
    return moved
