"""`airflow.sdk.bases`."""
