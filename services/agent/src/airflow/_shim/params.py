"""DAG params: Param (a default plus JSON-schema keywords) and ParamsDict.

The compiler records each param's default and schema; validation against the schema
happens when a run is triggered, never here.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any


class _NotSet:
    """Marker for "no value given" (None is a legitimate default)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOTSET"

    def __bool__(self) -> bool:
        return False


NOTSET: Any = _NotSet()
ArgNotSet = _NotSet


class Param:
    """A DAG or task param: `Param(5, type="integer", minimum=0, description=...)`."""

    def __init__(self, default: Any = NOTSET, description: str | None = None, **schema: Any):
        self.value = default
        self.description = description
        self.schema = schema

    @property
    def has_value(self) -> bool:
        return self.value is not NOTSET

    def resolve(self, value: Any = NOTSET, suppress_exception: bool = False) -> Any:
        return self.value if value is NOTSET else value

    def dump(self) -> dict[str, Any]:
        return {"value": self.value, "description": self.description, "schema": self.schema}

    def __repr__(self) -> str:
        return f"Param({self.value!r}, schema={self.schema!r})"


class ParamsDict(MutableMapping):
    """A mapping of names to Param (plain values are wrapped on insert)."""

    def __init__(self, values: Mapping[str, Any] | None = None):
        self._params: dict[str, Param] = {}
        if isinstance(values, ParamsDict):  # share the Param objects (a task's params start as its DAG's)
            self._params.update(values._params)
            return
        for key, value in (values or {}).items():
            self[key] = value

    def __setitem__(self, key: str, value: Any) -> None:
        self._params[key] = value if isinstance(value, Param) else Param(value)

    def __getitem__(self, key: str) -> Any:
        return self._params[key].value

    def __delitem__(self, key: str) -> None:
        del self._params[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def get_param(self, key: str) -> Param:
        return self._params[key]

    def items_params(self) -> list[tuple[str, Param]]:
        return list(self._params.items())

    def update(self, other: Any = (), **kwargs: Any) -> None:  # type: ignore[override]
        if isinstance(other, ParamsDict):
            self._params.update(copy.copy(other._params))
        else:
            super().update(other, **kwargs)

    def validate(self) -> dict[str, Any]:
        return {key: param.value for key, param in self._params.items()}

    def __repr__(self) -> str:
        return f"ParamsDict({self._params!r})"


class DagParam:
    """A @dag function argument inside its body: resolved from the run's params at run time."""

    def __init__(self, current_dag: Any, name: str, default: Any = NOTSET):
        if default is not NOTSET:
            current_dag.params[name] = default
        self._name = name
        self._default = default
        self.current_dag = current_dag

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"DagParam({self._name!r})"
