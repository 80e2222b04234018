"""EmptyOperator."""

from airflow._shim.operators import EmptyOperator  # noqa: F401
