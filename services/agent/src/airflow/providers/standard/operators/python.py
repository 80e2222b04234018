"""Python operators."""

from airflow._shim.operators import BranchPythonOperator, PythonOperator, ShortCircuitOperator  # noqa: F401
from airflow._shim.runtime import get_current_context  # noqa: F401
