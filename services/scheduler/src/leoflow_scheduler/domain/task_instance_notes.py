"""A user's note on a task instance, set on its own (Airflow's PATCH of a task
instance with only `note`): no state changes, one audit record."""

from __future__ import annotations

import asyncpg

from ..repository import audit_log, task_instances
from .context import SchedulerContext
from .task_instances import ti_not_found


async def set_note(
    ctx: SchedulerContext,
    tenant_id: str,
    key: tuple[str, str, str, int],
    note: str | None,
    actor: str | None,
    *,
    dry_run: bool = False,
) -> list[asyncpg.Record]:
    """Set (None: clear) the note of one task instance; returns it (as it would be, dry_run)."""
    dag_id, run_id, task_id, map_index = key
    async with ctx.transaction() as uow:
        conn = uow.conn
        ti = await task_instances.get_detailed(
            conn=conn,
            tenant_id=tenant_id,
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            map_index=map_index,
        )
        if ti is None:
            raise ti_not_found(dag_id, run_id, task_id, map_index)
        if not dry_run:
            await task_instances.set_note(conn=conn, ti_id=ti["id"], note=note)
            await audit_log.write_event(
                conn=conn,
                tenant_id=tenant_id,
                event="set_task_instance_note",
                owner=actor,
                dag_id=dag_id,
                run_id=run_id,
                task_id=task_id,
                map_index=map_index,
                extra={"note": note},
            )
        return await task_instances.detailed_by_ids(conn=conn, ti_ids=[ti["id"]])
