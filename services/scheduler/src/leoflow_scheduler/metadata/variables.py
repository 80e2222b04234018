"""Variables: Airflow's key/value settings for DAGs.

Invariants: a value is stored only encrypted (SecretBox; no key, no write and no
read of values); every read masks the values of sensitive keys (and sensitive
fields inside JSON values); every change writes an audit record whose extra
carries the masked value, never the stored one.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from leoflow_common.errors import AlreadyExists, InvalidArgument, NotFound

from ..domain.context import SchedulerContext
from ..repository import audit_log, tenants, variables
from .bulk import ActionKind, ActionResult, OnConflict, python_set
from .crypto import SecretBox, aad
from .masking import variable_value_for_read

KEY_MAX_LENGTH = 250
UPDATABLE = frozenset({"value", "description", "team_name"})


@dataclass(frozen=True)
class VariableInput:
    """What a create or update writes; `fields` are the ones an update applies."""

    key: str
    value: str
    description: str | None = None
    team_name: str | None = None
    fields: frozenset[str] = frozenset({"value", "description"})


@dataclass(frozen=True)
class VariableView:
    """A variable as readers see it (value masked where sensitive)."""

    key: str
    value: str
    description: str | None
    team_name: str | None
    is_encrypted: bool = True


def not_found(key: str) -> NotFound:
    return NotFound(f"The Variable with key: `{key}` was not found")


def validate(item: VariableInput, field_prefix: str = "variable") -> None:
    if not item.key:
        raise InvalidArgument("key is required", field=f"{field_prefix}.key")
    if len(item.key) > KEY_MAX_LENGTH:
        raise InvalidArgument(f"key must be at most {KEY_MAX_LENGTH} characters", field=f"{field_prefix}.key")
    if "\x00" in item.key or "\x00" in item.value:
        raise InvalidArgument("key and value must not contain NUL characters", field=f"{field_prefix}.key")
    if item.team_name is not None:
        # Airflow's answer while multi_team mode is off (Leoflow has no teams).
        raise InvalidArgument(
            "team_name cannot be set when multi_team mode is disabled. Please contact your administrator.",
            field=f"{field_prefix}.team_name",
        )
    unknown = item.fields - UPDATABLE
    if "key" in item.fields:
        raise InvalidArgument(
            "Update not allowed: the following fields are immutable and cannot be modified: {'key'}",
            field="update_mask",
        )
    if unknown:
        raise InvalidArgument(f"unknown field(s) in update_mask: {', '.join(sorted(unknown))}", field="update_mask")


def _seal(box: SecretBox, tenant_id: str, key: str, value: str) -> str:
    return box.encrypt(value, aad(tenant_id, "variables", key, "val"))


def plain_value(box: SecretBox, tenant_id: str, row: asyncpg.Record) -> str:
    """A stored variable's value, decrypted."""
    return box.decrypt(row["val_enc"], aad(tenant_id, "variables", row["key"], "val"))


def view(box: SecretBox, tenant_id: str, row: asyncpg.Record) -> VariableView:
    value = plain_value(box, tenant_id, row)
    return VariableView(row["key"], variable_value_for_read(row["key"], value), row["description"], row["team_name"])


def _audit_extra(item: VariableInput, method: str) -> dict:
    return {"key": item.key, "val": variable_value_for_read(item.key, item.value), "description": item.description, "method": method}


async def get_variable(ctx: SchedulerContext, box: SecretBox, tenant_id: str, key: str) -> VariableView:
    async with ctx.pool.acquire() as conn:
        row = await variables.get(conn=conn, tenant_id=tenant_id, key=key)
    if row is None:
        raise not_found(key)
    return view(box, tenant_id, row)


async def list_variables(
    ctx: SchedulerContext, box: SecretBox, tenant_id: str, *, key_pattern: str, key_prefix_pattern: str,
    order_by: list[str], limit: int, offset: int,
) -> tuple[list[VariableView], int]:  # fmt: skip
    async with ctx.pool.acquire() as conn:
        try:
            rows, total = await variables.list_page(
                conn=conn, tenant_id=tenant_id, key_pattern=key_pattern, key_prefix_pattern=key_prefix_pattern,
                order_by=order_by, limit=limit, offset=offset,
            )  # fmt: skip
        except KeyError as exc:
            raise bad_order_by(exc) from exc
    return [view(box, tenant_id, r) for r in rows], total


def bad_order_by(exc: KeyError) -> InvalidArgument:
    return InvalidArgument(
        f"Ordering with '{exc.args[0]}' is disallowed or the attribute does not exist on the model", field="order_by"
    )


async def create_variable(
    ctx: SchedulerContext, box: SecretBox, tenant_id: str, item: VariableInput, actor: str | None
) -> VariableView:
    validate(item)
    sealed = _seal(box, tenant_id, item.key, item.value)
    async with ctx.transaction() as uow:
        await tenants.ensure_tenant(conn=uow.conn, tenant_id=tenant_id)
        row = await variables.insert(
            conn=uow.conn, tenant_id=tenant_id, key=item.key, val_enc=sealed, description=item.description, team_name=item.team_name
        )
        if row is None:
            raise AlreadyExists(f"The Variable with key: `{item.key}` already exists")
        await audit_log.write_event(conn=uow.conn, tenant_id=tenant_id, event="post_variable", owner=actor, extra=_audit_extra(item, "POST"))
    return view(box, tenant_id, row)


async def _apply_update(conn, box: SecretBox, tenant_id: str, current: asyncpg.Record, item: VariableInput) -> asyncpg.Record:
    value = item.value if "value" in item.fields else plain_value(box, tenant_id, current)
    return await variables.update(
        conn=conn, tenant_id=tenant_id, key=current["key"], val_enc=_seal(box, tenant_id, current["key"], value),
        description=item.description if "description" in item.fields else current["description"],
        team_name=item.team_name if "team_name" in item.fields else current["team_name"],
    )  # fmt: skip


async def update_variable(
    ctx: SchedulerContext, box: SecretBox, tenant_id: str, key: str, item: VariableInput, actor: str | None
) -> VariableView:
    """Airflow's patch_variable: the body's key must be the path's."""
    if item.key != key:
        raise InvalidArgument("Invalid body, key from request body doesn't match uri parameter", field="variable.key")
    validate(item)
    async with ctx.transaction() as uow:
        current = await variables.get(conn=uow.conn, tenant_id=tenant_id, key=key, for_update=True)
        if current is None:
            raise not_found(key)
        row = await _apply_update(uow.conn, box, tenant_id, current, item)
        await audit_log.write_event(conn=uow.conn, tenant_id=tenant_id, event="patch_variable", owner=actor, extra=_audit_extra(item, "PATCH"))
    return view(box, tenant_id, row)


async def delete_variable(ctx: SchedulerContext, tenant_id: str, key: str, actor: str | None) -> None:
    async with ctx.transaction() as uow:
        if not await variables.delete(conn=uow.conn, tenant_id=tenant_id, key=key):
            raise not_found(key)
        await audit_log.write_event(
            conn=uow.conn, tenant_id=tenant_id, event="delete_variable", owner=actor, extra={"variable_key": key, "method": "DELETE"}
        )


@dataclass(frozen=True)
class BulkAction:
    kind: ActionKind
    items: list[VariableInput]
    on_conflict: OnConflict


async def bulk_variables(
    ctx: SchedulerContext, box: SecretBox, tenant_id: str, actions: list[BulkAction], actor: str | None
) -> list[ActionResult]:
    """Airflow's bulk_variables (see metadata/bulk.py)."""
    for index, action in enumerate(actions):
        for item in action.items:
            validate(item, f"actions.{index}.entities")
    if any(a.kind is not ActionKind.DELETE for a in actions):
        box.ensure_configured()
    results = []
    async with ctx.transaction() as uow:
        await tenants.ensure_tenant(conn=uow.conn, tenant_id=tenant_id)
        for action in actions:
            results.append(await _bulk_action(uow.conn, box, tenant_id, action))
        await audit_log.write_event(
            conn=uow.conn, tenant_id=tenant_id, event="bulk_variables", owner=actor,
            extra={"actions": [
                {"action": r.kind.value, "keys": [i.key for i in a.items], "success": r.success, "errors": [e for e, _ in r.errors]}
                for a, r in zip(actions, results, strict=True)
            ], "method": "PATCH"},
        )  # fmt: skip
    return results


async def _bulk_action(conn, box: SecretBox, tenant_id: str, action: BulkAction) -> ActionResult:
    result = ActionResult(action.kind)
    keys = {i.key for i in action.items}
    existing = await variables.existing_keys(conn=conn, tenant_id=tenant_id, keys=sorted(keys))
    missing = keys - existing
    if action.kind is ActionKind.CREATE:
        if action.on_conflict is OnConflict.FAIL and existing:
            result.errors.append((f"The variables with these keys: {python_set(existing)} already exist.", 409))
            return result
        for item in action.items:
            if item.key in existing and action.on_conflict is OnConflict.SKIP:
                continue
            sealed = _seal(box, tenant_id, item.key, item.value)
            if await variables.insert(conn=conn, tenant_id=tenant_id, key=item.key, val_enc=sealed, description=item.description, team_name=item.team_name) is None:
                await variables.update(conn=conn, tenant_id=tenant_id, key=item.key, val_enc=sealed, description=item.description, team_name=item.team_name)
            result.success.append(item.key)
        return result
    if missing and action.on_conflict is OnConflict.FAIL:
        result.errors.append((f"The variables with these keys: {python_set(missing)} were not found.", 404))
        return result
    for item in action.items:
        if item.key in missing:
            continue
        if action.kind is ActionKind.UPDATE:
            current = await variables.get(conn=conn, tenant_id=tenant_id, key=item.key, for_update=True)
            await _apply_update(conn, box, tenant_id, current, item)
            result.success.append(item.key)
        elif await variables.delete(conn=conn, tenant_id=tenant_id, key=item.key):
            result.success.append(item.key)
    return result
