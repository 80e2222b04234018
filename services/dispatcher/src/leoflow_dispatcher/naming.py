"""Deterministic execution names.

One name per (tenant, dag_id, run_id, task_id, map_index, try_number,
dispatch_attempt): the same request always yields the same name, so a redelivered
request finds the execution it already started instead of starting a second one.
Every name is a valid Kubernetes pod name (DNS-1123 label: at most 63 characters of
[a-z0-9-], starting and ending alphanumeric) so the kubernetes backend can use it
as is. A readable prefix helps people; the hash makes names unique.
"""

from __future__ import annotations

import hashlib
import json
import re

from leoflow_proto.dag.v1.execution_pb2 import TaskExecution

MAX_NAME_LENGTH = 63
HASH_LENGTH = 12
_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")
_VALID_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def execution_name(
    *,
    tenant_id: str,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int,
    try_number: int,
    dispatch_attempt: int,
) -> str:
    """The name of one dispatch attempt of one task-instance try."""
    identity = json.dumps(
        [tenant_id, dag_id, run_id, task_id, map_index, try_number, dispatch_attempt]
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:HASH_LENGTH]
    suffix = f"t{try_number}" + (f"-a{dispatch_attempt}" if dispatch_attempt else "")
    if map_index >= 0:
        suffix = f"m{map_index}-{suffix}"
    readable = "-".join(part for part in (_slug(dag_id), _slug(task_id), suffix) if part)
    budget = MAX_NAME_LENGTH - HASH_LENGTH - 1
    readable = readable[:budget].strip("-")
    if not readable[:1].isalpha():
        readable = f"lf-{readable}"[:budget].strip("-")
    return f"{readable}-{digest}"


def execution_name_of(execution: TaskExecution) -> str:
    """The name of the execution a TaskExecution asks for."""
    key = execution.key
    return execution_name(
        tenant_id=execution.tenant_id,
        dag_id=key.dag_id,
        run_id=key.run_id,
        task_id=key.task_id,
        map_index=key.map_index,
        try_number=execution.try_number,
        dispatch_attempt=execution.dispatch_attempt,
    )


def is_valid_execution_name(name: str) -> bool:
    """True when `name` is a valid Kubernetes pod name of at most 63 characters."""
    return bool(_VALID_NAME.match(name))


def _slug(text: str) -> str:
    return _NOT_ALLOWED.sub("-", text.lower()).strip("-")
