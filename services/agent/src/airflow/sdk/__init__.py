"""`airflow.sdk`: the Airflow 3 authoring API, as Leoflow's recording shim."""

from airflow._shim import timezone
from airflow._shim.baseoperator import BaseOperator
from airflow._shim.chain import chain, chain_linear, cross_downstream
from airflow._shim.dag import DAG, dag
from airflow._shim.decorators import task
from airflow._shim.edges import EdgeModifier, Label
from airflow._shim.params import Param, ParamsDict
from airflow._shim.runtime import BaseHook, Connection, Variable, get_current_context
from airflow._shim.taskgroup import TaskGroup, task_group
from airflow._shim.trigger_rule import TriggerRule
from airflow._shim.xcom_arg import XComArg

# Airflow types the task context as a TypedDict; a plain dict is what tasks receive.
Context = dict

__all__ = [
    "DAG", "BaseHook", "BaseOperator", "Connection", "Context", "EdgeModifier", "Label",
    "Param", "ParamsDict", "TaskGroup", "TriggerRule", "Variable", "XComArg", "chain",
    "chain_linear", "cross_downstream", "dag", "get_current_context", "task", "task_group",
    "timezone",
]
