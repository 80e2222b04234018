"""Users' favorite DAGs (Airflow's DagFavorite): marked per user within a tenant,
read back by ListDags (is_favorite filter) and GetDag (is_favorite)."""

from __future__ import annotations

from leoflow_common.errors import FailedPrecondition, NotFound

from ..domain.context import SchedulerContext
from ..repository import audit_log, dags, favorites


def _dag_not_found(dag_id: str) -> NotFound:
    return NotFound(f"Dag with id '{dag_id}' not found")


async def favorite_dag(ctx: SchedulerContext, tenant_id: str, username: str, dag_id: str) -> None:
    """Mark the DAG. Marking it again changes nothing and is no error (Airflow's
    unique-constraint 409 there is not in its API spec; the UI never relies on it)."""
    async with ctx.transaction() as uow:
        if await dags.get_dag(conn=uow.conn, tenant_id=tenant_id, dag_id=dag_id) is None:
            raise _dag_not_found(dag_id)
        if not await favorites.add(conn=uow.conn, tenant_id=tenant_id, username=username, dag_id=dag_id):
            return
        await audit_log.write_event(
            conn=uow.conn, tenant_id=tenant_id, event="favorite_dag", owner=username, dag_id=dag_id, extra={"method": "POST"}
        )


async def unfavorite_dag(ctx: SchedulerContext, tenant_id: str, username: str, dag_id: str) -> None:
    async with ctx.transaction() as uow:
        if await dags.get_dag(conn=uow.conn, tenant_id=tenant_id, dag_id=dag_id) is None:
            raise _dag_not_found(dag_id)
        if not await favorites.remove(conn=uow.conn, tenant_id=tenant_id, username=username, dag_id=dag_id):
            raise FailedPrecondition("Dag is not marked as favorite")
        await audit_log.write_event(
            conn=uow.conn, tenant_id=tenant_id, event="unfavorite_dag", owner=username, dag_id=dag_id, extra={"method": "POST"}
        )


async def is_favorite(ctx: SchedulerContext, tenant_id: str, username: str | None, dag_id: str) -> bool:
    """Whether `username` marked the DAG (False for a caller that is not a user)."""
    if not username:
        return False
    async with ctx.pool.acquire() as conn:
        return await favorites.is_favorite(conn=conn, tenant_id=tenant_id, username=username, dag_id=dag_id)
