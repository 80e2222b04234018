"""What every servicer needs: who calls (tenant and name), paging, timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
from leoflow_common.errors import InvalidArgument, Unauthenticated
from leoflow_common.grpc import current_principal
from leoflow_proto.common.v1 import keys_pb2

# gRPC metadata a service principal may send to act within one tenant.
TENANT_METADATA_KEY = "leoflow-tenant"
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


def caller_tenant(
    context: grpc.aio.ServicerContext, default_tenant: str, requested: str = ""
) -> str:
    """The tenant the call acts in: a user's own tenant; for a service principal
    (tenant "*"), the tenant named by the request, else by the "leoflow-tenant"
    metadata, else the default tenant."""
    principal = current_principal()
    if principal is None:
        raise Unauthenticated("Not authenticated")
    if principal.tenant_id != "*":
        return principal.tenant_id
    if requested:
        return requested
    metadata = dict(context.invocation_metadata() or ())
    return metadata.get(TENANT_METADATA_KEY) or default_tenant


def caller_name() -> str | None:
    """The user (or service) making the call, for audit records."""
    principal = current_principal()
    return principal.subject if principal is not None else None


def page(request_page: keys_pb2.PageRequest) -> tuple[int, int, list[str]]:
    """(limit, offset, order_by) of a PageRequest; limit 0 means the default."""
    if request_page.limit < 0:
        raise InvalidArgument("limit must not be negative", field="page.limit")
    if request_page.offset < 0:
        raise InvalidArgument("offset must not be negative", field="page.offset")
    limit = min(request_page.limit or DEFAULT_LIMIT, MAX_LIMIT)
    return limit, request_page.offset, list(request_page.order_by)


def timestamp(message, field: str) -> datetime | None:
    """The value of a Timestamp field, or None when unset; InvalidArgument when it
    is not a representable date."""
    if not message.HasField(field):
        return None
    try:
        return getattr(message, field).ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidArgument(f"{field} is not a valid timestamp", field=field) from exc


def require(value: str, field: str) -> str:
    """The value of a required string field; InvalidArgument naming it when empty."""
    if not value:
        raise InvalidArgument(f"{field} is required", field=field)
    return value


def wildcard(value: str) -> list[str]:
    """Airflow's "~" (or empty) means any: no filter."""
    return [] if value in ("", "~") else [value]


def from_enum(convert, value: int, field: str):
    """convert(value) for a proto enum value; InvalidArgument for an unknown value."""
    try:
        return convert(value)
    except (KeyError, ValueError) as exc:
        raise InvalidArgument(f"unknown value {value} for {field}", field=field) from exc
