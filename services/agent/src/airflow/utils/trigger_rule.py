"""`airflow.utils.trigger_rule`."""

from airflow._shim.trigger_rule import TriggerRule  # noqa: F401
