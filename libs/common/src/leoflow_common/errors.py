"""One small error taxonomy, translated only at the edges.

Domain code raises these. One gRPC interceptor maps them to status codes
(`leoflow_common.grpc`), the client side maps status codes back, and the gateway
maps them to Airflow-shaped HTTP errors. Anything else is an internal error:
logged once, answered with a generic message, never a traceback.
"""

from __future__ import annotations

import grpc


class LeoflowError(Exception):
    """Root of every error Leoflow means to show to a caller."""

    grpc_code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    http_status: int = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # The offending input field, when there is one (REST 422 bodies name it).
        self.field = field


class InvalidArgument(LeoflowError):
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 400


class NotFound(LeoflowError):
    grpc_code = grpc.StatusCode.NOT_FOUND
    http_status = 404


class AlreadyExists(LeoflowError):
    grpc_code = grpc.StatusCode.ALREADY_EXISTS
    http_status = 409


class FailedPrecondition(LeoflowError):
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    http_status = 409


class Unauthenticated(LeoflowError):
    grpc_code = grpc.StatusCode.UNAUTHENTICATED
    http_status = 401


class PermissionDenied(LeoflowError):
    grpc_code = grpc.StatusCode.PERMISSION_DENIED
    http_status = 403


class Unavailable(LeoflowError):
    grpc_code = grpc.StatusCode.UNAVAILABLE
    http_status = 503


class Unimplemented(LeoflowError):
    grpc_code = grpc.StatusCode.UNIMPLEMENTED
    http_status = 501


class Internal(LeoflowError):
    grpc_code = grpc.StatusCode.INTERNAL
    http_status = 500


_BY_CODE: dict[grpc.StatusCode, type[LeoflowError]] = {
    cls.grpc_code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        Unauthenticated,
        PermissionDenied,
        Unavailable,
        Unimplemented,
        Internal,
    )
}
# Codes without a class of their own.
_BY_CODE[grpc.StatusCode.OUT_OF_RANGE] = InvalidArgument
_BY_CODE[grpc.StatusCode.ABORTED] = FailedPrecondition
_BY_CODE[grpc.StatusCode.DEADLINE_EXCEEDED] = Unavailable
_BY_CODE[grpc.StatusCode.RESOURCE_EXHAUSTED] = Unavailable

# Trailing metadata key that carries LeoflowError.field across gRPC.
FIELD_METADATA_KEY = "leoflow-error-field"


def error_for_status(code: grpc.StatusCode, message: str, field: str | None = None) -> LeoflowError:
    """The LeoflowError a gRPC status stands for (client side of the mapping)."""
    cls = _BY_CODE.get(code, Internal)
    return cls(message or code.name.lower(), field=field)
