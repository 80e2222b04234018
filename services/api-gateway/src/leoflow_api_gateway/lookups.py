"""Names and runs a response needs but the listed messages do not carry (a task
instance has no DAG display name, an XCom entry has no run dates), fetched once per
distinct key for one request, concurrently."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import TypeVar

from leoflow_common.errors import NotFound
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.scheduler.v1 import models_pb2, registry_pb2, runs_pb2, task_instances_pb2

from .clients import GatewayClients
from .http.errors import leoflow_error_of

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


async def _fetch_all(keys: Iterable[K], fetch: Callable[[K], Awaitable[V]]) -> dict[K, V]:
    unique = list(dict.fromkeys(keys))
    values = await asyncio.gather(*(fetch(key) for key in unique))
    return dict(zip(unique, values, strict=True))


async def _or_none(call: Awaitable[V]) -> V | None:
    """The answer, or None when the thing does not exist (any other error propagates)."""
    try:
        return await call
    except Exception as exc:
        if isinstance(leoflow_error_of(exc), NotFound):
            return None
        raise


class Lookups:
    def __init__(self, clients: GatewayClients):
        self._clients = clients

    async def dag_display_names(self, dag_ids: Iterable[str]) -> dict[str, str]:
        """dag_id -> display name (the dag_id itself for a DAG the registry no longer has)."""

        async def fetch(dag_id: str) -> str:
            answer = await _or_none(self._clients.registry.GetDag(registry_pb2.GetDagRequest(dag_id=dag_id)))
            return (answer.dag.display_name or dag_id) if answer else dag_id

        return await _fetch_all(dag_ids, fetch)

    async def dag_runs(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], models_pb2.DagRun | None]:
        """(dag_id, run_id) -> DagRun, None for a run that no longer exists."""

        async def fetch(key: tuple[str, str]) -> models_pb2.DagRun | None:
            request = runs_pb2.GetDagRunRequest(key=keys_pb2.DagRunKey(dag_id=key[0], run_id=key[1]))
            answer = await _or_none(self._clients.runs.GetDagRun(request))
            return answer.dag_run if answer else None

        return await _fetch_all(keys, fetch)

    async def task_display_names(self, keys: Iterable[tuple[str, str, str, int]]) -> dict[tuple[str, str, str, int], str]:
        """(dag_id, run_id, task_id, map_index) -> the task's display name (task_id if unknown)."""

        async def fetch(key: tuple[str, str, str, int]) -> str:
            dag_id, run_id, task_id, map_index = key
            request = task_instances_pb2.GetTaskInstanceRequest(
                key=keys_pb2.TaskInstanceKey(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index)
            )
            answer = await _or_none(self._clients.task_instances.GetTaskInstance(request))
            return (answer.task_instance.task_display_name or task_id) if answer else task_id

        return await _fetch_all(keys, fetch)
