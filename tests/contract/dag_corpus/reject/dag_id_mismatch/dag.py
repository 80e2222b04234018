from airflow.sdk import DAG

with DAG("something_else"):
    pass
