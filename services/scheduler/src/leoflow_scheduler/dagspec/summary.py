"""The columns of `dags` that summarize a DAG's latest version (what ListDags
shows without loading specs)."""

from __future__ import annotations

from datetime import UTC as _UTC
from typing import Any

from leoflow_proto.dag.v1 import dag_pb2

from .schedule import parse_schedule

# Airflow's default owner (default_args' "owner" when nobody sets one).
DEFAULT_OWNER = "airflow"


def dag_summary(
    spec: dag_pb2.DagSpec, *, default_max_active_runs: int, default_max_active_tasks: int
) -> dict[str, Any]:
    """Column values for `dags` from a validated spec."""
    schedule = parse_schedule(spec.schedule)
    owners = sorted({task.owner for task in spec.tasks if task.owner}) or [DEFAULT_OWNER]
    return {
        "display_name": spec.display_name or spec.dag_id,
        "description": spec.description,
        "tags": sorted(set(spec.tags)),
        "owners": owners,
        "timetable_summary": schedule.summary,
        "timetable_description": schedule.description,
        # @continuous runs one at a time (its timetable's active_runs_limit).
        "max_active_runs": 1
        if schedule.kind == dag_pb2.SCHEDULE_KIND_CONTINUOUS
        else spec.max_active_runs or default_max_active_runs,
        "max_active_tasks": spec.max_active_tasks or default_max_active_tasks,
        "max_consecutive_failed_dag_runs": spec.max_consecutive_failed_dag_runs,
        "has_task_concurrency_limits": any(task.max_active_tis_per_dag > 0 for task in spec.tasks),
        "catchup": spec.catchup,
        "start_date": spec.start_date.ToDatetime(tzinfo=_UTC)
        if spec.HasField("start_date")
        else None,
        "end_date": spec.end_date.ToDatetime(tzinfo=_UTC) if spec.HasField("end_date") else None,
        "timezone": spec.timezone or "UTC",
        "fileloc": spec.source.fileloc,
        "relative_fileloc": spec.source.relative_fileloc,
    }
