"""The shared server plumbing: health, reflection, auth, per-method access, errors."""

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from leoflow_proto.xcom.v1 import xcom_pb2, xcom_pb2_grpc

from leoflow_common.auth import Capability, TaskScope, TokenCodec
from leoflow_common.errors import InvalidArgument, NotFound, PermissionDenied
from leoflow_common.grpc import Access, AGENT_ONLY, ServiceRegistration, client_channel, current_principal, error_from_rpc, start_grpc_server, static_token

CODEC = TokenCodec("s3cret", "agent-s3cret")


class Servicer(xcom_pb2_grpc.XComServiceServicer):
    async def PushXCom(self, request, context):
        principal = current_principal()
        if request.xcom_key == "bad":
            raise InvalidArgument("value too large", field="value")
        return xcom_pb2.PushXComResponse(entry=xcom_pb2.XComEntry(xcom_key=principal.subject))

    async def GetXCom(self, request, context):
        raise NotFound("no such xcom")

    async def ListXComs(self, request, context):
        raise RuntimeError("boom: secret internals")

    async def DeleteXComs(self, request, context):
        return xcom_pb2.DeleteXComsResponse()

    async def ResolveArguments(self, request, context):
        return xcom_pb2.ResolveArgumentsResponse()


POLICY = {
    "PushXCom": Access(Capability.EXECUTE, agent=True),
    "GetXCom": Access(Capability.READ),
    "ListXComs": Access(Capability.READ),
    "DeleteXComs": Access(Capability.EXECUTE),
    "ResolveArguments": AGENT_ONLY,
}


@pytest.fixture
async def server():
    srv = await start_grpc_server(
        [ServiceRegistration(xcom_pb2_grpc.add_XComServiceServicer_to_server, Servicer(), "leoflow.xcom.v1.XComService", POLICY)],
        bind="127.0.0.1:0",
        codec=CODEC,
    )
    yield srv
    await srv.stop(0)


def stub(port, token=None):
    channel = client_channel(f"127.0.0.1:{port}", static_token(token) if token else None)
    return channel, xcom_pb2_grpc.XComServiceStub(channel)


async def test_health_and_reflection_need_no_token(server):
    channel = client_channel(f"127.0.0.1:{server.port}")
    resp = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service="leoflow.xcom.v1.XComService"))
    assert resp.status == health_pb2.HealthCheckResponse.SERVING
    await channel.close()


async def test_missing_token_is_unauthenticated(server):
    channel, s = stub(server.port)
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await s.GetXCom(xcom_pb2.GetXComRequest())
    assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
    await channel.close()


async def test_role_is_enforced_per_method(server):
    channel, s = stub(server.port, CODEC.mint_user("viewer", "default", ["Viewer"]))
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await s.DeleteXComs(xcom_pb2.DeleteXComsRequest())
    assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await s.GetXCom(xcom_pb2.GetXComRequest())
    assert isinstance(error_from_rpc(exc.value), NotFound)
    await channel.close()


async def test_agent_only_method_refuses_users_and_admits_agents(server):
    channel, s = stub(server.port, CODEC.mint_user("admin", "default", ["Admin"]))
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await s.ResolveArguments(xcom_pb2.ResolveArgumentsRequest())
    assert isinstance(error_from_rpc(exc.value), PermissionDenied)
    await channel.close()
    agent = CODEC.mint_agent("default", TaskScope("d", "r", "t", -1, 1, "exec-7"))
    channel, s = stub(server.port, agent)
    resp = await s.PushXCom(xcom_pb2.PushXComRequest(xcom_key="k"))
    assert resp.entry.xcom_key == "exec-7"  # the servicer saw the agent principal
    await channel.close()


async def test_domain_errors_keep_code_message_and_field(server):
    channel, s = stub(server.port, CODEC.mint_user("u", "default", ["User"]))
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await s.PushXCom(xcom_pb2.PushXComRequest(xcom_key="bad"))
    err = error_from_rpc(exc.value)
    assert isinstance(err, InvalidArgument) and err.field == "value" and "too large" in err.message
    await channel.close()


async def test_unexpected_exception_is_internal_without_details(server):
    channel, s = stub(server.port, CODEC.mint_user("u", "default", ["User"]))
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await s.ListXComs(xcom_pb2.ListXComsRequest())
    assert exc.value.code() == grpc.StatusCode.INTERNAL
    assert "boom" not in exc.value.details() and "incident" in exc.value.details()
    await channel.close()


async def test_policy_must_cover_every_method():
    with pytest.raises(ValueError, match="missing"):
        await start_grpc_server(
            [ServiceRegistration(xcom_pb2_grpc.add_XComServiceServicer_to_server, Servicer(), "leoflow.xcom.v1.XComService", {"PushXCom": AGENT_ONLY})],
            bind="127.0.0.1:0",
            codec=CODEC,
        )
