"""`airflow.hooks`."""
