"""A grpc.aio server with health checking, reflection, authentication, per-method
authorization and error mapping, the same way in every service."""

from __future__ import annotations

import inspect
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ..auth import TokenCodec, bearer_token
from ..errors import FIELD_METADATA_KEY, LeoflowError
from ._context import reset_principal, set_principal
from ._policy import Access, ServiceRegistration

log = logging.getLogger(__name__)

_UNAUTHENTICATED_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class _AuthAndErrorsInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, codec: TokenCodec, policy: dict[str, Access]):
        self._codec = codec
        self._policy = policy

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(_UNAUTHENTICATED_PREFIXES):
            return handler
        access = self._policy.get(method)
        metadata = dict(handler_call_details.invocation_metadata or ())
        return _wrap(handler, lambda: self._authorize(method, access, metadata))

    def _authorize(self, method: str, access: Access | None, metadata: dict):
        if access is None:  # unreachable when start_grpc_server validated the policy
            raise LeoflowError(f"no access rule for {method}")
        token = bearer_token(metadata.get("authorization"))
        principal = self._codec.verify(token) if token else None
        access.check(principal)
        return principal


async def _abort(context: grpc.aio.ServicerContext, exc: BaseException) -> None:
    if isinstance(exc, LeoflowError):
        if exc.field:
            context.set_trailing_metadata(((FIELD_METADATA_KEY, exc.field),))
        await context.abort(exc.grpc_code, exc.message)
    incident = uuid.uuid4().hex[:12]
    log.exception("internal error %s", incident, exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL, f"internal error (incident {incident})")


def _wrap(handler: grpc.RpcMethodHandler, authorize) -> grpc.RpcMethodHandler:
    def unary_result(behavior):
        async def wrapper(request_or_iterator, context):
            token = None
            try:
                token = set_principal(authorize())
                return await behavior(request_or_iterator, context)
            except grpc.aio.AbortError:
                raise
            except BaseException as exc:  # noqa: BLE001 - mapped, never leaked
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                await _abort(context, exc)
            finally:
                if token is not None:
                    reset_principal(token)

        return wrapper

    def stream_result(behavior):
        async def wrapper(request_or_iterator, context):
            token = None
            try:
                token = set_principal(authorize())
                result = behavior(request_or_iterator, context)
                if inspect.isasyncgen(result):
                    async for item in result:
                        yield item
                else:  # a coroutine that writes with context.write()
                    await result
            except grpc.aio.AbortError:
                raise
            except BaseException as exc:  # noqa: BLE001
                if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
                    raise
                await _abort(context, exc)
            finally:
                if token is not None:
                    reset_principal(token)

        return wrapper

    kwargs = dict(request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer)
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary_result(handler.unary_unary), **kwargs)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary_result(handler.stream_unary), **kwargs)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(stream_result(handler.unary_stream), **kwargs)
    return grpc.stream_stream_rpc_method_handler(stream_result(handler.stream_stream), **kwargs)


def _full_policy(registrations: list[ServiceRegistration]) -> dict[str, Access]:
    policy: dict[str, Access] = {}
    pool = descriptor_pool.Default()
    for reg in registrations:
        service = pool.FindServiceByName(reg.full_name)
        missing = [m.name for m in service.methods if m.name not in reg.policy]
        extra = set(reg.policy) - {m.name for m in service.methods}
        if missing or extra:
            raise ValueError(f"{reg.full_name}: access policy missing {missing} / unknown {sorted(extra)}")
        for name, access in reg.policy.items():
            policy[f"/{reg.full_name}/{name}"] = access
    return policy


@dataclass
class GrpcServer:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    service_names: tuple[str, ...]

    async def stop(self, grace: float = 2.0) -> None:
        for name in (*self.service_names, ""):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(grace)


async def start_grpc_server(
    registrations: list[ServiceRegistration],
    *,
    bind: str,
    codec: TokenCodec,
    extra_interceptors: list[Any] | None = None,
) -> GrpcServer:
    """Start serving `registrations` on `bind` ("127.0.0.1:0" picks a free port).

    Health checking reports SERVING for each service and for "" once started;
    reflection lists every service. Every call to a leoflow service is
    authenticated and checked against its method's Access rule.
    """
    policy = _full_policy(registrations)
    interceptors = [*(extra_interceptors or ()), _AuthAndErrorsInterceptor(codec, policy)]
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ],
    )
    for reg in registrations:
        reg.add_to_server(reg.servicer, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = tuple(reg.full_name for reg in registrations)
    reflection.enable_server_reflection((*names, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    port = server.add_insecure_port(bind)
    if port == 0:
        raise OSError(f"cannot bind gRPC server to {bind}")
    await server.start()
    for name in (*names, ""):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return GrpcServer(server=server, port=port, health=health_servicer, service_names=names)
