"""The task's variables and connections: fetched once from the dispatcher, handed to
the task's child process as Airflow's environment secrets backend reads them, and
masked in everything the agent ships out of the process.

- `fetch_task_secrets` calls AgentService.GetTaskSecrets (the dispatcher answers
  for the tenant in this agent's token). A dispatcher that predates the RPC
  (UNIMPLEMENTED) means "none"; any other failure is an infrastructure failure:
  the task must not run without its configuration.
- `TaskSecrets.env` is `AIRFLOW_VAR_<KEY>` (the value) and `AIRFLOW_CONN_<ID>`
  (Airflow's JSON connection format) for the CHILD process environment only:
  never the agent's own environment, a pod spec, or a log line.
- `SecretMasker.mask` replaces every secret value (connection passwords,
  sensitive extra fields, values of sensitive variables) with "***" in a text,
  as Airflow's secrets masker does for task logs; like Airflow it leaves values
  shorter than 5 characters alone (masking those would garble ordinary output).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import grpc
from leoflow_proto.dispatcher.v1 import agent_pb2

from .control_plane import call_with_retry

log = logging.getLogger("leoflow.agent")

MASK = "***"
# Airflow's [logging] min_length_masked_secret default.
MIN_MASKED_LENGTH = 5
# Linux refuses an environment string over MAX_ARG_STRLEN (32 pages) at exec.
MAX_ENV_STRING_BYTES = 128 * 1024
# Airflow never masks this word (it appears in every log line's logger names).
_NEVER_MASKED = frozenset({"airflow"})


class TaskSecretsUnavailable(Exception):
    """The variables and connections could not be fetched (the message says why)."""


class SecretMasker:
    """Replaces known secret values in text with "***" (longest first, so a secret
    containing another is hidden whole)."""

    def __init__(self, secrets: list[str] | tuple[str, ...] = ()):
        self._values: list[str] = []
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets) -> None:
        values = set(self._values)
        for secret in secrets:
            if not isinstance(secret, str) or len(secret) < MIN_MASKED_LENGTH or secret.lower() in _NEVER_MASKED:
                continue
            values.add(secret)
            encoded = quote(secret, safe="")  # as it appears inside a connection URI
            if encoded != secret:
                values.add(encoded)
        self._values = sorted(values, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, self._values))) if self._values else None

    def mask(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def mask_value(self, value: Any) -> Any:
        """`mask` applied to every string inside plain JSON data."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {k: self.mask_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.mask_value(v) for v in value]
        return value

    def __bool__(self) -> bool:
        return self._pattern is not None


@dataclass
class TaskSecrets:
    """The child's secret environment and the masker of its output."""

    env: dict[str, str] = field(default_factory=dict)
    masker: SecretMasker = field(default_factory=SecretMasker)
    # Variables or connections that cannot be delivered (their names only).
    skipped: list[str] = field(default_factory=list)


def _env_name(prefix: str, name: str) -> str | None:
    """Airflow's variable name for a key or connection id; None if no environment
    can carry it (an "=" would split the name)."""
    env_name = prefix + name.upper()
    return None if "=" in env_name else env_name


def connection_json(conn: Any) -> str:
    """Airflow's JSON connection format (what AIRFLOW_CONN_<ID> may hold)."""
    data: dict[str, Any] = {"conn_type": conn.conn_type}
    for name in ("description", "host", "login", "password", "schema", "port"):
        if conn.HasField(name):
            data[name] = getattr(conn, name)
    if conn.HasField("extra") and conn.extra:
        try:
            data["extra"] = json.loads(conn.extra)
        except ValueError:
            data["extra"] = conn.extra
    return json.dumps(data)


def build_task_secrets(answer: agent_pb2.GetTaskSecretsResponse) -> TaskSecrets:
    """The environment and masker for what the dispatcher delivered."""
    secrets = TaskSecrets()
    hidden: list[str] = []
    entries = [("AIRFLOW_VAR_", v.key, v.value) for v in answer.variables]
    entries += [("AIRFLOW_CONN_", c.connection_id, connection_json(c)) for c in answer.connections]
    for prefix, name, value in entries:
        env_name = _env_name(prefix, name)
        too_long = len(env_name.encode()) + len(value.encode()) + 1 > MAX_ENV_STRING_BYTES if env_name else True
        if env_name is None or too_long or "\x00" in value:
            secrets.skipped.append(f"{prefix}{name}")
            continue
        secrets.env[env_name] = value
    for variable in answer.variables:
        hidden += variable.secret_values
    for conn in answer.connections:
        hidden += conn.secret_values
    secrets.masker.add(hidden)
    return secrets


async def fetch_task_secrets(control_plane: Any, budget: float) -> TaskSecrets:
    """Ask the dispatcher for this task's variables and connections."""
    request = agent_pb2.GetTaskSecretsRequest()
    try:
        answer = await call_with_retry(
            control_plane.agent.GetTaskSecrets, request, metadata=control_plane.metadata, budget=budget, per_try=budget
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
            log.warning("the dispatcher does not deliver variables and connections; the task gets none")
            return TaskSecrets()
        raise TaskSecretsUnavailable(
            f"could not fetch the task's variables and connections ({exc.code().name}: {exc.details()})"
        ) from exc
    return build_task_secrets(answer)
