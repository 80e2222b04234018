"""ResolveArguments: fetch the upstream XComs an agent's arguments refer to and
assemble them (see assembly.py for the rendering rules).

A reference names an upstream task and key within the caller's run. An unmapped
upstream's value is the one at map_index -1; when there is none but the upstream
was mapped, the reference stands for the list of its instances' values in
map_index order (Airflow's lazy sequence over a mapped task's XComs). The size
cap applies to every upstream value, and the whole answer has a cap of its own
so it always fits in one gRPC message.

For a mapped task instance the request also carries the task's MappingSpec and
the instance's map_index: the element at that index (expansion.py) comes back as
extra keyword arguments, after the task's own (partial) arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from leoflow_common.errors import InvalidArgument
from leoflow_proto.dag.v1 import dag_pb2

from . import expansion
from .assembly import (
    AssembledArgument,
    Ref,
    assemble,
    collect_refs,
    collect_value_refs,
    render_value,
)
from .keys import UNMAPPED, XComId
from .store import XComQuery, XComStore
from .values import check_size, describe_bytes

# Upper bound on the mapped instances gathered for one reference.
MAX_MAPPED_INSTANCES = 100_000


class ArgumentResolver:
    def __init__(self, store: XComStore, *, max_value_bytes: int, max_total_bytes: int):
        self._store = store
        self._max_value = max_value_bytes
        self._max_total = max_total_bytes

    async def resolve(
        self,
        *,
        tenant_id: str,
        dag_id: str,
        run_id: str,
        arguments: Sequence[dag_pb2.Argument],
        may_read: Callable[[str], None],
        mapping: dag_pb2.MappingSpec | None = None,
        map_index: int = -1,
    ) -> list[AssembledArgument]:
        """The assembled arguments, plus the mapped keyword arguments of instance
        `map_index` when `mapping` expands over anything. `may_read(task_id)` raises
        if the caller may not read that upstream; it runs for every reference
        before anything is read."""
        mapped = mapping is not None and expansion.is_mapped(mapping)
        refs = collect_refs(arguments)
        if mapped:
            extra = collect_value_refs(expansion.mapped_values(mapping))
            refs += [ref for ref in extra if ref not in refs]
        for ref in refs:
            may_read(ref.task_id)
        values = await self._fetch(tenant_id, dag_id, run_id, refs)
        assembled = assemble(arguments, values)
        if mapped:
            assembled += self._mapped_arguments(arguments, mapping, map_index, values)
        total = sum(len(a.value_json) for a in assembled)
        if total > self._max_total:
            raise InvalidArgument(
                f"the resolved arguments of this call are {total:,} bytes together; "
                f"the limit is {describe_bytes(self._max_total)}",
                field="arguments",
            )
        return assembled

    @staticmethod
    def _mapped_arguments(
        arguments: Sequence[dag_pb2.Argument],
        mapping: dag_pb2.MappingSpec,
        map_index: int,
        values: dict[Ref, bytes | None],
    ) -> list[AssembledArgument]:
        kwargs = expansion.expand_instance(
            mapping, map_index, lambda value, where: render_value(value, values, where)
        )
        taken = {a.name for a in arguments if a.name}
        clash = sorted(taken & set(kwargs))
        if clash:
            raise InvalidArgument(
                f"mapped argument(s) {', '.join(map(repr, clash))} are also partial arguments of the task",
                field="mapping",
            )
        start = max((a.position for a in arguments), default=-1) + 1
        return [
            AssembledArgument(name, start + i, value)
            for i, (name, value) in enumerate(kwargs.items())
        ]

    async def _fetch(
        self, tenant_id: str, dag_id: str, run_id: str, refs: list[Ref]
    ) -> dict[Ref, bytes | None]:
        ids = {
            ref: XComId(tenant_id, dag_id, run_id, ref.task_id, UNMAPPED, ref.key) for ref in refs
        }
        found = await self._store.get_many(ids.values())
        values: dict[Ref, bytes | None] = {}
        for ref, xcom_id in ids.items():
            record = found.get(xcom_id)
            if record is not None and record.value is not None:
                values[ref] = self._checked(ref, record.value)
            else:
                values[ref] = await self._mapped_values(tenant_id, dag_id, run_id, ref)
        return values

    async def _mapped_values(
        self, tenant_id: str, dag_id: str, run_id: str, ref: Ref
    ) -> bytes | None:
        query = XComQuery(
            tenant_id=tenant_id,
            dag_id=dag_id,
            run_id=run_id,
            task_id=ref.task_id,
            key=ref.key,
            limit=MAX_MAPPED_INSTANCES,
            order_by=("map_index",),
            include_values=True,
        )
        records, _ = await self._store.query(query)
        mapped = [r for r in records if r.id.map_index >= 0 and r.value is not None]
        if not mapped:
            return None
        return b"[" + b",".join(self._checked(ref, r.value) for r in mapped) + b"]"

    def _checked(self, ref: Ref, value: bytes) -> bytes:
        # Values are capped on push; this catches ones stored under a larger cap.
        check_size(value, xcom_key=ref.key, task_id=ref.task_id, limit=self._max_value)
        return value
