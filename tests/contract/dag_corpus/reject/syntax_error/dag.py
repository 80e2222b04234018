from airflow.sdk import DAG

with DAG("syntax_error"):
    print("unclosed"
