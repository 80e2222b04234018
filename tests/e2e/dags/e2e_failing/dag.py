from airflow.sdk import DAG, task
from airflow.providers.standard.operators.bash import BashOperator


@task
def ok():
    return 1


@task
def boom(x):
    raise ValueError(f"boom: cannot handle {x}")


@task
def after_boom(x):
    return x


with DAG("e2e_failing", schedule=None, default_args={"retries": 0}):
    after_boom(boom(ok()))
    BashOperator(task_id="bash_exit_3", bash_command="echo about to fail; exit 3") >> BashOperator(task_id="after_bash", bash_command="echo never")
