from airflow.sdk import DAG, task


@task
def too_big():
    return "x" * 300_000


with DAG("e2e_big_xcom", schedule=None, default_args={"retries": 0}):
    too_big()
