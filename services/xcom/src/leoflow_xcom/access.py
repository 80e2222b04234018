"""Who may touch which XComs, beyond the per-method role check of the gRPC policy.

- An agent holds a token for one task-instance try. It may push only under that
  task instance, and read only within its own run: the tasks its token lists, or
  every task of the run when the token says ANY_TASK_OF_RUN (Airflow lets
  ti.xcom_pull read any task of the DAG run; the dispatcher mints such tokens).
- Users act within their token's tenant. Services act for every tenant, so a
  service names the tenant of its call in the "leoflow-tenant" metadata entry
  (the deployment's default tenant when it does not).
"""

from __future__ import annotations

from collections.abc import Mapping

from leoflow_common.auth import ANY_TASK_OF_RUN, Principal, TaskScope
from leoflow_common.errors import PermissionDenied

from .keys import TaskInstanceId, check_id

TENANT_METADATA_KEY = "leoflow-tenant"


def caller_tenant(principal: Principal, metadata: Mapping[str, str], default_tenant: str) -> str:
    """The tenant a call acts in."""
    if principal.kind == "service":
        return check_id(metadata.get(TENANT_METADATA_KEY) or default_tenant, TENANT_METADATA_KEY)
    return principal.tenant_id


def _own_task_instance(scope: TaskScope) -> str:
    return f"dag {scope.dag_id!r}, run {scope.run_id!r}, task {scope.task_id!r}, map_index {scope.map_index}"


def check_agent_push(scope: TaskScope, target: TaskInstanceId) -> None:
    """PermissionDenied unless `target` is the agent's own task instance."""
    own = (scope.dag_id, scope.run_id, scope.task_id, scope.map_index)
    if (target.dag_id, target.run_id, target.task_id, target.map_index) != own:
        raise PermissionDenied(
            f"an agent may push XComs only for its own task instance ({_own_task_instance(scope)})"
        )


def check_agent_run(scope: TaskScope, dag_id: str, run_id: str) -> None:
    """PermissionDenied unless (`dag_id`, `run_id`) is the agent's own run."""
    if (dag_id, run_id) != (scope.dag_id, scope.run_id):
        raise PermissionDenied(
            f"an agent may read XComs only within its own run (dag {scope.dag_id!r}, run {scope.run_id!r})"
        )


def check_agent_upstream(scope: TaskScope, task_id: str) -> None:
    """PermissionDenied unless the agent may read `task_id`'s XComs (a listed
    upstream, or any task when the token covers the whole run)."""
    if task_id not in scope.upstream_task_ids and ANY_TASK_OF_RUN not in scope.upstream_task_ids:
        raise PermissionDenied(
            f"task {scope.task_id!r} did not declare {task_id!r} as an upstream; its XComs are not readable here"
        )
