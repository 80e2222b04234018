"""`airflow.decorators` (Airflow 2 import path of the TaskFlow decorators)."""

from airflow._shim.dag import dag
from airflow._shim.decorators import task
from airflow._shim.taskgroup import task_group

__all__ = ["dag", "task", "task_group"]
