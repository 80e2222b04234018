"""XComService over gRPC: parse, authorize, call the store or the resolver, map.

Roles are checked by the server's per-method policy (POLICY); what a caller may
touch within a method (an agent's own task instance, its declared upstreams, the
caller's tenant) is checked here, before any read or write.
"""

from __future__ import annotations

import grpc
from leoflow_common.auth import Capability, Principal
from leoflow_common.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from leoflow_common.grpc import Access, current_principal
from leoflow_proto.xcom.v1 import xcom_pb2, xcom_pb2_grpc

from .. import access, metrics
from ..keys import check_id, check_map_index, optional_filter, xcom_id
from ..resolve import ArgumentResolver
from ..store import XComQuery, XComSelector, XComStore
from ..values import check_json, check_size
from .convert import entry_message

SERVICE_NAME = "leoflow.xcom.v1.XComService"
POLICY = {
    # Users write XComs through the REST API (EXECUTE); agents push their own.
    "PushXCom": Access(Capability.EXECUTE, agent=True),
    "GetXCom": Access(Capability.READ, agent=True),
    # Agents list only one task of their own run (ti.xcom_pull over map indexes).
    "ListXComs": Access(Capability.READ, agent=True),
    "DeleteXComs": Access(Capability.EXECUTE),
    "ResolveArguments": Access(Capability.READ, agent=True),
}
DEFAULT_PAGE_LIMIT = 100
MAX_PAGE_LIMIT = 1000


def _caller() -> Principal:
    principal = current_principal()
    if principal is None:  # the policy admits no anonymous caller; fail closed anyway
        raise Unauthenticated("Not authenticated")
    return principal


class XComServiceServicer(xcom_pb2_grpc.XComServiceServicer):
    def __init__(
        self,
        store: XComStore,
        resolver: ArgumentResolver,
        *,
        max_value_bytes: int,
        default_tenant: str,
    ):
        self._store = store
        self._resolver = resolver
        self._max_value = max_value_bytes
        self._default_tenant = default_tenant

    def _tenant(self, principal: Principal, context: grpc.aio.ServicerContext) -> str:
        return access.caller_tenant(
            principal, dict(context.invocation_metadata() or ()), self._default_tenant
        )

    async def PushXCom(
        self, request: xcom_pb2.PushXComRequest, context
    ) -> xcom_pb2.PushXComResponse:
        principal = _caller()
        target = xcom_id(self._tenant(principal, context), request.key, request.xcom_key)
        if principal.task is not None:
            try:
                access.check_agent_push(principal.task, target.task_instance)
            except PermissionDenied:
                metrics.REJECTIONS.labels("forbidden").inc()
                raise
        value = bytes(request.value_json)
        for reason, check in (("too_large", self._check_size), ("invalid_json", check_json)):
            try:
                check(value, xcom_key=target.key, task_id=target.task_id)
            except InvalidArgument:
                metrics.REJECTIONS.labels(reason).inc()
                raise
        record = await self._store.put(target, value)
        metrics.PUSHES.inc()
        metrics.VALUE_SIZE.observe(record.size_bytes)
        entry = entry_message(record)
        entry.ClearField("value_json")  # the caller has it
        return xcom_pb2.PushXComResponse(entry=entry)

    def _check_size(self, value: bytes, *, xcom_key: str, task_id: str) -> None:
        check_size(value, xcom_key=xcom_key, task_id=task_id, limit=self._max_value)

    async def GetXCom(self, request: xcom_pb2.GetXComRequest, context) -> xcom_pb2.GetXComResponse:
        principal = _caller()
        target = xcom_id(self._tenant(principal, context), request.key, request.xcom_key)
        if principal.task is not None:
            access.check_agent_run(principal.task, target.dag_id, target.run_id)
            access.check_agent_upstream(principal.task, target.task_id)
        record = await self._store.get(target)
        if record is None:
            raise NotFound(
                f"XCom {target.key!r} of task {target.task_id!r} (map_index {target.map_index}) "
                f"in run {target.run_id!r} of DAG {target.dag_id!r} not found"
            )
        metrics.PULLS.labels("GetXCom").inc()
        return xcom_pb2.GetXComResponse(entry=entry_message(record))

    async def ListXComs(
        self, request: xcom_pb2.ListXComsRequest, context
    ) -> xcom_pb2.ListXComsResponse:
        principal = _caller()
        limit = request.page.limit or DEFAULT_PAGE_LIMIT
        if not 0 < limit <= MAX_PAGE_LIMIT:
            raise InvalidArgument(
                f"page.limit must be between 1 and {MAX_PAGE_LIMIT}, not {limit}",
                field="page.limit",
            )
        if request.page.offset < 0:
            raise InvalidArgument(
                f"page.offset must not be negative, not {request.page.offset}", field="page.offset"
            )
        if principal.task is not None:
            self._check_agent_list(principal.task, request)
        query = XComQuery(
            tenant_id=self._tenant(principal, context),
            dag_id=optional_filter(request.dag_id, "dag_id"),
            run_id=optional_filter(request.run_id, "run_id"),
            task_id=optional_filter(request.task_id, "task_id"),
            map_index=check_map_index(request.map_index) if request.HasField("map_index") else None,
            key=optional_filter(request.xcom_key, "xcom_key"),
            limit=limit,
            offset=request.page.offset,
            order_by=tuple(request.page.order_by),
            include_values=request.include_values,
        )
        records, total = await self._store.query(query)
        return xcom_pb2.ListXComsResponse(
            entries=[entry_message(r) for r in records], total_entries=total
        )

    @staticmethod
    def _check_agent_list(scope, request: xcom_pb2.ListXComsRequest) -> None:
        """An agent lists the XComs of one readable task of its own run, never more."""
        if not request.task_id or request.task_id == "~":
            raise PermissionDenied("an agent must name the task whose XComs it lists")
        access.check_agent_run(scope, request.dag_id, request.run_id)
        access.check_agent_upstream(scope, request.task_id)

    async def DeleteXComs(
        self, request: xcom_pb2.DeleteXComsRequest, context
    ) -> xcom_pb2.DeleteXComsResponse:
        principal = _caller()
        selector = XComSelector(
            tenant_id=self._tenant(principal, context),
            dag_id=check_id(request.dag_id, "dag_id"),
            run_id=check_id(request.run_id, "run_id"),
            task_ids=frozenset(check_id(t, "task_ids") for t in request.task_ids),
            map_index=check_map_index(request.map_index) if request.HasField("map_index") else None,
            key=check_id(request.xcom_key, "xcom_key") if request.xcom_key else None,
        )
        return xcom_pb2.DeleteXComsResponse(deleted=await self._store.delete(selector))

    async def ResolveArguments(
        self, request: xcom_pb2.ResolveArgumentsRequest, context
    ) -> xcom_pb2.ResolveArgumentsResponse:
        principal = _caller()
        dag_id = check_id(request.dag_id, "dag_id")
        run_id = check_id(request.run_id, "run_id")
        scope = principal.task
        if scope is not None:
            access.check_agent_run(scope, dag_id, run_id)

        def may_read(task_id: str) -> None:
            if scope is not None:
                access.check_agent_upstream(scope, task_id)

        assembled = await self._resolver.resolve(
            tenant_id=self._tenant(principal, context),
            dag_id=dag_id,
            run_id=run_id,
            arguments=request.arguments,
            may_read=may_read,
            mapping=request.mapping if request.HasField("mapping") else None,
            map_index=request.map_index,
        )
        metrics.PULLS.labels("ResolveArguments").inc()
        return xcom_pb2.ResolveArgumentsResponse(
            arguments=[
                xcom_pb2.ResolvedArgument(name=a.name, position=a.position, value_json=a.value_json)
                for a in assembled
            ]
        )
