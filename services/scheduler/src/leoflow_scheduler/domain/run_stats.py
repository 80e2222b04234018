"""Counts of DagRuns by state (Airflow's GET /dagStats)."""

from __future__ import annotations

import asyncpg

from ..repository import dag_runs
from .context import SchedulerContext


async def count_runs_by_state(
    ctx: SchedulerContext, tenant_id: str, dag_ids: list[str]
) -> list[asyncpg.Record]:
    """(dag_id, state, count) of the tenant's runs, only pairs that have runs."""
    async with ctx.pool.acquire() as conn:
        return await dag_runs.count_by_state(conn=conn, tenant_id=tenant_id, dag_ids=dag_ids)
