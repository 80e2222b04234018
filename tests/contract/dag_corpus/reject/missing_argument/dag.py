from airflow.sdk import DAG, task

@task
def add(x, y):
    return x + y


with DAG("missing_argument"):
    add(1)
