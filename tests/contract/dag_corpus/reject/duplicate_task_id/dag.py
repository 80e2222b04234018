from airflow.sdk import DAG
from airflow.providers.standard.operators.bash import BashOperator

with DAG("duplicate_task_id"):
    BashOperator(task_id="hello", bash_command="echo 1")
    BashOperator(task_id="hello", bash_command="echo 2")
