"""DAG params (Airflow's Param): the trigger's conf merged over the params'
defaults, each value validated against its param's JSON schema at trigger time
(Airflow's ParamsDict.deep_merge(conf).validate()). A param without a value
fails ("No value passed"); conf keys that are not params pass through unchecked.
"""

from __future__ import annotations

from typing import Any

import jsonschema
from google.protobuf.json_format import MessageToDict
from leoflow_common.errors import InvalidArgument
from leoflow_proto.dag.v1 import dag_pb2


def integral_json(value: Any) -> Any:
    """JSON from a Struct with integral doubles turned back into integers."""
    # Struct numbers are doubles: 3.0 is the integer 3 a user wrote.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [integral_json(v) for v in value]
    if isinstance(value, dict):
        return {k: integral_json(v) for k, v in value.items()}
    return value


def param_defaults(spec: dag_pb2.DagSpec) -> dict[str, Any]:
    """Each param's default value, for those that have one."""
    return {
        name: integral_json(MessageToDict(p.default)) for name, p in spec.params.items() if p.has_default
    }


def resolve_params(spec: dag_pb2.DagSpec, conf: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults overridden by conf, validated; InvalidArgument naming the first bad param."""
    values = {**param_defaults(spec), **(conf or {})}
    for name in sorted(spec.params):
        param = spec.params[name]
        if name not in values:
            raise InvalidArgument(f"Invalid input for param {name}: No value passed", field="conf")
        schema = integral_json(MessageToDict(param.schema)) if param.HasField("schema") else {}
        try:
            jsonschema.validate(values[name], schema, format_checker=jsonschema.FormatChecker())
        except jsonschema.ValidationError as exc:
            raise InvalidArgument(f"Invalid input for param {name}: {exc.message}", field="conf") from None
        except jsonschema.SchemaError as exc:
            raise InvalidArgument(
                f"Invalid schema for param {name}: {exc.message}", field="conf"
            ) from None
    return values
