"""`airflow.providers`: only the standard provider's operators are shipped."""
