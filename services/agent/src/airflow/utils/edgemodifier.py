"""`airflow.utils.edgemodifier`."""

from airflow._shim.edges import EdgeModifier, Label  # noqa: F401
