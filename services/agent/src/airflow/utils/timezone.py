"""`airflow.utils.timezone`."""

from airflow._shim.timezone import *  # noqa: F401,F403
