"""Registered DAG versions, parsed once: versions are immutable, so a parsed spec
and its graph can be cached by version id for the life of the process."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

import asyncpg
from leoflow_proto.dag.v1 import dag_pb2

from ..dagspec.canonical import spec_from_dict
from ..dagspec.graph import DagGraph, build_graph
from ..repository import dag_versions
from ..scheduling.mapping import reported_outputs


@dataclass(frozen=True, slots=True)
class LoadedVersion:
    """A parsed, immutable DAG version and its graph."""

    id: uuid.UUID
    dag_id: str
    version_number: int
    spec: dag_pb2.DagSpec
    graph: DagGraph
    # task_id -> XCom keys a downstream mapping expands over.
    reported_outputs: dict[str, set[str]] = field(default_factory=dict)


class SpecCache:
    """An LRU cache of parsed versions."""

    def __init__(self, max_entries: int = 512):
        self._entries: OrderedDict[uuid.UUID, LoadedVersion] = OrderedDict()
        self._max = max_entries

    async def get(self, conn: asyncpg.Connection, version_id: uuid.UUID) -> LoadedVersion:
        """The parsed version; LookupError if it does not exist."""
        cached = self._entries.get(version_id)
        if cached is not None:
            self._entries.move_to_end(version_id)
            return cached
        row = await dag_versions.get_by_id(conn=conn, version_id=version_id, with_spec=True)
        if row is None:
            raise LookupError(f"DAG version {version_id} does not exist")
        spec = spec_from_dict(row["spec"])
        loaded = LoadedVersion(
            row["id"], row["dag_id"], row["version_number"], spec, build_graph(spec),
            reported_outputs(spec),
        )
        self._entries[version_id] = loaded
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return loaded
