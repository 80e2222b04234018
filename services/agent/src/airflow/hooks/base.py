"""`airflow.hooks.base`."""

from airflow._shim.runtime import BaseHook  # noqa: F401
