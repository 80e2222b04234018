"""The context's `var` and `conn`: Variables and Connections from the task's env.

Leoflow delivers a task's variables and connections as AIRFLOW_VAR_<KEY> and
AIRFLOW_CONN_<CONN_ID> in its process environment, Airflow's own environment
secrets backend convention, so these accessors read exactly what
`Variable.get` / `Connection.get` read:

    {{ var.value.my_key }}          the string value; a missing one fails the task
    {{ var.json.my_key.field }}     the value parsed as JSON
    {{ var.value.get("k", "d") }}   with a default instead of failing
    {{ conn.my_db.host }}           a Connection; conn.get("id") is None if missing
"""

from __future__ import annotations

from typing import Any

from airflow._shim.exceptions import AirflowNotFoundException
from airflow._shim.runtime import Connection, Variable


class VariableNotFound(KeyError):
    """A variable the template asked for does not exist (Airflow: VARIABLE_NOT_FOUND)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class VariableAccessor:
    """`var.value` (strings) or `var.json` (parsed JSON)."""

    def __init__(self, *, deserialize_json: bool) -> None:
        self._deserialize_json = deserialize_json

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return Variable.get(key, deserialize_json=self._deserialize_json)
        except KeyError:
            raise VariableNotFound(f"Variable {key} not found") from None

    def get(self, key: str, default: Any = None) -> Any:
        return Variable.get(key, default, deserialize_json=self._deserialize_json)

    def __repr__(self) -> str:
        return "<VariableAccessor (dynamic access)>"


class ConnectionAccessor:
    """`conn`: `conn.<conn_id>` or `conn.get(conn_id, default_conn=None)`."""

    def __getattr__(self, conn_id: str) -> Any:
        if conn_id.startswith("__"):
            raise AttributeError(conn_id)
        return Connection.get(conn_id)

    def get(self, conn_id: str, default_conn: Any = None) -> Any:
        try:
            return Connection.get(conn_id)
        except AirflowNotFoundException:
            return default_conn

    def __repr__(self) -> str:
        return "<ConnectionAccessor (dynamic access)>"


def variable_accessors() -> dict[str, VariableAccessor]:
    """The context's `var` entry."""
    return {"value": VariableAccessor(deserialize_json=False), "json": VariableAccessor(deserialize_json=True)}
