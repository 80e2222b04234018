"""Settings come from LEOFLOW_DISPATCHER_* (and the shared LEOFLOW_* ones); the
composition root refuses bad settings with a clear message, never a traceback."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from leoflow_common.settings import env_var_names
from leoflow_common.testing import assert_eventually, free_port
from leoflow_dispatcher import DispatcherSettings
from pydantic import ValidationError

SECRETS = {"LEOFLOW_JWT_SECRET": "j" * 32, "LEOFLOW_AGENT_TOKEN_SECRET": "a" * 32}


@pytest.fixture
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("LEOFLOW_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_settings_are_read_from_the_environment(clean_env, tmp_path):
    for name, value in {
        **SECRETS,
        "LEOFLOW_DISPATCHER_GRPC_BIND": "127.0.0.1:6000",
        "LEOFLOW_DISPATCHER_ADVERTISE_ADDRESS": "dispatcher-0.leoflow:6000",
        "LEOFLOW_DISPATCHER_XCOM_ADDRESS": "xcom:50053",
        "LEOFLOW_DISPATCHER_VENV_ROOT": str(tmp_path / "venvs"),
        "LEOFLOW_DISPATCHER_HEARTBEAT_TIMEOUT": "45",
        "LEOFLOW_DISPATCHER_CONCURRENCY": "4",
        "LEOFLOW_BUS_URL": "memory://",
    }.items():
        clean_env.setenv(name, value)

    settings = DispatcherSettings()

    assert settings.grpc_bind == "127.0.0.1:6000"
    assert settings.advertise_address == "dispatcher-0.leoflow:6000"
    assert settings.xcom_address == "xcom:50053"
    assert settings.venv_root == tmp_path / "venvs"
    assert settings.heartbeat_timeout == 45.0 and settings.concurrency == 4
    assert settings.backend == "local" and settings.fallback_python == sys.executable
    assert settings.agent_token_secret == "a" * 32
    assert settings.bus.url == "memory://"


def test_documented_variables():
    names = env_var_names(DispatcherSettings)
    for name in (
        "LEOFLOW_DISPATCHER_GRPC_BIND",
        "LEOFLOW_DISPATCHER_ADVERTISE_ADDRESS",
        "LEOFLOW_DISPATCHER_XCOM_ADDRESS",
        "LEOFLOW_DISPATCHER_LOGS_ADDRESS",
        "LEOFLOW_DISPATCHER_BACKEND",
        "LEOFLOW_DISPATCHER_VENV_ROOT",
        "LEOFLOW_DISPATCHER_FALLBACK_PYTHON",
        "LEOFLOW_DISPATCHER_WORK_DIR",
        "LEOFLOW_DISPATCHER_HEARTBEAT_INTERVAL",
        "LEOFLOW_DISPATCHER_HEARTBEAT_TIMEOUT",
        "LEOFLOW_DISPATCHER_CONCURRENCY",
        "LEOFLOW_DISPATCHER_AGENT_TOKEN_TTL",
        "LEOFLOW_AGENT_TOKEN_SECRET",
        "LEOFLOW_JWT_SECRET",
        "LEOFLOW_BUS_URL",
    ):
        assert name in names


@pytest.mark.parametrize(
    "env, message",
    [
        ({"LEOFLOW_JWT_SECRET": "j" * 32}, "LEOFLOW_AGENT_TOKEN_SECRET is required"),
        (
            {
                **SECRETS,
                "LEOFLOW_DISPATCHER_HEARTBEAT_TIMEOUT": "2",
                "LEOFLOW_DISPATCHER_HEARTBEAT_INTERVAL": "5",
            },
            "must exceed",
        ),
        ({**SECRETS, "LEOFLOW_DISPATCHER_BACKEND": "docker"}, "backend"),
        ({**SECRETS, "LEOFLOW_DISPATCHER_CONCURRENCY": "0"}, "concurrency"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(clean_env, env, message):
    for name, value in env.items():
        clean_env.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        DispatcherSettings()


async def _run_main(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "leoflow_dispatcher",
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_main_without_secrets_exits_with_a_message_not_a_traceback():
    process = await _run_main({"LEOFLOW_BUS_URL": "memory://"})
    _, stderr = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode == 2
    text = stderr.decode()
    assert "leoflow-dispatcher: invalid dispatcher settings" in text
    assert "Traceback" not in text


async def test_main_serves_until_sigterm(tmp_path):
    port = free_port()
    process = await _run_main(
        {
            **SECRETS,
            "LEOFLOW_BUS_URL": "memory://",
            "LEOFLOW_DISPATCHER_GRPC_BIND": f"127.0.0.1:{port}",
            "LEOFLOW_DISPATCHER_WORK_DIR": str(tmp_path / "work"),
        }
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)

            async def serving():
                try:
                    reply = await health.Check(
                        health_pb2.HealthCheckRequest(service="leoflow.dispatcher.v1.AgentService"),
                        timeout=1,
                    )
                except grpc.aio.AioRpcError:
                    return False
                return reply.status == health_pb2.HealthCheckResponse.SERVING

            await assert_eventually(serving, timeout=60)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, stderr.decode()
        assert "Traceback" not in stderr.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
