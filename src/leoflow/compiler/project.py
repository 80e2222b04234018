"""leoflow.yaml: the DAG folder's deploy settings, validated with line numbers.

Only `dag_id` is required. Unknown keys are errors (a typo must not be silently
ignored); every error names the YAML line it is about.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from leoflow.compiler.errors import CompileError

PROJECT_FILE = "leoflow.yaml"
_KEY_RE = re.compile(r"^[\w.-]{1,250}$", re.ASCII)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Resources(_Strict):
    """Kubernetes-style resource requests and limits, e.g. {"cpu": "500m", "memory": "1Gi"}."""

    requests: dict[str, str] = {}
    limits: dict[str, str] = {}


class Toleration(_Strict):
    key: str = ""
    operator: str = ""
    value: str = ""
    effect: str = ""
    toleration_seconds: int | None = None


class Execution(_Strict):
    node_selector: dict[str, str] = {}
    tolerations: list[Toleration] = []
    service_account: str | None = None
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None


class Defaults(_Strict):
    """L1: applied to every task whose DAG code left the setting alone."""

    retries: int | None = Field(default=None, ge=0)
    retry_delay_seconds: float | None = Field(default=None, ge=0)
    execution_timeout_seconds: float | None = Field(default=None, gt=0)
    resources: Resources | None = None


class TaskSettings(Defaults):
    """L2: `tasks.<task_id>`, always wins for that task."""

    env: dict[str, str] = {}
    execution: Execution | None = None


class Registry(_Strict):
    url: str | None = None
    image_name: str | None = None
    auth_method: str | None = None
    tag_strategy: str | None = None


class Project(_Strict):
    """The validated content of leoflow.yaml."""

    schema_version: str | int | None = None
    dag_id: str
    python_version: str = "3.11"
    dag_source: str = "dag.py"
    description: str | None = None
    owner: str | None = None
    tags: list[str] = []
    dependencies: list[str] = []
    system_packages: list[str] = []
    base_image: str | None = None
    registry: Registry | None = None
    defaults: Defaults = Defaults()
    tasks: dict[str, TaskSettings] = {}

    @field_validator("dag_id")
    @classmethod
    def _dag_id(cls, value: str) -> str:
        if not _KEY_RE.match(value):
            raise ValueError("must be made of letters, digits, '_', '-' and '.' (at most 250)")
        return value

    @field_validator("python_version")
    @classmethod
    def _python_version(cls, value: str) -> str:
        if not re.fullmatch(r"3\.\d{1,2}", str(value)):
            raise ValueError("must look like '3.11'")
        return str(value)

    @field_validator("dependencies", "system_packages")
    @classmethod
    def _no_blank(cls, values: list[str]) -> list[str]:
        if any(not v.strip() for v in values):
            raise ValueError("entries must not be empty")
        return [v.strip() for v in values]


def load_project(dag_dir: Path) -> tuple[Project, dict[str, int]]:
    """(Project, line of each `tasks.<id>` key) from `dag_dir/leoflow.yaml`, or CompileError."""
    path = dag_dir / PROJECT_FILE
    if not path.is_file():
        raise CompileError(f"no {PROJECT_FILE} in {dag_dir} (it needs at least `dag_id: ...`)")
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err)
        raise CompileError(f"invalid YAML: {problem}", PROJECT_FILE, mark.line + 1 if mark else 0) from None
    if not isinstance(data, dict):
        raise CompileError("must be a mapping of settings (at least `dag_id: ...`)", PROJECT_FILE, 1)
    try:
        project = Project.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = [str(part) for part in first["loc"]]
        message = "unknown setting" if first["type"] == "extra_forbidden" else first["msg"]
        raise CompileError(f"{'.'.join(loc)}: {message}", PROJECT_FILE, _line_of(root, loc)) from None
    tasks_node = _child(root, "tasks")
    task_lines = {}
    if tasks_node is not None and isinstance(tasks_node.value, list):
        task_lines = {k.value: k.start_mark.line + 1 for k, _ in tasks_node.value}
    return project, task_lines


def _child(node: Any, key: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key:
                return v
    if isinstance(node, yaml.SequenceNode) and key.isdigit() and int(key) < len(node.value):
        return node.value[int(key)]
    return None


def _line_of(root: Any, loc: list[str]) -> int:
    """The line of the deepest YAML node on `loc` (1-based); the key's line for unknown keys."""
    node, line = root, 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == part:
                    line = k.start_mark.line + 1
                    node = v
                    break
            else:
                return line
        else:
            node = _child(node, part)
            if node is None:
                return line
            line = node.start_mark.line + 1
    return line
