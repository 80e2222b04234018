from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("bad_trigger_rule"):
    EmptyOperator(task_id="join", trigger_rule="all_sucess")
