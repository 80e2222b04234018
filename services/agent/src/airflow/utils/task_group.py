"""`airflow.utils.task_group`."""

from airflow._shim.taskgroup import TaskGroup, task_group  # noqa: F401
