"""Apply leoflow.yaml's task settings to a compiled DagSpec (ADR 0023's layers).

Precedence, strongest first: `tasks.<task_id>` (L2) > what the DAG file set for the task
(its own arguments or default_args) > `defaults` (L1) > Airflow's defaults. So L1 fills
only the settings the author left alone, and L2 always wins. The CLI validated the
YAML; this module receives it as JSON-shaped data:

    {"owner": str?, "defaults": {...}, "tasks": {task_id: {...}}, "task_lines": {task_id: int}}

with settings retries, retry_delay_seconds, execution_timeout_seconds, env, resources
({"requests": {...}, "limits": {...}}) and execution (node_selector, tolerations,
service_account, image_pull_policy). `defaults.resources` becomes the DAG's
Environment.defaults (execution settings every task starts from).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow._shim.dag import DAG
from leoflow_proto.dag.v1 import dag_pb2

from leoflow_agent.compile.errors import DagCompileError
from leoflow_agent.compile.values import duration

# leoflow.yaml key -> (operator attribute tracked as "explicit", TaskSpec setter)
_SCALARS = {
    "retries": "retries",
    "retry_delay_seconds": "retry_delay",
    "execution_timeout_seconds": "execution_timeout",
}


def apply_overrides(spec: dag_pb2.DagSpec, dag: DAG, overrides: dict[str, Any]) -> None:
    """Fold leoflow.yaml's owner, defaults and tasks.<id> into `spec` in place."""
    tasks = overrides.get("tasks") or {}
    lines = overrides.get("task_lines") or {}
    known = {t.task_id for t in spec.tasks}
    for task_id in sorted(tasks):
        if task_id not in known:
            raise DagCompileError(
                f"tasks.{task_id}: DAG '{spec.dag_id}' has no task '{task_id}' "
                f"(tasks: {', '.join(sorted(known))})",
                "leoflow.yaml", int(lines.get(task_id, 0)))
    defaults = overrides.get("defaults") or {}
    if defaults.get("resources"):
        spec.environment.defaults.CopyFrom(execution_settings(defaults["resources"], None))
    owner = overrides.get("owner")
    for task_spec in spec.tasks:
        explicit = getattr(dag.task_dict[task_spec.task_id], "_leoflow_explicit", set())
        if owner and "owner" not in explicit:
            task_spec.owner = owner
        for key, attribute in _SCALARS.items():
            if defaults.get(key) is not None and attribute not in explicit:
                _set_scalar(task_spec, key, defaults[key])
        _apply_task(task_spec, tasks.get(task_spec.task_id) or {})


def _set_scalar(task_spec: dag_pb2.TaskSpec, key: str, value: Any) -> None:
    if key == "retries":
        task_spec.retries = int(value)
    elif key == "retry_delay_seconds":
        task_spec.retry_delay.CopyFrom(duration(timedelta(seconds=value)))
    else:
        task_spec.execution_timeout.CopyFrom(duration(timedelta(seconds=value)))


def _apply_task(task_spec: dag_pb2.TaskSpec, settings: dict[str, Any]) -> None:
    for key in _SCALARS:
        if settings.get(key) is not None:
            _set_scalar(task_spec, key, settings[key])
    for name, value in sorted((settings.get("env") or {}).items()):
        task_spec.env[name] = str(value)
    if settings.get("resources") or settings.get("execution"):
        task_spec.execution.CopyFrom(execution_settings(settings.get("resources"), settings.get("execution")))


def execution_settings(resources: dict | None, execution: dict | None) -> dag_pb2.ExecutionSettings:
    """ExecutionSettings from leoflow.yaml's `resources` and `execution` blocks."""
    resources = resources or {}
    execution = execution or {}
    out = dag_pb2.ExecutionSettings(
        resource_requests={k: str(v) for k, v in (resources.get("requests") or {}).items()},
        resource_limits={k: str(v) for k, v in (resources.get("limits") or {}).items()},
        node_selector={k: str(v) for k, v in (execution.get("node_selector") or {}).items()},
        service_account=execution.get("service_account") or "",
        image_pull_policy=execution.get("image_pull_policy") or "",
    )
    for toleration in execution.get("tolerations") or []:
        item = dag_pb2.Toleration(
            key=toleration.get("key") or "", operator=toleration.get("operator") or "",
            value=toleration.get("value") or "", effect=toleration.get("effect") or "")
        if toleration.get("toleration_seconds") is not None:
            item.toleration_seconds = int(toleration["toleration_seconds"])
        out.tolerations.append(item)
    return out
