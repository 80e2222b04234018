"""gRPC plumbing every service shares: servers with health, reflection, auth and
error mapping; clients that attach credentials and map status codes back."""

from ._client import TokenProvider, client_channel, error_from_rpc, static_token
from ._context import current_principal
from ._policy import Access, AGENT_ONLY, ServiceRegistration
from ._server import GrpcServer, start_grpc_server

__all__ = [
    "AGENT_ONLY",
    "Access",
    "GrpcServer",
    "ServiceRegistration",
    "TokenProvider",
    "client_channel",
    "current_principal",
    "error_from_rpc",
    "start_grpc_server",
    "static_token",
]
