"""The in-venv compiler: run a DAG file under the shim and produce its DagSpec.

It runs inside the DAG's own environment (`python -m leoflow_agent.compile`), so the DAG
file imports exactly the packages it will have at run time. No task code runs: the shim
only records. See `__main__` for the command line and `compile_dag_file` for the API.
"""

from __future__ import annotations

import os
from typing import Any

from google.protobuf import json_format
from leoflow_proto.dag.v1 import dag_pb2

from leoflow_agent.compile.errors import DagCompileError
from leoflow_agent.compile.overrides import apply_overrides
from leoflow_agent.compile.spec import SCHEMA_VERSION, build_dag_spec
from leoflow_agent.dagfile import DagFileError, load_dag_file

__all__ = ["SCHEMA_VERSION", "DagCompileError", "compile_dag_file", "spec_to_json"]


def compile_dag_file(
    dag_dir: str | os.PathLike,
    dag_file: str,
    dag_id: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> dag_pb2.DagSpec:
    """The DagSpec of DAG `dag_id` (or the file's only DAG), with leoflow.yaml overrides applied."""
    try:
        loaded = load_dag_file(dag_dir, dag_file)
    except DagFileError as err:
        raise DagCompileError(err.message, err.file, err.line) from err
    if dag_id is None:
        if len(loaded.dags) > 1:
            raise DagCompileError(
                f"defines {len(loaded.dags)} DAGs ({', '.join(loaded.dags)}); choose one with --dag-id",
                dag_file)
        dag = next(iter(loaded.dags.values()))
    elif dag_id in loaded.dags:
        dag = loaded.dags[dag_id]
    else:
        raise DagCompileError(f"DAG '{dag_id}' not found (found: {', '.join(loaded.dags)})", dag_file)
    spec = build_dag_spec(loaded, dag)
    if overrides:
        apply_overrides(spec, dag, overrides)
    return spec


def spec_to_json(spec: dag_pb2.DagSpec) -> str:
    """dag.json's text: proto field names, sorted keys, trailing newline (deterministic)."""
    return json_format.MessageToJson(spec, preserving_proto_field_name=True, sort_keys=True) + "\n"
