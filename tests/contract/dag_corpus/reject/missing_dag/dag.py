from airflow.sdk import task

@task
def orphan():
    return 1
