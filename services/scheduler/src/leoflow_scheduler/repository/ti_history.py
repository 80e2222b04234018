"""task_instance_history: one row per finished try of a task instance (the
tries endpoint reads it). Written when a try ends, copied from the TI row."""

from __future__ import annotations

import uuid

import asyncpg
from leoflow_common.states import TaskInstanceState

_COPIED = (
    "tenant_id, dag_run_id, dag_id, run_id, task_id, map_index, try_number, max_tries, state, start_date, "
    "end_date, queued_at, scheduled_at, hostname, pid, exit_code, error, failure_kind, operator, "
    "task_display_name, pool, pool_slots, queue, priority_weight, dispatch_attempt, execution_name, "
    "dag_version_id, note, rendered_fields, rendered_map_index"
)


async def record_try(
    *, conn: asyncpg.Connection, ti_id: uuid.UUID, state: TaskInstanceState | None = None
) -> None:
    """Copy the task instance's current try into the history (replacing an earlier
    copy of the same try, so the history holds how each try last ended).

    `state` overrides the copied state, for a try that ended while the task
    instance itself already moved on (a try cleared while it ran)."""
    columns = _COPIED.split(", ")
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != "try_number")
    selected = ", ".join("coalesce($2, state)" if c == "state" else c for c in columns)
    await conn.execute(
        f"""
        INSERT INTO task_instance_history (task_instance_id, {_COPIED})
        SELECT id, {selected} FROM task_instances WHERE id = $1 AND try_number > 0
        ON CONFLICT (task_instance_id, try_number) DO UPDATE SET {updates}, recorded_at = now()
        """,
        ti_id,
        state.to_db() if state is not None else None,
    )


async def tries(*, conn: asyncpg.Connection, ti_id: uuid.UUID) -> list[asyncpg.Record]:
    """Recorded tries of a task instance, oldest first, with their run's dates and version."""
    return await conn.fetch(
        """
        SELECT h.*, r.logical_date AS run_logical_date, r.run_after AS run_run_after,
               v.version_number AS dag_version_number, v.spec_hash AS dag_version_hash,
               v.created_at AS dag_version_created_at, v.bundle_name AS dag_version_bundle_name,
               v.bundle_version AS dag_version_bundle_version
        FROM task_instance_history h
        JOIN dag_runs r ON r.id = h.dag_run_id
        LEFT JOIN dag_versions v ON v.id = h.dag_version_id
        WHERE h.task_instance_id = $1 ORDER BY h.try_number
        """,
        ti_id,
    )
