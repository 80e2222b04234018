from airflow.sdk import DAG, task

@task.virtualenv(requirements=["pandas"])
def crunch():
    return 1


with DAG("unsupported_task_flavour"):
    crunch()
