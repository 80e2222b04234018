from airflow.sdk import DAG, task

@task
def load():
    return 1


with DAG("unknown_task_in_yaml"):
    load()
