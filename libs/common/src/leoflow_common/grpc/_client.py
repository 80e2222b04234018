"""Client channels that attach the caller's credentials to every call, and the
mapping of gRPC status codes back to Leoflow errors."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from ..errors import FIELD_METADATA_KEY, LeoflowError, error_for_status

TokenProvider = Callable[[], str | None]


def static_token(token: str) -> TokenProvider:
    return lambda: token


class _Credentials:
    def __init__(self, provider: TokenProvider):
        self._provider = provider

    def _details(self, details):
        token = self._provider()
        if not token:
            return details
        metadata = [m for m in (details.metadata or ()) if m[0] != "authorization"]
        metadata.append(("authorization", f"Bearer {token}"))
        return details._replace(metadata=metadata)


class _UnaryUnary(_Credentials, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, details, request):
        return await continuation(self._details(details), request)


class _UnaryStream(_Credentials, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, details, request):
        return await continuation(self._details(details), request)


class _StreamUnary(_Credentials, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation, details, request_iterator):
        return await continuation(self._details(details), request_iterator)


class _StreamStream(_Credentials, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation, details, request_iterator):
        return await continuation(self._details(details), request_iterator)


def client_channel(target: str, token_provider: TokenProvider | None = None, *, extra_interceptors=()) -> grpc.aio.Channel:
    """An insecure channel to `target` ("host:port", or "ipv4:a:1,b:2" for several
    replicas, tried in order) that sends `token_provider()` as a bearer token."""
    interceptors = list(extra_interceptors)
    if token_provider is not None:
        interceptors += [cls(token_provider) for cls in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)]
    options = [
        ("grpc.max_receive_message_length", 16 * 1024 * 1024),
        ("grpc.max_send_message_length", 16 * 1024 * 1024),
        ("grpc.enable_retries", 1),
        ("grpc.keepalive_time_ms", 30000),
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 2000),
    ]
    return grpc.aio.insecure_channel(target, options=options, interceptors=interceptors or None)


def error_from_rpc(exc: grpc.aio.AioRpcError) -> LeoflowError:
    """The Leoflow error a failed call stands for (field name included)."""
    field = None
    for key, value in exc.trailing_metadata() or ():
        if key == FIELD_METADATA_KEY:
            field = value
    return error_for_status(exc.code(), exc.details() or "", field)
