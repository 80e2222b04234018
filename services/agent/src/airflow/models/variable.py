"""`airflow.models.variable`."""

from airflow._shim.runtime import Variable  # noqa: F401
