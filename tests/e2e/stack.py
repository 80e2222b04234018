"""The multi-process stack for end-to-end tests: every service in its own process
(`python -m leoflow_<svc>`), against the real PostgreSQL, RabbitMQ and Redis.

One stack per test session (per xdist worker): a fresh database, a bus namespace
and a Redis key prefix of its own, free loopback ports. Two scheduler replicas run
so a test can kill the leader. Each process's output goes to a log file that is
printed when a test fails to start the stack.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from leoflow_common.testing import free_port
from leoflow_common.testing.pytest_plugin import delete_bus_namespace

REPO = Path(__file__).resolve().parents[2]


@dataclass
class ServiceProcess:
    name: str
    module: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
        )
        log.close()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@dataclass
class Stack:
    """Addresses and credentials of a running stack."""

    workdir: Path
    database_url: str
    jwt_secret: str
    agent_token_secret: str
    admin_password: str
    leoflow_home: Path
    ports: dict[str, int] = field(default_factory=dict)
    # Encrypts variables and connection secrets at rest (LEOFLOW_SECRET_KEY).
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def address(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    def scheduler_pids(self) -> dict[str, int]:
        return {n: s.process.pid for n, s in self.services.items() if n.startswith("scheduler") and s.alive}

    def stop(self) -> None:
        """Stop every process, then delete the stack's queues and exchanges (quorum
        queues left behind by many runs would exhaust the shared broker)."""
        for service in reversed(list(self.services.values())):
            service.stop()
        if self.amqp_url and self.bus_namespace:
            # A thread of its own: stop() is called from sync and async code alike.
            cleaner = threading.Thread(target=asyncio.run, args=(delete_bus_namespace(self.amqp_url, self.bus_namespace),))
            cleaner.start()
            cleaner.join(timeout=60)

    def logs(self) -> str:
        return "\n\n".join(f"===== {s.name} =====\n{s.log_tail()}" for s in self.services.values())


def socket_owner(local_port: int, candidates: dict[str, int]) -> str | None:
    """Which of `candidates` (name -> pid) owns the TCP socket bound to `local_port`
    on this machine (via /proc: the socket's inode in /proc/net/tcp*, then the
    process whose fds include it)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == local_port:
                inodes.add(fields[9])
    for name, pid in candidates.items():
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return name
    return None


def stack_environment(stack: Stack, *, amqp_url: str, bus_namespace: str, redis_url: str, redis_prefix: str) -> dict[str, dict[str, str]]:
    """The environment of each service process (the documented variables only)."""
    base = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "LEOFLOW_JWT_SECRET": stack.jwt_secret,
        "LEOFLOW_AGENT_TOKEN_SECRET": stack.agent_token_secret,
        "LEOFLOW_SECRET_KEY": stack.secret_key,
        "LEOFLOW_BUS_URL": amqp_url,
        "LEOFLOW_BUS_NAMESPACE": bus_namespace,
        "LEOFLOW_LOG_JSON": "false",
    }
    scheduler = {
        **base,
        "LEOFLOW_SCHEDULER_BOOTSTRAP_ADMIN_PASSWORD": stack.admin_password,
        "LEOFLOW_SCHEDULER_DAGS_ARE_PAUSED_AT_CREATION": "false",
    }
    schedulers = f"ipv4:{stack.address('scheduler')},{stack.address('scheduler_standby')}"

    def replica(name: str) -> dict[str, str]:
        return {
            **scheduler,
            "LEOFLOW_SCHEDULER_GRPC_BIND": stack.address(name),
            "LEOFLOW_SCHEDULER_DATABASE_URL": stack.database_url,
        }

    return {
        "scheduler": replica("scheduler"),
        "scheduler_standby": replica("scheduler_standby"),
        "xcom": {
            **base,
            "LEOFLOW_XCOM_GRPC_BIND": stack.address("xcom"),
            "LEOFLOW_XCOM_BACKEND": "redis",
            "LEOFLOW_XCOM_REDIS_URL": redis_url,
            "LEOFLOW_XCOM_KEY_PREFIX": f"{redis_prefix}xcom:",
        },
        "logs": {
            **base,
            "LEOFLOW_LOGS_GRPC_BIND": stack.address("logs"),
            "LEOFLOW_LOGS_BACKEND": "redis",
            "LEOFLOW_LOGS_REDIS_URL": redis_url,
            "LEOFLOW_LOGS_KEY_PREFIX": f"{redis_prefix}logs:",
            "LEOFLOW_LOGS_DATABASE_URL": stack.database_url,
            "LEOFLOW_LOGS_DIRECTORY": str(stack.workdir / "logs"),
        },
        "dispatcher": {
            **base,
            "LEOFLOW_DISPATCHER_GRPC_BIND": stack.address("dispatcher"),
            "LEOFLOW_DISPATCHER_ADVERTISE_ADDRESS": stack.address("dispatcher"),
            "LEOFLOW_DISPATCHER_XCOM_ADDRESS": stack.address("xcom"),
            "LEOFLOW_DISPATCHER_LOGS_ADDRESS": stack.address("logs"),
            "LEOFLOW_DISPATCHER_SCHEDULER_ADDRESS": schedulers,
            "LEOFLOW_DISPATCHER_VENV_ROOT": str(stack.leoflow_home / "venvs"),
            "LEOFLOW_DISPATCHER_WORK_DIR": str(stack.workdir / "dispatcher"),
        },
        "gateway": {
            **base,
            "LEOFLOW_GATEWAY_HOST": "127.0.0.1",
            "LEOFLOW_GATEWAY_PORT": str(stack.ports["gateway"]),
            "LEOFLOW_GATEWAY_SCHEDULER_ADDRESS": schedulers,
            "LEOFLOW_GATEWAY_XCOM_ADDRESS": stack.address("xcom"),
            "LEOFLOW_GATEWAY_LOGS_ADDRESS": stack.address("logs"),
        },
    }


MODULES = {
    "scheduler": "leoflow_scheduler",
    "scheduler_standby": "leoflow_scheduler",
    "xcom": "leoflow_xcom",
    "logs": "leoflow_logs",
    "dispatcher": "leoflow_dispatcher",
    "gateway": "leoflow_api_gateway",
}


async def wait_grpc_serving(address: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"gRPC server at {address} not serving after {timeout}s")
            await asyncio.sleep(0.05)


async def wait_http_ok(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while True:
            try:
                if (await http.get(url, timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} not answering 200 after {timeout}s")
            await asyncio.sleep(0.05)


async def start_stack(workdir: Path, *, database_url: str, leoflow_home: Path, amqp_url: str, redis_url: str) -> Stack:
    workdir.mkdir(parents=True, exist_ok=True)
    stack = Stack(
        workdir=workdir,
        database_url=database_url,
        jwt_secret=secrets.token_urlsafe(48),
        agent_token_secret=secrets.token_urlsafe(48),
        admin_password=secrets.token_urlsafe(12),
        leoflow_home=leoflow_home,
        ports={name: free_port() for name in MODULES},
    )
    tag = uuid.uuid4().hex[:10]
    stack.amqp_url, stack.bus_namespace = amqp_url, f"e2e.{tag}"
    envs = stack_environment(stack, amqp_url=amqp_url, bus_namespace=stack.bus_namespace, redis_url=redis_url, redis_prefix=f"leoflow-e2e:{tag}:")
    for name, module in MODULES.items():
        stack.services[name] = ServiceProcess(name, module, envs[name], workdir / f"{name}.log")
    try:
        # The scheduler migrates the database first; the standby starts once it has.
        stack.services["scheduler"].start()
        await wait_grpc_serving(stack.address("scheduler"), timeout=60)
        for name in ("scheduler_standby", "xcom", "logs"):
            stack.services[name].start()
        for name in ("scheduler_standby", "xcom", "logs"):
            await wait_grpc_serving(stack.address(name), timeout=60)
        stack.services["dispatcher"].start()
        await wait_grpc_serving(stack.address("dispatcher"), timeout=60)
        stack.services["gateway"].start()
        await wait_http_ok(f"{stack.gateway_url}/api/v2/version", timeout=60)
    except Exception as exc:
        logs = stack.logs()
        stack.stop()
        raise RuntimeError(f"stack did not start: {exc}\n{logs}") from exc
    return stack
