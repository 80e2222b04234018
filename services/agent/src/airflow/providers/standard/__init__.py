"""`airflow.providers.standard`."""
