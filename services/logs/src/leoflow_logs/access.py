"""Who may touch which log, beyond the per-method role check of the gRPC policy.

An agent appends only to the one try its token names. Users read within their
token's tenant; services act for every tenant, so a service names the tenant of
its call in the "leoflow-tenant" metadata entry (the deployment's default tenant
when it does not).
"""

from __future__ import annotations

from collections.abc import Mapping

from leoflow_common.auth import Principal, TaskScope
from leoflow_common.errors import PermissionDenied

from .keys import TryId, check_id

TENANT_METADATA_KEY = "leoflow-tenant"


def caller_tenant(principal: Principal, metadata: Mapping[str, str], default_tenant: str) -> str:
    """The tenant a call acts in."""
    if principal.kind == "service":
        return check_id(metadata.get(TENANT_METADATA_KEY) or default_tenant, TENANT_METADATA_KEY)
    return principal.tenant_id


def check_agent_try(scope: TaskScope, target: TryId) -> None:
    """PermissionDenied unless `target` is the try the agent's token is for."""
    own = (scope.dag_id, scope.run_id, scope.task_id, scope.map_index, scope.try_number)
    if (target.dag_id, target.run_id, target.task_id, target.map_index, target.try_number) != own:
        raise PermissionDenied(
            f"an agent may append only to its own try's log (try {scope.try_number} of task {scope.task_id!r}, "
            f"map_index {scope.map_index}, run {scope.run_id!r}, DAG {scope.dag_id!r})"
        )
