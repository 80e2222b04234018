"""/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries:
list ("~" anywhere in the path) and get one (Airflow's routes/public/xcom.py)."""

from __future__ import annotations

import asyncio

from leoflow_common.auth import Capability
from leoflow_common.errors import NotFound
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.xcom.v1 import xcom_pb2
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...convert.xcom import xcom_entry_response, xcom_response
from ...datamodels.common import INT32_MAX
from ...datamodels.xcom import XComCollectionResponse
from ...http.endpoint import endpoint, gateway
from ...http.errors import HTTPError, leoflow_error_of
from ...http.params import parse_query, reject_unsupported
from ...http.responses import json_response
from ...lookups import Lookups
from ..common import PagedQuery, page_of, wildcard


class GetXComEntriesQuery(PagedQuery):
    xcom_key: str | None = None
    map_index: int | None = Field(default=None, ge=-1, le=INT32_MAX)


_UNSUPPORTED_XCOM_FILTERS = frozenset(
    {
        "xcom_key_pattern",
        "xcom_key_prefix_pattern",
        "dag_display_name_pattern",
        "dag_display_name_prefix_pattern",
        "run_id_pattern",
        "run_id_prefix_pattern",
        "task_id_pattern",
        "task_id_prefix_pattern",
        "map_index_filter",
    }
    | {f"{name}_{op}" for name in ("logical_date", "run_after") for op in ("gt", "gte", "lt", "lte")}
)


def _ti_key(entry: xcom_pb2.XComEntry) -> tuple[str, str, str, int]:
    return (entry.key.dag_id, entry.key.run_id, entry.key.task_id, entry.key.map_index)


@endpoint(Capability.READ)
async def get_xcom_entries(request: Request) -> Response:
    """XCom entries (without values) of the task instances the path names."""
    reject_unsupported(request, _UNSUPPORTED_XCOM_FILTERS)
    query = parse_query(request, GetXComEntriesQuery)
    pg = page_of(request, query)
    list_request = xcom_pb2.ListXComsRequest(
        dag_id=wildcard(request.path_params["dag_id"]),
        run_id=wildcard(request.path_params["dag_run_id"]),
        task_id=wildcard(request.path_params["task_id"]),
        xcom_key=query.xcom_key or "",
        page=pg.request(),
        include_values=False,
    )
    if query.map_index is not None:
        list_request.map_index = query.map_index
    clients = gateway(request).clients
    answer = await clients.xcom.ListXComs(list_request)
    entries = pg.take(list(answer.entries))
    lookups = Lookups(clients)
    runs, dag_names, task_names = await asyncio.gather(
        lookups.dag_runs((e.key.dag_id, e.key.run_id) for e in entries),
        lookups.dag_display_names(e.key.dag_id for e in entries),
        lookups.task_display_names(_ti_key(e) for e in entries),
    )
    items = [
        xcom_response(entry, run, (dag_names[entry.key.dag_id], task_names[_ti_key(entry)]))
        for entry in entries
        # An XCom outliving its run is being purged by the xcom service: not shown.
        if (run := runs[(entry.key.dag_id, entry.key.run_id)]) is not None
    ]
    return json_response(XComCollectionResponse(xcom_entries=items, total_entries=answer.total_entries))


class GetXComEntryQuery(BaseModel):
    map_index: int = Field(default=-1, ge=-1, le=INT32_MAX)
    deserialize: bool = False
    stringify: bool = False


@endpoint(Capability.READ)
async def get_xcom_entry(request: Request) -> Response:
    """One XCom entry with its value (native JSON, or a string with stringify=true)."""
    dag_id, run_id, task_id, xcom_key = (
        request.path_params[k] for k in ("dag_id", "dag_run_id", "task_id", "xcom_key")
    )
    query = parse_query(request, GetXComEntryQuery)
    clients = gateway(request).clients
    key = keys_pb2.TaskInstanceKey(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=query.map_index)
    lookups = Lookups(clients)
    not_found = HTTPError(404, f"XCom entry with key: `{xcom_key}` not found")
    try:
        answer, runs, dag_names, task_names = await asyncio.gather(
            clients.xcom.GetXCom(xcom_pb2.GetXComRequest(key=key, xcom_key=xcom_key)),
            lookups.dag_runs([(dag_id, run_id)]),
            lookups.dag_display_names([dag_id]),
            lookups.task_display_names([(dag_id, run_id, task_id, query.map_index)]),
        )
    except Exception as exc:
        if isinstance(leoflow_error_of(exc), NotFound):
            raise not_found from None
        raise
    run = runs[(dag_id, run_id)]
    if run is None:
        raise not_found
    names = (dag_names[dag_id], task_names[(dag_id, run_id, task_id, query.map_index)])
    return json_response(xcom_entry_response(answer.entry, run, names, stringify=query.stringify))


PREFIX = "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries"

routes = [
    Route(PREFIX, get_xcom_entries, methods=["GET"]),
    Route(PREFIX + "/{xcom_key}", get_xcom_entry, methods=["GET"]),
]
