"""ti.xcom_push / ti.xcom_pull with keys, multiple_outputs, pulls of several tasks
and of a task that is not a direct upstream, and an XCom pulled in a bash template."""

from airflow.sdk import DAG, task
from airflow.providers.standard.operators.bash import BashOperator


@task
def produce(ti=None):
    ti.xcom_push(key="meta", value={"rows": 3})
    return [1, 2, 3]


@task(multiple_outputs=True)
def split():
    return {"left": "L", "right": "R"}


@task
def consume(ti=None):
    return {
        "meta": ti.xcom_pull(task_ids="produce", key="meta"),
        "value": ti.xcom_pull(task_ids="produce"),
        "several": ti.xcom_pull(task_ids=["produce", "split"], key="return_value"),
        "left": ti.xcom_pull(task_ids="split", key="left"),
        "missing": ti.xcom_pull(task_ids="produce", key="nope", map_indexes=-1, default="fallback"),
    }


@task
def far_downstream(ti=None):
    # produce is not a direct upstream here: Airflow lets a task read any task of its run.
    return ti.xcom_pull(task_ids="produce", key="meta")


@task
def join_keys(left, right):
    return left + right


with DAG("rt_xcom", schedule=None):
    produced = produce()
    halves = split()
    consumed = consume()
    [produced, halves] >> consumed >> far_downstream()
    halves >> BashOperator(task_id="bash_pull", bash_command="echo {{ ti.xcom_pull(task_ids='split', key='right') }}")
    join_keys(halves["left"], halves["right"])
