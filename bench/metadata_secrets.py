"""Costs of variables and connections: prints figures, asserts nothing.

- `GetTaskSecrets` on a real scheduler (fresh PostgreSQL database, LEOFLOW_SECRET_KEY
  set) for a tenant with V variables and C connections: what every task start pays
  to get its environment (p50 / p99 over N calls, decryption included);
- `ListVariables` of one page of 100 (masking included), p50 / p99;
- the agent's masker: log lines per second through `SecretMasker.mask` with the
  secrets of those connections and variables.

Usage: uv run python bench/metadata_secrets.py [--variables 200] [--connections 50] [--calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

from leoflow_agent.task_secrets import build_task_secrets
from leoflow_common.auth import TokenCodec
from leoflow_common.grpc import client_channel, static_token
from leoflow_common.settings import BusSettings, SecuritySettings
from leoflow_common.testing.pytest_plugin import create_database, drop_database
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.dispatcher.v1 import agent_pb2
from leoflow_proto.scheduler.v1 import metadata_pb2 as m
from leoflow_proto.scheduler.v1 import metadata_pb2_grpc
from leoflow_scheduler.app import SchedulerApp
from leoflow_scheduler.settings import SchedulerSettings

JWT = "bench-metadata-jwt-secret-0123456789"
KEY = "5c" * 32


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:.2f} ms  p99 {p99 * 1000:.2f} ms"


async def timed(call, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


async def main(variables: int, connections: int, calls: int) -> None:
    name = f"leoflow_bench_meta_{uuid.uuid4().hex[:8]}"
    dsn = await create_database(name)
    app = SchedulerApp(SchedulerSettings(
        database_url=dsn, grpc_bind="127.0.0.1:0", security=SecuritySettings(jwt_secret=JWT, secret_key=KEY),
        bus=BusSettings(url="memory://"),
    ))  # fmt: skip
    await app.start()
    codec = TokenCodec(JWT)
    try:
        op = client_channel(f"127.0.0.1:{app.grpc_port}", static_token(codec.mint_user("bench", "default", ["Op"])))
        service = client_channel(f"127.0.0.1:{app.grpc_port}", static_token(codec.mint_service("dispatcher")))
        var_stub = metadata_pb2_grpc.VariableServiceStub(op)
        conn_stub = metadata_pb2_grpc.ConnectionServiceStub(op)
        secrets_stub = metadata_pb2_grpc.TaskSecretsServiceStub(service)
        await var_stub.BulkVariables(m.BulkVariablesRequest(actions=[m.BulkVariableAction(
            kind=m.BULK_ACTION_KIND_CREATE,
            entities=[m.VariableBody(key=f"var_{i}" + ("_password" if i % 10 == 0 else ""), value=f"value-{i}-" + "x" * 40)
                      for i in range(variables)],
        )]))  # fmt: skip
        await conn_stub.BulkConnections(m.BulkConnectionsRequest(actions=[m.BulkConnectionAction(
            kind=m.BULK_ACTION_KIND_CREATE,
            entities=[m.ConnectionBody(connection_id=f"conn_{i}", conn_type="postgres", host=f"db{i}.internal", login="etl",
                                       port=5432, password=f"pw-{i}-{uuid.uuid4().hex}",
                                       extra=json.dumps({"sslmode": "require", "api_key": uuid.uuid4().hex}))
                      for i in range(connections)],
        )]))  # fmt: skip

        async def fetch():
            return await secrets_stub.GetTaskSecrets(m.GetTaskSecretsRequest(tenant_id="default"))

        answer = await fetch()
        get_secrets = await timed(fetch, calls)
        page = m.ListVariablesRequest(page=keys_pb2.PageRequest(limit=100))
        list_page = await timed(lambda: var_stub.ListVariables(page), calls)

        delivered = build_task_secrets(agent_pb2.GetTaskSecretsResponse(variables=answer.variables, connections=answer.connections))
        passwords = [c.password for c in answer.connections] or ["none-at-all"]
        # One line in a hundred carries a password, as a careless task's log might.
        lines = [
            f"connecting with {passwords[i % len(passwords)]}" if i % 100 == 0
            else f"INFO processing row {i} for host db{i}.internal with nothing secret in it"
            for i in range(20_000)
        ]  # fmt: skip
        started = time.perf_counter()
        for line in lines:
            delivered.masker.mask(line)
        mask_rate = len(lines) / (time.perf_counter() - started)

        print(f"tenant with {variables} variables and {connections} connections "
              f"({len(delivered.env)} environment entries, {sum(len(k) + len(v) for k, v in delivered.env.items()) / 1024:.0f} KiB)")  # fmt: skip
        print(f"GetTaskSecrets (scheduler, decrypt all)   {percentiles(get_secrets)}  over {calls} calls")
        print(f"ListVariables page of 100 (masked)        {percentiles(list_page)}  over {calls} calls")
        print(f"agent masker                              {mask_rate:,.0f} log lines/s")
        await op.close()
        await service.close()
    finally:
        await app.stop()
        await drop_database(name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variables", type=int, default=200)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.variables, args.connections, args.calls))
