"""Internals of the `airflow` shim. DAG files never import this package directly.

Everything here is stdlib-only: the shim is imported inside every DAG's environment,
at compile time and again at run time, and must behave identically in both.
"""
