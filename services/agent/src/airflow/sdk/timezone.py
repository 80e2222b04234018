"""`airflow.sdk.timezone`."""

from airflow._shim.timezone import *  # noqa: F401,F403
from airflow._shim.timezone import convert_to_utc, datetime, parse, utc, utcnow  # noqa: F401
