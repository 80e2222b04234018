"""Dag (+ its latest DagSpec) -> DAGResponse / DAGDetailsResponse."""

from __future__ import annotations

import inspect
from typing import Any

from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.scheduler.v1 import models_pb2

from ..datamodels.dag_tags import DagTagResponse
from ..datamodels.dags import DAGDetailsResponse, DAGResponse
from ..datamodels.ui.dags import DAGWithLatestDagRunsResponse
from ..signing import Signer
from .common import duration, proto_value, struct, text, ts
from .dag_run import dag_run_light_response
from .dag_versions import dag_version_response

# Airflow's defaults ([core] max_active_tasks_per_dag / max_active_runs_per_dag),
# which a DAG that sets neither has; Leoflow's registry stores 0 for "default".
DEFAULT_MAX_ACTIVE_TASKS = 16
DEFAULT_MAX_ACTIVE_RUNS = 16


def display_name(dag: models_pb2.Dag) -> str:
    return dag.display_name or dag.dag_id


def _dag_fields(dag: models_pb2.Dag, file_tokens: Signer) -> dict[str, Any]:
    name = display_name(dag)
    latest = dag.latest_version if dag.HasField("latest_version") else None
    bundle_name = text(latest.bundle_name) if latest else None
    relative_fileloc = text(dag.relative_fileloc)
    # Leoflow "parses" a DAG when a version is registered: that is its parse time.
    last_parsed = ts(dag, "last_parsed_time") or (ts(latest, "created_at") if latest else None)
    return {
        "dag_id": dag.dag_id,
        "dag_display_name": name,
        "is_paused": dag.is_paused,
        "is_stale": dag.is_stale,
        "last_parsed_time": last_parsed,
        "last_parse_duration": None,
        "last_expired": None,
        "bundle_name": bundle_name,
        "bundle_version": text(latest.bundle_version) if latest else None,
        "relative_fileloc": relative_fileloc,
        "fileloc": dag.fileloc,
        "description": text(dag.description),
        "timetable_summary": text(dag.timetable_summary),
        "timetable_description": text(dag.timetable_description),
        "timetable_partitioned": False,
        "tags": [DagTagResponse(name=tag, dag_id=dag.dag_id, dag_display_name=name) for tag in sorted(dag.tags)],
        "max_active_tasks": dag.max_active_tasks or DEFAULT_MAX_ACTIVE_TASKS,
        "max_active_runs": dag.max_active_runs or DEFAULT_MAX_ACTIVE_RUNS,
        "max_consecutive_failed_dag_runs": dag.max_consecutive_failed_dag_runs,
        "has_task_concurrency_limits": dag.has_task_concurrency_limits,
        "has_import_errors": dag.has_import_errors,
        "next_dagrun_logical_date": ts(dag, "next_dagrun_logical_date"),
        "next_dagrun_data_interval_start": ts(dag, "next_dagrun_data_interval_start"),
        "next_dagrun_data_interval_end": ts(dag, "next_dagrun_data_interval_end"),
        "next_dagrun_run_after": ts(dag, "next_dagrun_run_after"),
        # No restriction: every run type Leoflow knows is allowed.
        "allowed_run_types": None,
        "owners": list(dag.owners),
        # Airflow's reparse handle (PUT /parseDagFile/{file_token}): signed, opaque.
        "file_token": file_tokens.dumps({"bundle_name": bundle_name, "relative_fileloc": relative_fileloc}),
    }


def dag_response(dag: models_pb2.Dag, file_tokens: Signer) -> DAGResponse:
    return DAGResponse(**_dag_fields(dag, file_tokens))


def dag_params(spec: dag_pb2.DagSpec) -> dict[str, Any]:
    """Airflow's Param.dump(): {value, schema, description, source} per param."""
    return {
        name: {
            "value": proto_value(param.default) if param.has_default else None,
            "schema": struct(param, "schema") or {},
            "description": text(param.description),
            "source": None,
        }
        for name, param in sorted(spec.params.items())
    }


def dag_details_response(
    dag: models_pb2.Dag,
    spec: dag_pb2.DagSpec | None,
    *,
    active_runs_count: int,
    file_tokens: Signer,
) -> DAGDetailsResponse:
    """`spec` is the latest version's DagSpec (None when the registry has none)."""
    fields = _dag_fields(dag, file_tokens)
    spec = spec or dag_pb2.DagSpec()
    latest = dag.latest_version if dag.HasField("latest_version") else None
    return DAGDetailsResponse(
        **fields,
        catchup=dag.catchup,
        dag_run_timeout=duration(spec, "dagrun_timeout"),
        asset_expression=None,
        doc_md=inspect.cleandoc(spec.doc_md) if spec.doc_md else None,
        start_date=ts(dag, "start_date") or ts(spec, "start_date"),
        end_date=ts(dag, "end_date") or ts(spec, "end_date"),
        is_paused_upon_creation=spec.is_paused_upon_creation if spec.HasField("is_paused_upon_creation") else None,
        params=dag_params(spec),
        render_template_as_native_obj=spec.render_template_as_native_obj,
        template_search_path=None,
        timezone=dag.timezone or spec.timezone or "UTC",
        last_parsed=fields["last_parsed_time"],
        default_args=struct(spec, "default_args") or {},
        owner_links=dict(spec.owner_links),
        is_favorite=dag.is_favorite,
        active_runs_count=active_runs_count,
        concurrency=fields["max_active_tasks"],
        latest_dag_version=dag_version_response(latest, fields["dag_display_name"]) if latest else None,
    )


def dag_with_latest_runs_response(dag: models_pb2.Dag, file_tokens: Signer) -> DAGWithLatestDagRunsResponse:
    """/ui/dags: a DAG with the latest runs the registry attached (newest first)."""
    return DAGWithLatestDagRunsResponse(
        **_dag_fields(dag, file_tokens),
        asset_expression=None,
        latest_dag_runs=[dag_run_light_response(run) for run in dag.latest_runs],
        pending_actions=[],
        is_favorite=dag.is_favorite,
    )
