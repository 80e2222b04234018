"""Task-instance tries -> the Gantt chart's bars (Airflow's routes/ui/gantt.py):
one bar per try of each unmapped task instance, by task id then try number."""

from __future__ import annotations

from collections.abc import Iterable

from leoflow_proto.scheduler.v1 import models_pb2

from ..datamodels.ui.gantt import GanttTaskInstance
from .common import ts
from .task_instances import ti_state


def gantt_bars(tries: Iterable[models_pb2.TaskInstance]) -> list[GanttTaskInstance]:
    """`tries`: every try of the run's unmapped task instances (the current try of
    each included). A try listed twice (history and current) gives one bar."""
    unique = {(t.task_id, t.try_number): t for t in tries}
    return [
        GanttTaskInstance(
            task_id=t.task_id,
            task_display_name=t.task_display_name or t.task_id,
            try_number=t.try_number,
            state=ti_state(t.state),
            scheduled_dttm=ts(t, "scheduled_when"),
            queued_dttm=ts(t, "queued_when"),
            start_date=ts(t, "start_date"),
            end_date=ts(t, "end_date"),
        )
        for _, t in sorted(unique.items(), key=lambda item: item[0])
    ]
