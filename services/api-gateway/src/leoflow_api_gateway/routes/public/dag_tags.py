"""GET /api/v2/dagTags: the distinct tags of every registered DAG (stale ones
included, as Airflow), filtered, sorted by name and paged.

The registry has no tag listing of its own, so the tags are gathered from the DAG
list, page by page; fine for the thousands of DAGs a deployment has, and the
first thing to move into the registry if that ever grows."""

from __future__ import annotations

from leoflow_common.auth import Capability
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.scheduler.v1 import registry_pb2
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...http.endpoint import endpoint, gateway
from ...http.errors import HTTPError
from ...http.params import parse_query
from ...http.responses import json_response
from ..common import PagedQuery, page_of

_BATCH = 500


class GetDagTagsQuery(PagedQuery):
    tag_name_pattern: str | None = None
    tag_name_prefix_pattern: str | None = None


async def _all_tags(request: Request) -> set[str]:
    registry = gateway(request).clients.registry
    tags: set[str] = set()
    offset = 0
    while True:
        page = keys_pb2.PageRequest(limit=_BATCH, offset=offset, order_by=["dag_id"])
        answer = await registry.ListDags(registry_pb2.ListDagsRequest(page=page, only_active=False))
        for dag in answer.dags:
            tags.update(dag.tags)
        offset += len(answer.dags)
        if not answer.dags or offset >= answer.total_entries:
            return tags


@endpoint(Capability.READ)
async def get_dag_tags(request: Request) -> Response:
    query = parse_query(request, GetDagTagsQuery)
    for name in query.order_by:
        if name.lstrip("-") != "name":
            # Airflow's SortParam wording (its spec lists no 400 here, but Airflow answers one).
            raise HTTPError(400, f"Ordering with '{name.lstrip('-')}' is disallowed or the attribute does not exist on the model")
    pg = page_of(request, query)
    tags = sorted(await _all_tags(request), reverse=query.order_by == ["-name"])
    if query.tag_name_pattern and query.tag_name_pattern != "~":
        needle = query.tag_name_pattern.lower()
        tags = [tag for tag in tags if needle in tag.lower()]
    if query.tag_name_prefix_pattern:
        tags = [tag for tag in tags if tag.startswith(query.tag_name_prefix_pattern)]
    return json_response({"tags": tags[pg.offset : pg.offset + pg.limit], "total_entries": len(tags)})


routes = [Route("/dagTags", get_dag_tags, methods=["GET"])]
