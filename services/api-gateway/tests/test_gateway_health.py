"""GET /api/v2/monitor/health asks each service's gRPC health endpoint."""

from __future__ import annotations

from leoflow_api_gateway import GatewayClients
from leoflow_common.auth import TokenCodec
from leoflow_common.grpc import start_grpc_server
from leoflow_common.testing import free_port


async def test_health_reports_each_service_as_its_grpc_health_says(gateway_client, make_settings, jwt_secret, contract):
    # A real gRPC server whose health service reports SERVING, standing in as every service.
    server = await start_grpc_server([], bind="127.0.0.1:0", codec=TokenCodec(jwt_secret))
    serving = f"127.0.0.1:{server.port}"
    nowhere = f"127.0.0.1:{free_port()}"
    clients = GatewayClients.connect(scheduler=serving, xcom=serving, logs=nowhere, dispatcher=serving)
    try:
        response = await gateway_client(make_settings(), clients).get("/api/v2/monitor/health")
        assert response.status_code == 200
        body = response.json()
        contract.validate("HealthInfoResponse", body, extensions=("xcom", "logs"))
        assert body["metadatabase"] == {"status": "healthy"}
        assert body["scheduler"] == {"status": "healthy", "latest_scheduler_heartbeat": None}
        assert body["triggerer"]["status"] == "healthy"  # the dispatcher runs deferred waits
        assert body["dag_processor"] is None  # none in Leoflow: the UI shows no badge
        assert body["xcom"] == {"status": "healthy"} and body["logs"] == {"status": "unhealthy"}

        await server.stop(grace=0)
        after = (await gateway_client(make_settings(), clients).get("/api/v2/monitor/health")).json()
        assert after["scheduler"]["status"] == "unhealthy" and after["triggerer"]["status"] == "unhealthy"
    finally:
        await server.stop(grace=0)
        await clients.close()


async def test_without_a_dispatcher_address_the_triggerer_is_unknown(offline):
    body = (await offline.get("/api/v2/monitor/health")).json()
    assert body["triggerer"] == {"status": None, "latest_triggerer_heartbeat": None}
