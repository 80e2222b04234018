"""Leoflow's `airflow` shim: Airflow's authoring API, recording a DAG instead of running it.

DAG files written for Airflow 3 (`from airflow.sdk import DAG, task`) import this package
unchanged. Building a DAG here only records tasks, edges, arguments and settings; the
compiler (`leoflow_agent.compile`) turns the record into a `DagSpec`, and the agent
(`leoflow_agent.dagfile`) re-runs the same file to find a task's callable at run time.

Importing this package installs a finder that turns an import of any `airflow.*` module
the shim does not provide into one clear "not supported by Leoflow" error.
"""

from airflow._shim.finder import install_unsupported_module_finder

__version__ = "3.2.0"

install_unsupported_module_finder()
