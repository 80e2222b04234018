"""The authenticated caller of the RPC being served."""

from __future__ import annotations

from contextvars import ContextVar

from ..auth import Principal

_principal: ContextVar[Principal | None] = ContextVar("leoflow_grpc_principal", default=None)


def current_principal() -> Principal | None:
    """The caller of the RPC in progress (set by the server's auth interceptor)."""
    return _principal.get()


def set_principal(principal: Principal | None):
    return _principal.set(principal)


def reset_principal(token) -> None:
    _principal.reset(token)
