"""BashOperator."""

from airflow._shim.operators import BashOperator  # noqa: F401
