"""`airflow.models` (Airflow 2 import paths)."""

from airflow._shim.baseoperator import BaseOperator
from airflow._shim.dag import DAG
from airflow._shim.params import Param
from airflow._shim.runtime import Connection, Variable

__all__ = ["DAG", "BaseOperator", "Connection", "Param", "Variable"]
