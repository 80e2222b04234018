"""task_maps: how many items an upstream's output holds, per XCom key (Airflow's
TaskMap), reported by the agent when a downstream task maps over it."""

from __future__ import annotations

import asyncpg


async def record(
    *,
    conn: asyncpg.Connection,
    tenant_id: str,
    run_pk: int,
    task_id: str,
    map_index: int,
    lengths: dict[str, int],
) -> None:
    """Store (or replace, for a later try) the reported lengths."""
    await conn.executemany(
        "INSERT INTO task_maps (tenant_id, dag_run_id, task_id, map_index, xcom_key, length) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (dag_run_id, task_id, map_index, xcom_key) "
        "DO UPDATE SET length = EXCLUDED.length",
        [(tenant_id, run_pk, task_id, map_index, key, length) for key, length in lengths.items()],
    )


async def for_run(*, conn: asyncpg.Connection, run_pk: int) -> dict[tuple[str, str], int]:
    """(task_id, key) -> length of the run's unmapped upstreams (map_index -1)."""
    rows = await conn.fetch(
        "SELECT task_id, xcom_key, length FROM task_maps WHERE dag_run_id = $1 AND map_index < 0",
        run_pk,
    )
    return {(row["task_id"], row["xcom_key"]): row["length"] for row in rows}


async def forget(*, conn: asyncpg.Connection, run_pk: int, task_ids: list[str]) -> None:
    """Drop the lengths of cleared task instances (they will report again)."""
    await conn.execute(
        "DELETE FROM task_maps WHERE dag_run_id = $1 AND task_id = ANY($2::text[])", run_pk, task_ids
    )
