"""What a task process receives: every variable and connection of its tenant,
decrypted (DESIGN §4 step 5), with the values the agent must mask in the task's
logs marked. Only the dispatcher, acting for its agent's tenant, may ask."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..domain.context import SchedulerContext
from ..repository import connections, variables
from .connections import plain_secrets
from .crypto import SecretBox
from .masking import secret_values, variable_is_sensitive, variable_secret_values
from .variables import plain_value


@dataclass(frozen=True)
class TaskVariable:
    key: str
    value: str
    sensitive: bool
    secret_values: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TaskConnection:
    connection_id: str
    conn_type: str
    description: str | None
    host: str | None
    login: str | None
    schema: str | None
    port: int | None
    password: str | None
    extra: str | None
    secret_values: list[str] = field(default_factory=list)


async def task_secrets(
    ctx: SchedulerContext, box: SecretBox, tenant_id: str
) -> tuple[list[TaskVariable], list[TaskConnection]]:
    """The tenant's variables and connections in clear. Without a key there is
    nothing to decrypt: a tenant that has none gets empty lists, one that has some
    gets Unavailable (the task must not run with half of its configuration)."""
    async with ctx.pool.acquire() as conn:
        variable_rows = await variables.all_of_tenant(conn=conn, tenant_id=tenant_id)
        connection_rows = await connections.all_of_tenant(conn=conn, tenant_id=tenant_id)
    task_variables = []
    for row in variable_rows:
        value = plain_value(box, tenant_id, row)
        task_variables.append(
            TaskVariable(
                row["key"], value, variable_is_sensitive(row["key"], value),
                [v for v in variable_secret_values(row["key"], value) if v],
            )
        )  # fmt: skip
    task_connections = []
    for row in connection_rows:
        password, extra = plain_secrets(box, tenant_id, row)
        hidden = ([password] if password else []) + (secret_values(json.loads(extra)) if extra else [])
        task_connections.append(
            TaskConnection(
                connection_id=row["conn_id"], conn_type=row["conn_type"], description=row["description"], host=row["host"],
                login=row["login"], schema=row["schema"], port=row["port"], password=password, extra=extra,
                secret_values=[v for v in hidden if v],
            )
        )  # fmt: skip
    return task_variables, task_connections
