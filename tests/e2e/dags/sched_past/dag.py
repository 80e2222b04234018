from datetime import timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

# dagrun_timeout: a run older than 30 seconds is failed, its unfinished tasks skipped.
# depends_on_past: "later" of a run waits for "later" of the previous run (by logical date).
with DAG("sched_past", schedule=None, dagrun_timeout=timedelta(seconds=30), default_args={"retries": 0}):
    first = BashOperator(task_id="first", bash_command="sleep {{ dag_run.conf.get('nap', 1) }}")
    later = BashOperator(task_id="later", bash_command="sleep 1", depends_on_past=True)
    first >> later
