"""Task callbacks (success, retry, failure) in the task's process and the DAG's
failure callback run by an agent; each writes a marker into conf["marker_dir"]."""

import json
import pathlib
from datetime import timedelta

from airflow.sdk import DAG, task


def _write(context, name, **values):
    directory = pathlib.Path(context["dag_run"].conf["marker_dir"])
    (directory / name).write_text(json.dumps(values))


def task_failed(context):
    ti = context["ti"]
    exc = context["exception"]
    _write(context, f"failure-{ti.task_id}", exc=type(exc).__name__, message=str(exc), try_number=ti.try_number)


def task_retry(context):
    ti = context["ti"]
    _write(context, f"retry-{ti.task_id}-{ti.try_number}", exc=type(context["exception"]).__name__)


def task_succeeded(context):
    ti = context["ti"]
    _write(context, f"success-{ti.task_id}", try_number=ti.try_number, value=ti.xcom_pull())


def dag_failed(context):
    _write(context, "dag-failure", reason=context["reason"], run_id=context["run_id"], dag_id=context["dag"].dag_id)


with DAG("rt_callbacks", schedule=None, on_failure_callback=dag_failed, default_args={"on_failure_callback": task_failed}):

    @task(retries=1, retry_delay=timedelta(seconds=1), on_retry_callback=task_retry, on_success_callback=task_succeeded)
    def flaky(ti=None):
        if ti.try_number == 1:
            raise ValueError("the first try fails")
        return "ok on try 2"

    @task
    def broken():
        raise RuntimeError("always broken")

    flaky()
    broken()
