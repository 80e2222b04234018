"""`airflow.exceptions`."""

from airflow._shim.exceptions import *  # noqa: F401,F403
