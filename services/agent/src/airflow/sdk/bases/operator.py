"""`airflow.sdk.bases.operator`."""

from airflow._shim.baseoperator import BaseOperator  # noqa: F401
from airflow._shim.chain import chain, chain_linear, cross_downstream  # noqa: F401
