"""Pools (Airflow's slot_pool and its REST semantics): create, read with slot
statistics, change, delete, and bulk actions. "default_pool" always exists
(created with the tenant), cannot be deleted, and only its slots and
include_deferred may change. More slots, or fewer deferred tasks counted, wake
the admission loop so held task instances are queued at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
from leoflow_common.errors import AlreadyExists, InvalidArgument, NotFound

from ..repository import audit_log, pools
from ..repository.pools import DEFAULT_POOL, PoolQuery
from .context import SchedulerContext
from .uow import WAKE_SLOTS, UnitOfWork

POOL_NAME_MAX = 256
EDITABLE = ("slots", "description", "include_deferred")


def pool_not_found(name: str) -> NotFound:
    return NotFound(f"The Pool with name: `{name}` was not found")


def _check_values(values: dict[str, Any]) -> None:
    if "name" in values:
        name = values["name"]
        if not name:
            raise InvalidArgument("Pool name must not be empty", field="name")
        if len(name) > POOL_NAME_MAX:
            raise InvalidArgument(f"Pool name is longer than {POOL_NAME_MAX} characters", field="name")
    if "slots" in values and (values["slots"] is None or values["slots"] < -1):
        raise InvalidArgument("slots must be -1 (unlimited) or more", field="slots")


async def _ensure_default(ctx: SchedulerContext, conn, tenant_id: str) -> None:
    await pools.ensure_default(conn=conn, tenant_id=tenant_id, slots=ctx.settings.default_pool_slots)


async def get_pool(ctx: SchedulerContext, tenant_id: str, name: str) -> asyncpg.Record:
    async with ctx.pool.acquire() as conn:
        await _ensure_default(ctx, conn, tenant_id)
        row = await pools.get_with_stats(conn=conn, tenant_id=tenant_id, name=name)
    if row is None:
        raise pool_not_found(name)
    return row


async def list_pools(ctx: SchedulerContext, tenant_id: str, query: PoolQuery) -> tuple[list, int]:
    async with ctx.pool.acquire() as conn:
        await _ensure_default(ctx, conn, tenant_id)
        try:
            return await pools.list_with_stats(conn=conn, tenant_id=tenant_id, query=query)
        except KeyError as exc:
            raise InvalidArgument(
                f"Ordering with '{exc.args[0]}' is disallowed or the attribute does not exist on the model",
                field="order_by",
            ) from exc


async def _create(uow: UnitOfWork, tenant_id: str, values: dict[str, Any]) -> None:
    _check_values(values)
    if not await pools.insert(conn=uow.conn, tenant_id=tenant_id, values=values):
        raise AlreadyExists(f"The Pool with name: `{values['name']}` already exists")
    uow.wake(WAKE_SLOTS)  # task instances may have waited for this pool to exist


async def _update(uow: UnitOfWork, tenant_id: str, name: str, changes: dict[str, Any]) -> None:
    _check_values(changes)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InvalidArgument(f"Invalid fields to update: {sorted(unknown)}", field="update_mask")
    if name == DEFAULT_POOL and set(changes) - {"slots", "include_deferred"}:
        raise InvalidArgument("Only slots and included_deferred can be modified on Default Pool")
    if not await pools.update(conn=uow.conn, tenant_id=tenant_id, name=name, changes=changes):
        raise pool_not_found(name)
    uow.wake(WAKE_SLOTS)


async def _delete(uow: UnitOfWork, tenant_id: str, name: str) -> None:
    if name == DEFAULT_POOL:
        raise InvalidArgument("Default Pool can't be deleted")
    if not await pools.delete(conn=uow.conn, tenant_id=tenant_id, name=name):
        raise pool_not_found(name)


async def create_pool(ctx, tenant_id: str, values: dict[str, Any], actor: str | None) -> asyncpg.Record:
    """Create a pool; AlreadyExists when the name is taken."""
    async with ctx.transaction() as uow:
        await _ensure_default(ctx, uow.conn, tenant_id)
        await _create(uow, tenant_id, values)
        await audit_log.write_event(conn=uow.conn, tenant_id=tenant_id, event="post_pool", owner=actor, extra=values)
        return await pools.get_with_stats(conn=uow.conn, tenant_id=tenant_id, name=values["name"])


async def update_pool(
    ctx, tenant_id: str, name: str, changes: dict[str, Any], actor: str | None
) -> asyncpg.Record:
    """Change some of a pool's slots / description / include_deferred."""
    async with ctx.transaction() as uow:
        await _ensure_default(ctx, uow.conn, tenant_id)
        await _update(uow, tenant_id, name, changes)
        await audit_log.write_event(
            conn=uow.conn, tenant_id=tenant_id, event="patch_pool", owner=actor, extra={"pool": name, **changes}
        )
        return await pools.get_with_stats(conn=uow.conn, tenant_id=tenant_id, name=name)


async def delete_pool(ctx, tenant_id: str, name: str, actor: str | None) -> None:
    async with ctx.transaction() as uow:
        await _delete(uow, tenant_id, name)
        await audit_log.write_event(conn=uow.conn, tenant_id=tenant_id, event="delete_pool", owner=actor, extra={"pool": name})


@dataclass
class BulkAction:
    """One action of a bulk request (Airflow's BulkCreate/Update/DeleteAction)."""

    action: str  # create | update | delete
    entities: list[dict[str, Any]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    action_on_existence: str = "fail"  # create: fail | skip | overwrite
    action_on_non_existence: str = "fail"  # update/delete: fail | skip
    update_mask: list[str] = field(default_factory=list)


@dataclass
class BulkResult:
    success: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


async def bulk(ctx, tenant_id: str, actions: list[BulkAction], actor: str | None) -> list[BulkResult]:
    """Apply the actions in order, one transaction; each action either succeeds
    whole or reports its error (Airflow's BulkPoolService)."""
    results = []
    async with ctx.transaction() as uow:
        await _ensure_default(ctx, uow.conn, tenant_id)
        for action in actions:
            result = BulkResult()
            try:
                async with uow.conn.transaction():  # a savepoint: a failed action changes nothing
                    await _bulk_action(uow, tenant_id, action, result)
            except (AlreadyExists, NotFound, InvalidArgument) as exc:
                result.success.clear()
                result.errors.append({"error": exc.message, "status_code": exc.http_status})
            results.append(result)
        await audit_log.write_event(
            conn=uow.conn, tenant_id=tenant_id, event="bulk_pools", owner=actor,
            extra={"actions": [a.action for a in actions]},
        )  # fmt: skip
    return results


async def _bulk_action(uow: UnitOfWork, tenant_id: str, action: BulkAction, result: BulkResult) -> None:
    conn = uow.conn
    if action.action == "create":
        names = [e["name"] for e in action.entities]
        existing = await pools.existing_names(conn=conn, tenant_id=tenant_id, names=names)
        if existing and action.action_on_existence == "fail":
            raise AlreadyExists(f"The pools with these pool names: {sorted(existing)} already exist.")
        for entity in action.entities:
            if entity["name"] in existing:
                if action.action_on_existence == "skip":
                    continue
                await _update(uow, tenant_id, entity["name"], {k: entity[k] for k in EDITABLE if k in entity})
            else:
                await _create(uow, tenant_id, entity)
            result.success.append(entity["name"])
    elif action.action == "update":
        names = [e["name"] for e in action.entities]
        existing = await pools.existing_names(conn=conn, tenant_id=tenant_id, names=names)
        missing = sorted(set(names) - existing)
        if missing and action.action_on_non_existence == "fail":
            raise NotFound(f"The pools with these pool names: {missing} were not found.")
        for entity in action.entities:
            if entity["name"] not in existing:
                continue
            fields = action.update_mask or [k for k in EDITABLE if k in entity]
            await _update(uow, tenant_id, entity["name"], {k: entity.get(k) for k in fields})
            result.success.append(entity["name"])
    elif action.action == "delete":
        existing = await pools.existing_names(conn=conn, tenant_id=tenant_id, names=action.names)
        missing = sorted(set(action.names) - existing)
        if missing and action.action_on_non_existence == "fail":
            raise NotFound(f"The pools with these pool names: {missing} were not found.")
        for name in action.names:
            if name in existing:
                await _delete(uow, tenant_id, name)
                result.success.append(name)
    else:
        raise InvalidArgument(f"unknown bulk action {action.action!r}", field="actions")
