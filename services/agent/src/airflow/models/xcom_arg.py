"""`airflow.models.xcom_arg`."""

from airflow._shim.xcom_arg import XComArg  # noqa: F401
