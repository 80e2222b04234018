"""Runtime-only APIs: Variable, Connection, BaseHook and get_current_context.

They only mean something while a task runs: the agent delivers variables and connections
as AIRFLOW_VAR_<KEY> / AIRFLOW_CONN_<ID> in the task process's environment (Airflow's
own convention) and installs the task context with `task_context()`. At compile time no
variable or connection exists; a lookup without a default fails with a message saying so.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from airflow._shim.exceptions import AirflowNotFoundException
from airflow._shim.params import NOTSET

_contexts: list[dict[str, Any]] = []


@contextlib.contextmanager
def task_context(context: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Make `context` what get_current_context() returns inside the block (used by the agent)."""
    _contexts.append(context)
    try:
        yield context
    finally:
        _contexts.pop()


def get_current_context() -> dict[str, Any]:
    """The running task's context (ti, params, logical_date, ...)."""
    if not _contexts:
        raise RuntimeError(
            "Current context was requested but no context was found! "
            "get_current_context() only works while a task is running."
        )
    return _contexts[-1]


class Variable:
    """Airflow Variables, read from AIRFLOW_VAR_<KEY> in the task's environment."""

    @staticmethod
    def get(key: str, default: Any = NOTSET, deserialize_json: bool = False, default_var: Any = NOTSET) -> Any:
        if default is NOTSET:
            default = default_var
        raw = os.environ.get(f"AIRFLOW_VAR_{key.upper()}")
        if raw is None:
            if default is not NOTSET:
                return default
            raise KeyError(
                f"Variable {key} does not exist (variables are only available while a task runs; "
                "read them inside the task or pass a default)"
            )
        return json.loads(raw) if deserialize_json else raw

    @staticmethod
    def set(key: str, value: Any, description: str | None = None, serialize_json: bool = False) -> None:
        raise NotImplementedError("Variable.set() is not supported by Leoflow yet")

    @staticmethod
    def delete(key: str) -> None:
        raise NotImplementedError("Variable.delete() is not supported by Leoflow yet")


class Connection:
    """An Airflow connection; `Connection.get(conn_id)` reads AIRFLOW_CONN_<ID> (URI or JSON)."""

    def __init__(self, conn_id: str | None = None, conn_type: str | None = None, description: str | None = None,
                 host: str | None = None, login: str | None = None, password: str | None = None,
                 schema: str | None = None, port: int | None = None, extra: str | dict | None = None,
                 uri: str | None = None):
        self.conn_id = conn_id
        self.description = description
        self.conn_type, self.host, self.login, self.password = conn_type, host, login, password
        self.schema, self.port = schema, port
        self.extra = json.dumps(extra) if isinstance(extra, dict) else extra
        if uri:
            self._parse_uri(uri)

    def _parse_uri(self, uri: str) -> None:
        parts = urlsplit(uri)
        self.conn_type = parts.scheme.replace("-", "_")
        self.host = unquote(parts.hostname) if parts.hostname else None
        self.login = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.port = parts.port
        self.schema = unquote(parts.path.lstrip("/")) or None
        if parts.query:
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            self.extra = query.pop("__extra__", None) or json.dumps(query)

    @property
    def extra_dejson(self) -> dict[str, Any]:
        if not self.extra:
            return {}
        try:
            value = json.loads(self.extra)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def get_uri(self) -> str:
        auth = ""
        if self.login or self.password:
            auth = quote(self.login or "", safe="") + (":" + quote(self.password, safe="") if self.password else "") + "@"
        host = self.host or ""
        port = f":{self.port}" if self.port else ""
        schema = f"/{quote(self.schema, safe='')}" if self.schema else ""
        return f"{(self.conn_type or '').replace('_', '-')}://{auth}{host}{port}{schema}"

    @classmethod
    def get(cls, conn_id: str) -> Connection:
        raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
        if raw is None:
            raise AirflowNotFoundException(
                f"The conn_id `{conn_id}` isn't defined (connections are only available while a task runs)"
            )
        if raw.lstrip().startswith("{"):
            fields = json.loads(raw)
            return cls(conn_id=conn_id, **fields)
        return cls(conn_id=conn_id, uri=raw)

    def __repr__(self) -> str:
        return f"Connection({self.conn_id!r})"


class BaseHook:
    """Hooks' base class; only `get_connection` is meaningful in Leoflow."""

    def __init__(self, *args: Any, **kwargs: Any):
        pass

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        return Connection.get(conn_id)
