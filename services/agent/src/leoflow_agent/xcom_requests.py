"""The agent's answers to a runner's XCom requests (ti.xcom_pull / ti.xcom_push).

The runner has no token; the agent calls the xcom service with the task's own,
so what user code may read or write is exactly what that token allows (reads in
its own run, pushes under its own task instance). Requests:

    xcom_get      {task_id, key, map_index (int, or None for "any")}
                  -> {"found": bool, "value": ...}
    xcom_get_all  {task_id, key} -> every value, in map_index order
    xcom_push     {key, value}   -> None (value is plain JSON already)

A refusal by the xcom service (permission, size, validation) comes back to user
code as an error with the service's reason; an unreachable service after the
call's retries, too. Nothing is cached: a value pushed a moment ago is seen.
"""

from __future__ import annotations

import json
from typing import Any

import grpc
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.xcom.v1 import xcom_pb2

from .control_channel import RequestRefused
from .jsonvalues import NotJSONSerializable, to_json

# Page size of ListXComs (the xcom service's maximum); a mapped task's values are
# read page by page, however many instances it has.
_PAGE = 1000


class XComRequests:
    """Serves a runner's XCom requests for one task-instance try."""

    def __init__(self, control_plane: Any, key: keys_pb2.TaskInstanceKey, log: Any):
        self._control_plane = control_plane
        self._key = key
        self._log = log  # (level, message) into the task log
        self.pushed: list[str] = []

    async def __call__(self, request: dict[str, Any]) -> Any:
        op = request.get("op")
        try:
            if op == "xcom_get":
                return await self._get(_text(request, "task_id"), _text(request, "key"), request.get("map_index"))
            if op == "xcom_get_all":
                return await self._get_all(_text(request, "task_id"), _text(request, "key"))
            if op == "xcom_push":
                return await self._push(_text(request, "key"), request.get("value"))
        except grpc.aio.AioRpcError as exc:
            raise RequestRefused(f"XCom service: {exc.code().name}: {exc.details()}") from None
        raise RequestRefused(f"unknown request {op!r}")

    def _instance(self, task_id: str, map_index: int) -> keys_pb2.TaskInstanceKey:
        return keys_pb2.TaskInstanceKey(dag_id=self._key.dag_id, run_id=self._key.run_id, task_id=task_id, map_index=map_index)

    async def _get(self, task_id: str, key: str, map_index: Any) -> dict[str, Any]:
        if map_index is None:  # Airflow's map_indexes=None: whichever instance has one
            values = await self._list(task_id, key, limit=1)
            return {"found": bool(values), "value": values[0] if values else None}
        if not isinstance(map_index, int) or isinstance(map_index, bool) or map_index < -1:
            raise RequestRefused(f"map_index must be -1, a non-negative int or None, not {map_index!r}")
        try:
            response = await self._control_plane.get_xcom(
                xcom_pb2.GetXComRequest(key=self._instance(task_id, map_index), xcom_key=key)
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return {"found": False, "value": None}
            raise
        return {"found": True, "value": json.loads(response.entry.value_json)}

    async def _get_all(self, task_id: str, key: str) -> list[Any]:
        values: list[Any] = []
        while True:
            page = await self._list(task_id, key, limit=_PAGE, offset=len(values))
            values += page
            if len(page) < _PAGE:
                return values

    async def _list(self, task_id: str, key: str, *, limit: int, offset: int = 0) -> list[Any]:
        response = await self._control_plane.list_xcoms(
            xcom_pb2.ListXComsRequest(
                dag_id=self._key.dag_id,
                run_id=self._key.run_id,
                task_id=task_id,
                xcom_key=key,
                include_values=True,
                page=keys_pb2.PageRequest(limit=limit, offset=offset, order_by=["map_index"]),
            )
        )
        return [json.loads(entry.value_json) for entry in response.entries]

    async def _push(self, key: str, value: Any) -> None:
        try:
            value_json = to_json(value, what=f"XCom {key!r}").encode()
        except NotJSONSerializable as exc:
            raise RequestRefused(f"TypeError: {exc}") from None
        await self._control_plane.push_xcom(xcom_pb2.PushXComRequest(key=self._key, xcom_key=key, value_json=value_json))
        self.pushed.append(key)
        self._log("info", f"Pushed XCom {key!r} ({len(value_json)} bytes)")


def _text(request: dict[str, Any], name: str) -> str:
    value = request.get(name)
    if not isinstance(value, str) or not value:
        raise RequestRefused(f"{name} must be a non-empty string, not {value!r}")
    return value
