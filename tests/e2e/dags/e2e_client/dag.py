from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, task


@task
def produce():
    print("producing for the Airflow client")
    return {"answer": 41}


@task
def consume(value):
    return value["answer"] + 1


with DAG("e2e_client", schedule=None, tags=["airflow-client"]):
    say = BashOperator(task_id="say", bash_command="echo 'said by bash'")
    produced = produce()
    produced >> say
    say >> consume(produced)
