"""Leoflow's api-gateway: Airflow 3.2.2's REST API (/api/v2), private UI API (/ui),
simple-auth login and the unmodified Airflow UI, translated to gRPC calls to the
scheduler, xcom and logs services. It holds no database connection."""

from .app import GatewayApp, create_asgi_app
from .clients import GatewayClients
from .settings import GatewaySettings

__all__ = ["GatewayApp", "GatewayClients", "GatewaySettings", "create_asgi_app"]
