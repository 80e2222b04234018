"""Query parameters shared by Airflow's list endpoints (common/parameters.py there)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from leoflow_common.auth import Capability
from pydantic import BaseModel, Field, NonNegativeInt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..datamodels.common import INT32_MAX
from ..http.endpoint import endpoint, gateway
from ..http.paging import Page, page
from ..http.params import parse_query


class PagedQuery(BaseModel):
    limit: NonNegativeInt | None = None
    offset: Annotated[int, Field(ge=0, le=INT32_MAX)] = 0
    order_by: list[str] = []


def page_of(request: Request, query: PagedQuery, *, cursor: str | None = None) -> Page:
    settings = gateway(request).settings
    return page(
        limit=query.limit,
        offset=query.offset,
        order_by=query.order_by,
        cursor=cursor,
        fallback=settings.fallback_page_limit,
        maximum=settings.maximum_page_limit,
    )


def search_pattern(value: str | None) -> str:
    """Airflow's *_pattern filters (case-insensitive substring searches) as the
    services take them: the raw text, which they wrap in "%" themselves; "~" = all."""
    if not value or value == "~":
        return ""
    return value


def prefix_patterns(value: str | None) -> list[str]:
    """Airflow's *_prefix_pattern filters as the services take them: the prefixes
    (case-sensitive, literal `%`/`_`) split on "|", trailing non-alphanumerics
    stripped as Airflow strips them; [] = no filter ("~", empty, or a prefix that
    strips to nothing and so matches everything)."""
    if not value or value == "~":
        return []
    prefixes = []
    for part in value.split("|"):
        prefix = part.strip()
        while prefix and not prefix[-1].isalnum():
            prefix = prefix[:-1]
        if not prefix:
            return []
        prefixes.append(prefix)
    return prefixes


def wildcard(value: str) -> str:
    """Path segments accept "~" for "any" (dag_id, dag_run_id, task_id): the services take "~" or ""."""
    return "" if value == "~" else value


def empty_collection(key: str, why: str) -> Callable[[Request], Awaitable[Response]]:
    """A READ endpoint answering Airflow's collection `{key: [], total_entries: 0}`
    for a thing Leoflow does not have (`why` says so, for the reader). The paging
    parameters are still validated, as Airflow validates them."""

    @endpoint(Capability.READ)
    async def empty(request: Request) -> Response:
        parse_query(request, PagedQuery)
        return JSONResponse({key: [], "total_entries": 0})

    empty.__doc__ = why
    return empty
