import pandas
from airflow.sdk import DAG

with DAG("missing_module"):
    pass
