"""`airflow.sdk.bases.hook`."""

from airflow._shim.runtime import BaseHook  # noqa: F401
