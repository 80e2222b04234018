"""The one door to task-instance and DagRun state.

`propose_ti_state` / `propose_run_state` apply a named rule as a compare-and-set:
UPDATE ... SET state = rule.to_state WHERE id = $id AND state IS NOT DISTINCT
FROM $expected. They return True when the row changed, False when somebody else
changed the state first (the caller re-reads or gives up; it never retries
blindly). A rule that does not allow `expected` is a programming error
(ValueError), not a conflict. Other columns may change in the same statement,
from a fixed allow-list; `state` itself can be written nowhere else.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from leoflow_common.states import DagRunState, TaskInstanceState

from ..metrics import STATE_CONFLICTS, TASK_TRANSITIONS
from .rules import RunRule, TaskRule

log = logging.getLogger(__name__)

TI_WRITABLE_COLUMNS = frozenset(
    {
        "try_number", "max_tries", "start_date", "end_date", "queued_at", "scheduled_at", "next_retry_at",
        "hostname", "pid", "exit_code", "error", "failure_kind", "dispatch_attempt", "execution_name",
        "dag_version_id", "note", "rendered_fields", "rendered_map_index",
    }
)  # fmt: skip
RUN_WRITABLE_COLUMNS = frozenset(
    {
        "queued_at",
        "start_date",
        "end_date",
        "last_scheduling_decision",
        "clear_number",
        "note",
        "dag_version_id",
    }
)


def _assignments(
    changes: dict[str, Any], allowed: frozenset[str], first_param: int
) -> tuple[str, list[Any]]:
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"columns not writable through propose: {sorted(unknown)}")
    parts, values = [], []
    for offset, (column, value) in enumerate(changes.items()):
        parts.append(f"{column} = ${first_param + offset}")
        values.append(value)
    return "".join(f", {p}" for p in parts), values


async def propose_ti_state(
    conn: asyncpg.Connection,
    ti_id: Any,
    rule: TaskRule,
    expected: TaskInstanceState,
    **changes: Any,
) -> bool:
    """Move task instance `ti_id` from `expected` to `rule.to_state` if it is still
    in `expected`; True if it moved."""
    if not rule.allows(expected):
        raise ValueError(f"{rule} does not apply to a task instance in state {expected}")
    extra, values = _assignments(changes, TI_WRITABLE_COLUMNS, 4)
    row = await conn.fetchrow(
        f"UPDATE task_instances SET state = $2, updated_at = now(){extra} "
        "WHERE id = $1 AND state IS NOT DISTINCT FROM $3 RETURNING id",
        ti_id,
        rule.to_state.to_db(),
        expected.to_db(),
        *values,
    )
    if row is None:
        log.info("%s lost a race on task instance %s (expected %s)", rule, ti_id, expected)
        STATE_CONFLICTS.labels(rule.name).inc()
    else:
        TASK_TRANSITIONS.labels(rule.name).inc()
    return row is not None


async def propose_run_state(
    conn: asyncpg.Connection,
    run_pk: int,
    rule: RunRule,
    expected: DagRunState,
    **changes: Any,
) -> bool:
    """Move DagRun `run_pk` from `expected` to `rule.to_state` if it is still in
    `expected`; True if it moved."""
    if not rule.allows(expected):
        raise ValueError(f"{rule} does not apply to a DagRun in state {expected}")
    extra, values = _assignments(changes, RUN_WRITABLE_COLUMNS, 4)
    row = await conn.fetchrow(
        f"UPDATE dag_runs SET state = $2, updated_at = now(){extra} WHERE id = $1 AND state = $3 RETURNING id",
        run_pk,
        rule.to_state.value,
        expected.value,
        *values,
    )
    if row is None:
        log.info("%s lost a race on DagRun %s (expected %s)", rule, run_pk, expected)
        STATE_CONFLICTS.labels(rule.name).inc()
    return row is not None
