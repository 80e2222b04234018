from airflow.sdk import DAG, task
from airflow.providers.standard.operators.bash import BashOperator


@task
def a():
    print("hello from a")
    return "a"


@task
def c(previous):
    return f"{previous}>c"


with DAG("e2e_chain", schedule=None):
    b = BashOperator(task_id="b", bash_command="echo 'b ran'")
    first = a()
    first >> b
    b >> c(first)
