"""`airflow.models.dag`."""

from airflow._shim.dag import DAG, dag  # noqa: F401
