"""Connections: Airflow's credentials for external systems.

Invariants: the password and the extra are stored only encrypted; reads never
decrypt — they answer "***" for a stored password and the extra with its sensitive
fields masked (kept masked beside the ciphertext), so connections can be listed
without the key; an update that sends back "***" (or leaves a field out) keeps the
stored secret; writes that store secrets need the key (503 without it); every
change writes an audit record with the secrets masked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import asyncpg
from leoflow_common.errors import AlreadyExists, InvalidArgument, NotFound

from ..domain.context import SchedulerContext
from ..repository import audit_log, connections, tenants
from .bulk import ActionKind, ActionResult, OnConflict, python_set
from .crypto import SecretBox, aad
from .masking import MASK, mask_extra, merge_masked

ID_MAX_LENGTH = 200
ID_PATTERN = re.compile(r"^[\w.-]+$")
FIELDS = ("conn_type", "description", "host", "login", "schema", "port", "password", "extra", "team_name")
DEFAULT_UPDATE = frozenset(FIELDS) - {"team_name"}


@dataclass(frozen=True)
class ConnectionInput:
    """What a create or update writes; `fields` are the ones an update applies."""

    connection_id: str
    conn_type: str
    description: str | None = None
    host: str | None = None
    login: str | None = None
    schema: str | None = None
    port: int | None = None
    password: str | None = None
    extra: str | None = None
    team_name: str | None = None
    fields: frozenset[str] = DEFAULT_UPDATE


@dataclass(frozen=True)
class ConnectionView:
    """A connection as readers see it: no secret in it."""

    connection_id: str
    conn_type: str
    description: str | None
    host: str | None
    login: str | None
    schema: str | None
    port: int | None
    password: str | None
    extra: str | None
    team_name: str | None


def not_found(connection_id: str) -> NotFound:
    return NotFound(f"The Connection with connection_id: `{connection_id}` was not found")


def normalize_extra(extra: str | None, field: str) -> str | None:
    """Airflow's rule: extra is a JSON object ("" meaning {}); anything else is refused."""
    if extra is None:
        return None
    if extra == "":
        return "{}"
    try:
        data = json.loads(extra)
    except ValueError:
        raise InvalidArgument(
            "The `extra` field must be a valid JSON object (e.g., {'key': 'value'}), but encountered non-JSON in `extra` field",
            field=field,
        ) from None
    if not isinstance(data, dict):
        raise InvalidArgument("The `extra` field must be a valid JSON object (e.g., {'key': 'value'})", field=field)
    return extra


def validate(item: ConnectionInput, prefix: str = "connection") -> ConnectionInput:
    """The input with its extra normalized; InvalidArgument naming the bad field."""
    if not item.connection_id:
        raise InvalidArgument("connection_id is required", field=f"{prefix}.connection_id")
    if len(item.connection_id) > ID_MAX_LENGTH or not ID_PATTERN.match(item.connection_id):
        raise InvalidArgument(
            f"connection_id must be at most {ID_MAX_LENGTH} characters of letters, digits, '_', '.' or '-'",
            field=f"{prefix}.connection_id",
        )
    if item.team_name is not None:
        raise InvalidArgument(
            "team_name cannot be set when multi_team mode is disabled. Please contact your administrator.",
            field=f"{prefix}.team_name",
        )
    for name in ("connection_id", "conn_type", "description", "host", "login", "schema", "password", "extra"):
        value = getattr(item, name)
        if isinstance(value, str) and "\x00" in value:
            raise InvalidArgument(f"{name} must not contain NUL characters", field=f"{prefix}.{name}")
    unknown = item.fields - set(FIELDS)
    if "connection_id" in item.fields:
        unknown.discard("connection_id")  # Airflow ignores it: the id never changes
    if unknown:
        raise InvalidArgument(f"unknown field(s) in update_mask: {', '.join(sorted(unknown))}", field="update_mask")
    extra = normalize_extra(item.extra, f"{prefix}.extra")
    return item if extra == item.extra else _replace(item, extra=extra)


def _replace(item: ConnectionInput, **changes: Any) -> ConnectionInput:
    return ConnectionInput(**{**item.__dict__, **changes})


def _aad(tenant_id: str, connection_id: str, column: str) -> bytes:
    return aad(tenant_id, "connections", connection_id, column)


def _sealed_values(box: SecretBox, tenant_id: str, item: ConnectionInput) -> dict[str, Any]:
    """The columns a create writes."""
    cid = item.connection_id
    return {
        "conn_type": item.conn_type, "description": item.description, "host": item.host, "login": item.login,
        "schema": item.schema, "port": item.port, "team_name": item.team_name,
        "password_enc": box.encrypt(item.password, _aad(tenant_id, cid, "password")) if item.password is not None else None,
        "extra_enc": box.encrypt(item.extra, _aad(tenant_id, cid, "extra")) if item.extra is not None else None,
        "extra_masked": mask_extra(item.extra),
    }  # fmt: skip


def plain_secrets(box: SecretBox, tenant_id: str, row: asyncpg.Record) -> tuple[str | None, str | None]:
    """(password, extra) of a stored connection, decrypted."""
    cid = row["conn_id"]
    password = box.decrypt(row["password_enc"], _aad(tenant_id, cid, "password")) if row["password_enc"] else None
    extra = box.decrypt(row["extra_enc"], _aad(tenant_id, cid, "extra")) if row["extra_enc"] else None
    return password, extra


def view(row: asyncpg.Record) -> ConnectionView:
    return ConnectionView(
        connection_id=row["conn_id"], conn_type=row["conn_type"], description=row["description"], host=row["host"],
        login=row["login"], schema=row["schema"], port=row["port"],
        password=MASK if row["password_enc"] is not None else None, extra=row["extra_masked"], team_name=row["team_name"],
    )  # fmt: skip


def _audit_extra(item: ConnectionInput, method: str) -> dict[str, Any]:
    """The change as Airflow's action log records it; write_event masks the secrets."""
    extra: Any = json.loads(item.extra) if item.extra else item.extra
    return {
        "connection_id": item.connection_id, "conn_type": item.conn_type, "description": item.description,
        "host": item.host, "login": item.login, "schema": item.schema, "port": item.port,
        "password": item.password, "extra": extra, "method": method,
    }  # fmt: skip


async def get_connection(ctx: SchedulerContext, tenant_id: str, connection_id: str) -> ConnectionView:
    async with ctx.pool.acquire() as conn:
        row = await connections.get(conn=conn, tenant_id=tenant_id, conn_id=connection_id)
    if row is None:
        raise not_found(connection_id)
    return view(row)


async def list_connections(
    ctx: SchedulerContext, tenant_id: str, *, id_pattern: str, id_prefix_pattern: str, order_by: list[str], limit: int, offset: int
) -> tuple[list[ConnectionView], int]:
    async with ctx.pool.acquire() as conn:
        try:
            rows, total = await connections.list_page(
                conn=conn, tenant_id=tenant_id, id_pattern=id_pattern, id_prefix_pattern=id_prefix_pattern,
                order_by=order_by, limit=limit, offset=offset,
            )  # fmt: skip
        except KeyError as exc:
            raise InvalidArgument(
                f"Ordering with '{exc.args[0]}' is disallowed or the attribute does not exist on the model", field="order_by"
            ) from exc
    return [view(r) for r in rows], total


async def create_connection(
    ctx: SchedulerContext, box: SecretBox, tenant_id: str, item: ConnectionInput, actor: str | None
) -> ConnectionView:
    item = validate(item)
    box.ensure_configured()
    async with ctx.transaction() as uow:
        await tenants.ensure_tenant(conn=uow.conn, tenant_id=tenant_id)
        row = await connections.insert(
            conn=uow.conn, tenant_id=tenant_id, conn_id=item.connection_id, values=_sealed_values(box, tenant_id, item)
        )
        if row is None:
            raise AlreadyExists(f"The Connection with connection_id: `{item.connection_id}` already exists")
        await audit_log.write_event(conn=uow.conn, tenant_id=tenant_id, event="post_connection", owner=actor, extra=_audit_extra(item, "POST"))
    return view(row)


def _updated_values(box: SecretBox, tenant_id: str, current: asyncpg.Record, item: ConnectionInput) -> dict[str, Any]:
    """The columns after applying `item.fields` of `item` to `current` (Airflow's
    update_orm_from_pydantic, with its "***" merge for password and extra)."""
    cid = current["conn_id"]
    values = {column: current[column] for column in connections.WRITABLE}
    for name in ("conn_type", "description", "host", "login", "schema", "port", "team_name"):
        if name in item.fields:
            values[name] = getattr(item, name)
    if "password" in item.fields or "extra" in item.fields:
        old_password, old_extra = plain_secrets(box, tenant_id, current)
        if "password" in item.fields:
            password = item.password if item.password is None else merge_masked(item.password, old_password, "password")
            values["password_enc"] = box.encrypt(password, _aad(tenant_id, cid, "password")) if password is not None else None
        if "extra" in item.fields:
            extra = item.extra
            if extra is not None and old_extra is not None:
                extra = json.dumps(merge_masked(json.loads(extra), json.loads(old_extra)))
            values["extra_enc"] = box.encrypt(extra, _aad(tenant_id, cid, "extra")) if extra is not None else None
            values["extra_masked"] = mask_extra(extra)
    return values


async def update_connection(
    ctx: SchedulerContext, box: SecretBox, tenant_id: str, connection_id: str, item: ConnectionInput, actor: str | None
) -> ConnectionView:
    """Airflow's patch_connection: the body's connection_id must be the path's."""
    if item.connection_id != connection_id:
        raise InvalidArgument(
            "The connection_id in the request body does not match the URL parameter", field="connection.connection_id"
        )
    item = validate(item)
    box.ensure_configured()
    async with ctx.transaction() as uow:
        current = await connections.get(conn=uow.conn, tenant_id=tenant_id, conn_id=connection_id, for_update=True)
        if current is None:
            raise not_found(connection_id)
        row = await connections.update(
            conn=uow.conn, tenant_id=tenant_id, conn_id=connection_id, values=_updated_values(box, tenant_id, current, item)
        )
        await audit_log.write_event(conn=uow.conn, tenant_id=tenant_id, event="patch_connection", owner=actor, extra=_audit_extra(item, "PATCH"))
    return view(row)


async def delete_connection(ctx: SchedulerContext, tenant_id: str, connection_id: str, actor: str | None) -> None:
    """Deleting needs no key: removing a secret never requires reading it."""
    async with ctx.transaction() as uow:
        if not await connections.delete(conn=uow.conn, tenant_id=tenant_id, conn_id=connection_id):
            raise not_found(connection_id)
        await audit_log.write_event(
            conn=uow.conn, tenant_id=tenant_id, event="delete_connection", owner=actor,
            extra={"connection_id": connection_id, "method": "DELETE"},
        )  # fmt: skip


@dataclass(frozen=True)
class BulkAction:
    kind: ActionKind
    items: list[ConnectionInput]
    on_conflict: OnConflict


async def bulk_connections(
    ctx: SchedulerContext, box: SecretBox, tenant_id: str, actions: list[BulkAction], actor: str | None
) -> list[ActionResult]:
    """Airflow's bulk_connections (see metadata/bulk.py)."""
    checked = []
    for index, action in enumerate(actions):
        items = action.items
        if action.kind is not ActionKind.DELETE:
            items = [validate(item, f"actions.{index}.entities") for item in items]
        checked.append(BulkAction(action.kind, items, action.on_conflict))
    if any(a.kind is not ActionKind.DELETE for a in checked):
        box.ensure_configured()
    results = []
    async with ctx.transaction() as uow:
        await tenants.ensure_tenant(conn=uow.conn, tenant_id=tenant_id)
        for action in checked:
            results.append(await _bulk_action(uow.conn, box, tenant_id, action))
        await audit_log.write_event(
            conn=uow.conn, tenant_id=tenant_id, event="bulk_connections", owner=actor,
            extra={"actions": [
                {"action": r.kind.value, "connection_ids": [i.connection_id for i in a.items], "success": r.success,
                 "errors": [e for e, _ in r.errors]}
                for a, r in zip(checked, results, strict=True)
            ], "method": "PATCH"},
        )  # fmt: skip
    return results


async def _bulk_action(conn, box: SecretBox, tenant_id: str, action: BulkAction) -> ActionResult:
    result = ActionResult(action.kind)
    ids = sorted({i.connection_id for i in action.items})
    existing = await connections.existing(conn=conn, tenant_id=tenant_id, conn_ids=ids)
    missing = set(ids) - set(existing)
    if action.kind is ActionKind.CREATE:
        if action.on_conflict is OnConflict.FAIL and existing:
            result.errors.append((f"The connections with these connection_ids: {python_set(set(existing))} already exist.", 409))
            return result
        for item in action.items:
            if item.connection_id in existing and action.on_conflict is OnConflict.SKIP:
                continue
            values = _sealed_values(box, tenant_id, item)
            if await connections.insert(conn=conn, tenant_id=tenant_id, conn_id=item.connection_id, values=values) is None:
                await connections.update(conn=conn, tenant_id=tenant_id, conn_id=item.connection_id, values=values)
            result.success.append(item.connection_id)
        return result
    if missing and action.on_conflict is OnConflict.FAIL:
        result.errors.append((f"The connections with these connection_ids: {python_set(missing)} were not found.", 404))
        return result
    for item in action.items:
        if item.connection_id in missing:
            continue
        if action.kind is ActionKind.UPDATE:
            current = await connections.get(conn=conn, tenant_id=tenant_id, conn_id=item.connection_id)
            await connections.update(
                conn=conn, tenant_id=tenant_id, conn_id=item.connection_id, values=_updated_values(box, tenant_id, current, item)
            )
            result.success.append(item.connection_id)
        elif await connections.delete(conn=conn, tenant_id=tenant_id, conn_id=item.connection_id):
            result.success.append(item.connection_id)
    return result
