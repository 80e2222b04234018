"""GET /api/v2/monitor/health (public): real gRPC health checks of the services.

Leoflow's metadata database belongs to the scheduler (it is its only writer and
reader), so the database is reported through the scheduler's health. Airflow's
triggerer runs deferred waits; in Leoflow the dispatcher does, so the dispatcher
is checked in its place when LEOFLOW_GATEWAY_DISPATCHER_ADDRESS is set (null
otherwise). Leoflow has no DAG processor (DAGs are compiled ahead of time):
`dag_processor` is null, which the UI shows as no badge at all.
"""

from __future__ import annotations

import asyncio

from grpc_health.v1 import health_pb2
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...datamodels.monitor import (
    BaseInfoResponse,
    HealthInfoResponse,
    SchedulerInfoResponse,
    TriggererInfoResponse,
)
from ...http.endpoint import PUBLIC, endpoint, gateway
from ...http.responses import json_response


async def _check(stub, deadline: float) -> str:
    try:
        answer = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=deadline)
    except Exception:  # noqa: BLE001 - unreachable, refused or timed out: all mean unhealthy
        return "unhealthy"
    return "healthy" if answer.status == health_pb2.HealthCheckResponse.SERVING else "unhealthy"


@endpoint(PUBLIC)
async def get_health(request: Request) -> Response:
    gw = gateway(request)
    stubs = gw.clients.health_stubs()
    names = list(stubs)
    results = await asyncio.gather(*(_check(stubs[name], gw.settings.health_timeout) for name in names))
    status = dict(zip(names, results, strict=True))
    health = HealthInfoResponse(
        metadatabase=BaseInfoResponse(status=status["scheduler"]),
        # No component keeps a heartbeat table: null, as Airflow answers when it has none.
        scheduler=SchedulerInfoResponse(status=status["scheduler"], latest_scheduler_heartbeat=None),
        triggerer=TriggererInfoResponse(status=status.get("dispatcher"), latest_triggerer_heartbeat=None),
        dag_processor=None,
        xcom=BaseInfoResponse(status=status["xcom"]),
        logs=BaseInfoResponse(status=status["logs"]),
    )
    return json_response(health)


routes = [Route("/monitor/health", get_health, methods=["GET"])]
