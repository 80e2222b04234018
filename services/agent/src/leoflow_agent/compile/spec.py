"""A recorded DAG -> DagSpec (the message whose JSON is dag.json).

Invariants: tasks and task groups are sorted by id and every repeated field is written
in a fixed order, so compiling the same bundle twice gives identical bytes; the spec
is checked for cycles before it is returned.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airflow._shim.dag import DAG
from airflow._shim.schedule import CRON_PRESETS
from airflow._shim.taskgroup import TaskGroup
from airflow._shim.timezone import tz_name
from leoflow_proto.dag.v1 import dag_pb2

from leoflow_agent.compile.cycles import find_cycle
from leoflow_agent.compile.errors import DagCompileError
from leoflow_agent.compile.tasks import TaskSpecBuilder
from leoflow_agent.compile.values import (
    NotJsonError,
    check_json,
    display_json,
    duration,
    literal,
    timestamp,
)
from leoflow_agent.dagfile import LoadedDagFile

SCHEMA_VERSION = "1"


def build_dag_spec(loaded: LoadedDagFile, dag: DAG) -> dag_pb2.DagSpec:
    """The DagSpec of `dag`, recorded from the DAG file `loaded`."""

    def locate(fileloc: str) -> str:
        try:
            return Path(fileloc).resolve().relative_to(loaded.bundle_dir).as_posix()
        except ValueError:
            return loaded.dag_file

    def fail(message: str) -> DagCompileError:
        return DagCompileError(f"DAG '{dag.dag_id}': {message}", locate(dag.fileloc), dag.lineno)

    spec = dag_pb2.DagSpec(
        schema_version=SCHEMA_VERSION,
        dag_id=dag.dag_id,
        description=dag.description or "",
        display_name=dag.dag_display_name,
        tags=sorted(dag.tags),
        schedule=_schedule(dag.schedule),
        timezone=tz_name(dag.timezone, dag.start_date),
        catchup=dag.catchup,
        max_active_runs=dag.max_active_runs or 0,
        max_active_tasks=dag.max_active_tasks or 0,
        max_consecutive_failed_dag_runs=dag.max_consecutive_failed_dag_runs or 0,
        doc_md=dag.doc_md or "",
        render_template_as_native_obj=dag.render_template_as_native_obj,
        owner_links=dag.owner_links,
        callbacks=dag_pb2.DagCallbacks(
            on_success=dag.has_on_success_callback, on_failure=dag.has_on_failure_callback),
        source=dag_pb2.Source(
            fileloc=str(loaded.bundle_dir / loaded.dag_file),
            relative_fileloc=loaded.dag_file,
            content=loaded.source,
        ),
    )
    if dag.start_date is not None:
        spec.start_date.CopyFrom(timestamp(dag.start_date))
    if dag.end_date is not None:
        spec.end_date.CopyFrom(timestamp(dag.end_date))
    if dag.is_paused_upon_creation is not None:
        spec.is_paused_upon_creation = bool(dag.is_paused_upon_creation)
    if dag.dagrun_timeout is not None:
        spec.dagrun_timeout.CopyFrom(duration(dag.dagrun_timeout))
    if dag.default_args:
        spec.default_args.CopyFrom(literal(display_json(dag.default_args)).struct_value)
    for name, param in dag.params.items_params():
        try:
            spec.params[name].CopyFrom(_param(param))
        except NotJsonError as err:
            raise fail(f"param '{name}'{err.path}: {err.problem}") from None
    if dag.catchup and dag.start_date is None and dag.schedule not in (None, "@once", "@continuous"):
        raise fail("start_date is required when catchup=True")

    builder = TaskSpecBuilder(loaded.module_name, locate)
    spec.tasks.extend(builder.build(dag.task_dict[task_id]) for task_id in sorted(dag.task_dict))
    spec.task_groups.extend(_groups(dag.task_group))
    cycle = find_cycle({t.task_id: set(t.downstream_task_ids) for t in dag.tasks})
    if cycle:
        raise fail(f"has a cycle: {' -> '.join(cycle)}")
    return spec


def _schedule(schedule: object) -> dag_pb2.Schedule:
    if schedule is None:
        return dag_pb2.Schedule(kind=dag_pb2.SCHEDULE_KIND_NONE)
    if isinstance(schedule, timedelta):
        return dag_pb2.Schedule(kind=dag_pb2.SCHEDULE_KIND_INTERVAL, interval=duration(schedule))
    if schedule == "@once":
        return dag_pb2.Schedule(kind=dag_pb2.SCHEDULE_KIND_ONCE, expression=schedule)
    if schedule == "@continuous":
        return dag_pb2.Schedule(kind=dag_pb2.SCHEDULE_KIND_CONTINUOUS, expression=schedule)
    assert isinstance(schedule, str) and (schedule in CRON_PRESETS or not schedule.startswith("@"))
    return dag_pb2.Schedule(kind=dag_pb2.SCHEDULE_KIND_CRON, expression=schedule)


def _param(param) -> dag_pb2.ParamSpec:
    out = dag_pb2.ParamSpec(description=param.description or "")
    if param.has_value:
        out.has_default = True
        out.default.CopyFrom(literal(check_json(param.value)))
    if param.schema:
        out.schema.CopyFrom(literal(check_json(param.schema)).struct_value)
    return out


def _groups(root: TaskGroup) -> list[dag_pb2.TaskGroupSpec]:
    groups: list[dag_pb2.TaskGroupSpec] = []
    pending = [g for g in root.children.values() if isinstance(g, TaskGroup)]
    while pending:
        group = pending.pop()
        parent = group.parent_group
        groups.append(dag_pb2.TaskGroupSpec(
            group_id=group.group_id,
            label=group.label or "",
            parent_group_id=(parent.group_id or "") if parent is not None else "",
            tooltip=group.tooltip,
            prefix_group_id=group.prefix_group_id,
        ))
        pending.extend(g for g in group.children.values() if isinstance(g, TaskGroup))
    return sorted(groups, key=lambda g: g.group_id)


