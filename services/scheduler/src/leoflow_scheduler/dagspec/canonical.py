"""The canonical form of a DagSpec and its hash.

The canonical JSON is protobuf's JSON mapping with proto field names, default
values omitted, keys sorted and no insignificant whitespace. Two specs that are
equal as messages have the same canonical JSON (map order and field order do not
matter; list order does, because task and fan-in order are meaningful). The spec
hash is the SHA-256 of that JSON's UTF-8 bytes: the registry creates a new
version only when it changes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from google.protobuf import json_format
from leoflow_proto.dag.v1 import dag_pb2


def spec_to_dict(spec: dag_pb2.DagSpec) -> dict[str, Any]:
    """The spec in protobuf's JSON mapping (what dag.json holds)."""
    return json_format.MessageToDict(spec, preserving_proto_field_name=True)


def spec_from_dict(data: dict[str, Any]) -> dag_pb2.DagSpec:
    """Parse a spec stored in protobuf's JSON mapping (unknown fields are kept out)."""
    return json_format.ParseDict(data, dag_pb2.DagSpec(), ignore_unknown_fields=True)


def canonical_json(spec: dag_pb2.DagSpec) -> str:
    """Deterministic JSON text of the spec (see the module docstring)."""
    return json.dumps(spec_to_dict(spec), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def spec_hash(spec: dag_pb2.DagSpec) -> str:
    """Hex SHA-256 of the canonical JSON."""
    return hashlib.sha256(canonical_json(spec).encode("utf-8")).hexdigest()
