"""Compiled DagSpecs by version, fetched once per request: the grid and graph views
draw a DAG from the spec of the version each run ran with."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.scheduler.v1 import registry_pb2
from starlette.requests import Request

from ..http.endpoint import gateway
from ..http.errors import HTTPError, or_404
from .public.dag_versions import version_not_found


async def spec_of(request: Request, dag_id: str, version_number: int = 0) -> tuple[int, dag_pb2.DagSpec]:
    """(version number, spec) of `version_number` (0: the latest version)."""
    call = gateway(request).clients.registry.GetDagVersion(
        registry_pb2.GetDagVersionRequest(dag_id=dag_id, version_number=version_number)
    )
    not_found = (
        version_not_found(dag_id, version_number)
        if version_number
        else HTTPError(404, f"Dag with id {dag_id} was not found")
    )
    version = (await or_404(call, not_found)).dag_version
    return version.version_number, version.spec


async def specs_of(request: Request, dag_id: str, numbers: Iterable[int]) -> dict[int, dag_pb2.DagSpec]:
    """Requested version number (0: latest) -> spec, each fetched once."""
    unique = sorted(set(numbers))
    answers = await asyncio.gather(*(spec_of(request, dag_id, n) for n in unique))
    return {number: spec for number, (_, spec) in zip(unique, answers, strict=True)}
