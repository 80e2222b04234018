"""Airflow's task context, built in the task's process from the agent's document.

The agent sends a JSON "context document" (leoflow_agent.context.context_document);
`build_context` turns it into what Airflow 3.2 hands to a task, a template or a
callback (RuntimeTaskInstance.get_template_context):

    dag, task, ti / task_instance, run_id, dag_run (conf, run_type, dates...),
    params (DAG defaults < task params < trigger conf), macros, var, conn,
    inlets, outlets, map_index_template, task_instance_key_str, test_mode,
    and, when the run has a logical date: logical_date, ds, ds_nodash, ts,
    ts_nodash, ts_nodash_with_tz, data_interval_start/end and
    prev_data_interval_start/end_success; prev_start/end_date_success always.

Dates are aware UTC datetimes that also answer pendulum's methods (Airflow gives
pendulum DateTimes; pendulum itself loads only when such a method is used); date
keys are absent when the run has no logical date (Airflow 3 manual runs without one).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow._shim.accessors import ConnectionAccessor, variable_accessors
from airflow._shim.macros import MacrosAccessor
from airflow._shim.task_instance import RuntimeTaskInstance, XComTransport

RUN_DATE_FIELDS = ("logical_date", "data_interval_start", "data_interval_end", "run_after", "start_date")
_PREVIOUS_FIELDS = ("start_date", "end_date", "data_interval_start", "data_interval_end")


class DateTime(dt.datetime):
    """An aware UTC datetime that answers pendulum's methods too.

    Airflow's context holds pendulum DateTimes, and DAG code calls their methods
    (`logical_date.add(days=1)`, `.format("YYYY")`, `.in_timezone(...)`). Importing
    pendulum costs more than the rest of a task's start-up, so it is imported only
    when such a method is first used: a name datetime lacks is looked up on the
    pendulum equivalent of this value."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        import pendulum

        return getattr(pendulum.instance(self), name)


def parse_datetime(value: str | None) -> DateTime | None:
    """An ISO 8601 string as an aware UTC DateTime (None stays None)."""
    if value is None:
        return None
    moment = dt.datetime.fromisoformat(value).astimezone(dt.UTC)
    return DateTime(
        moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second, moment.microsecond, tzinfo=dt.UTC
    )


class DagRun:
    """The context's `dag_run`: the run's identity, dates and trigger conf."""

    def __init__(self, document: dict[str, Any]):
        self.dag_id: str = document["dag_id"]
        self.run_id: str = document["run_id"]
        self.run_type: str = document.get("run_type", "")
        self.conf: dict[str, Any] = dict(document.get("conf") or {})
        for field in RUN_DATE_FIELDS:
            setattr(self, field, parse_datetime(document.get(field)))
        self.end_date = None
        self.state = "running"
        self.clear_number = 0
        self.triggered_by = None
        self.consumed_asset_events: list[Any] = []

    @property
    def execution_date(self) -> Any:  # Airflow 2's name, still common in DAG code
        return self.logical_date

    def __repr__(self) -> str:
        return f"<DagRun {self.dag_id} @ {self.run_id}: {self.state}>"


def run_params(document: dict[str, Any], task: Any, dag: Any) -> dict[str, Any]:
    """Params with Airflow's precedence: DAG defaults < the task's own params < trigger conf.

    The document's params are the DAG's defaults with the conf applied (the
    scheduler's work); the task's own params are those it set itself, which the
    scheduler cannot see."""
    params = dict(document.get("params") or {})
    own = getattr(task, "params", None)
    dag_params = getattr(dag, "params", None)
    if own is not None and hasattr(own, "items_params"):
        conf = document.get("conf") or {}
        for name, param in own.items_params():
            inherited = dag_params is not None and name in dag_params and dag_params.get_param(name) is param
            if not inherited and name not in conf and param.has_value:
                params[name] = param.value
    return params


def build_context(
    document: dict[str, Any], *, task: Any = None, dag: Any = None, xcom: XComTransport | None = None
) -> dict[str, Any]:
    """Airflow's context dict for the try the document describes."""
    dag = dag if dag is not None else getattr(task, "dag", None)
    dag_run = DagRun(document)
    ti = RuntimeTaskInstance(
        task=task,
        dag_id=document["dag_id"],
        run_id=document["run_id"],
        task_id=document["task_id"],
        map_index=document.get("map_index", -1),
        try_number=document.get("try_number", 1),
        max_tries=document.get("max_tries", 0),
        hostname=document.get("hostname", ""),
        id=document.get("task_instance_id", ""),
        dag_version_id=document.get("dag_version_id", ""),
        start_date=parse_datetime(document.get("ti_start_date")),
        xcom=xcom,
    )
    previous = {field: parse_datetime((document.get("previous_success") or {}).get(field)) for field in _PREVIOUS_FIELDS}
    context: dict[str, Any] = {
        "dag": dag,
        "task": task,
        "ti": ti,
        "task_instance": ti,
        "run_id": dag_run.run_id,
        "dag_run": dag_run,
        "params": run_params(document, task, dag),
        "macros": MacrosAccessor(),
        "var": variable_accessors(),
        "conn": ConnectionAccessor(),
        "inlets": list(getattr(task, "inlets", None) or []),
        "outlets": list(getattr(task, "outlets", None) or []),
        "inlet_events": {},
        "outlet_events": {},
        "triggering_asset_events": {},
        "map_index_template": getattr(task, "map_index_template", None),
        "task_instance_key_str": f"{document['dag_id']}__{document['task_id']}__{dag_run.run_id}",
        "task_reschedule_count": 0,
        "test_mode": False,
        "prev_start_date_success": previous["start_date"],
        "prev_end_date_success": previous["end_date"],
    }
    logical_date = dag_run.logical_date
    if logical_date is not None:
        ds = logical_date.strftime("%Y-%m-%d")
        ts = logical_date.isoformat()
        context.update(
            logical_date=logical_date,
            ds=ds,
            ds_nodash=ds.replace("-", ""),
            task_instance_key_str=f"{document['dag_id']}__{document['task_id']}__{ds.replace('-', '')}",
            ts=ts,
            ts_nodash=logical_date.strftime("%Y%m%dT%H%M%S"),
            ts_nodash_with_tz=ts.replace("-", "").replace(":", ""),
            data_interval_start=dag_run.data_interval_start,
            data_interval_end=dag_run.data_interval_end,
            prev_data_interval_start_success=previous["data_interval_start"],
            prev_data_interval_end_success=previous["data_interval_end"],
        )
    ti.bind_context(context)
    return context
