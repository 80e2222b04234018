from datetime import datetime
from airflow.sdk import DAG, task

@task
def report(since):
    return str(since)


with DAG("non_json_literal"):
    report(since=datetime(2024, 1, 1))
