from airflow.sdk import DAG

with DAG("bad_schedule", schedule="0 25 * * *"):
    pass
