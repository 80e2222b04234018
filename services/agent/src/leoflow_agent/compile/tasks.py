"""One recorded operator -> one TaskSpec.

Everything a task needs at run time that is data (kind, arguments, retries, bash command,
mapping) goes into the spec; the Python callable itself stays in the bundle and is found
again by re-running the DAG file (PythonCallable names the module and qualname).
"""

from __future__ import annotations

from typing import Any

from airflow._shim.baseoperator import BaseOperator
from airflow._shim.mapping import MAPPED
from airflow._shim.params import NOTSET
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dag.v1 import dag_pb2

from leoflow_agent.compile.errors import DagCompileError
from leoflow_agent.compile.values import NotJsonError, duration, to_value

KINDS = {
    "python": dag_pb2.OPERATOR_KIND_PYTHON,
    "bash": dag_pb2.OPERATOR_KIND_BASH,
    "empty": dag_pb2.OPERATOR_KIND_EMPTY,
    "branch": dag_pb2.OPERATOR_KIND_BRANCH_PYTHON,
    "short_circuit": dag_pb2.OPERATOR_KIND_SHORT_CIRCUIT,
    # A custom BaseOperator subclass runs its execute(context) as Python.
    "custom": dag_pb2.OPERATOR_KIND_PYTHON,
}


def trigger_rule_enum(rule: str) -> int:
    name = f"TRIGGER_RULE_{rule.upper()}"
    if name not in states_pb2.TriggerRule.keys():
        raise ValueError(f"trigger_rule '{rule}' is not supported by Leoflow")
    return states_pb2.TriggerRule.Value(name)


class TaskSpecBuilder:
    """Builds TaskSpecs for one DAG file; errors point at the line that created the task."""

    def __init__(self, module_name: str, locate):
        self.module_name = module_name
        self.locate = locate  # (absolute file) -> file relative to the DAG folder

    def fail(self, task: BaseOperator, message: str) -> DagCompileError:
        return DagCompileError(f"task '{task.task_id}': {message}", self.locate(task.fileloc), task.lineno)

    def build(self, task: BaseOperator) -> dag_pb2.TaskSpec:
        spec = dag_pb2.TaskSpec(
            task_id=task.task_id,
            display_name=task.task_display_name,
            kind=KINDS[task.leoflow_kind],
            operator_name=type(task).__name__,
            upstream_task_ids=sorted(task.upstream_task_ids),
            retries=task.retries,
            retry_delay=duration(task.retry_delay),
            retry_exponential_backoff=bool(task.retry_exponential_backoff),
            owner=task.owner,
            pool=task.pool,
            pool_slots=task.pool_slots,
            priority_weight=task.priority_weight,
            queue=task.queue,
            task_group_id=(task.task_group.group_id or "") if task.task_group is not None else "",
            doc_md=task.doc_md or "",
            multiple_outputs=bool(task.multiple_outputs),
            do_xcom_push=bool(task.do_xcom_push),
            template_fields=list(task.template_fields),
            max_active_tis_per_dag=task.max_active_tis_per_dag or 0,
            callbacks=dag_pb2.TaskCallbacks(
                on_success=bool(task.on_success_callback),
                on_failure=bool(task.on_failure_callback),
                on_retry=bool(task.on_retry_callback),
                on_skipped=bool(task.on_skipped_callback),
                on_execute=bool(task.on_execute_callback),
            ),
            map_index_template=task.map_index_template or "",
        )
        try:
            spec.trigger_rule = trigger_rule_enum(task.trigger_rule)
        except ValueError as err:
            raise self.fail(task, str(err)) from None
        if task.max_retry_delay is not None:
            spec.max_retry_delay.CopyFrom(duration(task.max_retry_delay))
        if task.execution_timeout is not None:
            spec.execution_timeout.CopyFrom(duration(task.execution_timeout))
        callable_ = getattr(task, "python_callable", None)
        if callable_ is not None:
            spec.python.CopyFrom(dag_pb2.PythonCallable(module=self.module_name, qualname=callable_.__qualname__))
        elif task.leoflow_kind == "custom":
            qualname = f"{type(task).__qualname__}.execute"
            spec.python.CopyFrom(dag_pb2.PythonCallable(module=self.module_name, qualname=qualname))
        if task.leoflow_kind == "bash":
            spec.bash.CopyFrom(self._bash(task))
        if task.leoflow_kind == "short_circuit":
            spec.ignore_downstream_trigger_rules = bool(getattr(task, "ignore_downstream_trigger_rules", True))
        # Airflow: wait_for_downstream implies depends_on_past.
        spec.depends_on_past = bool(task.depends_on_past or task.wait_for_downstream)
        spec.wait_for_downstream = bool(task.wait_for_downstream)
        if spec.depends_on_past:
            spec.ignore_first_depends_on_past = bool(getattr(task, "ignore_first_depends_on_past", True))
        spec.arguments.extend(self._arguments(task))
        if task.mapping is not None:
            spec.mapping.CopyFrom(self._mapping(task))
        return spec

    def _value(self, task: BaseOperator, what: str, value: Any) -> dag_pb2.Value:
        try:
            return to_value(value)
        except NotJsonError as err:
            raise self.fail(task, f"{what}{err.path}: {err.problem}") from None

    def _arguments(self, task: BaseOperator) -> list[dag_pb2.Argument]:
        arguments = []
        for position, value in enumerate(getattr(task, "op_args", None) or []):
            arguments.append(dag_pb2.Argument(position=position, value=self._value(task, f"argument {position}", value)))
        start = len(arguments)
        op_kwargs = getattr(task, "op_kwargs", None) or {}
        for offset, (name, value) in enumerate(op_kwargs.items()):
            if value is MAPPED:
                continue
            arguments.append(dag_pb2.Argument(
                name=name, position=start + offset, value=self._value(task, f"argument '{name}'", value)))
        return arguments

    def _bash(self, task: Any) -> dag_pb2.BashCommand:
        command = task.bash_command
        if command is MAPPED:
            command = ""
        if not isinstance(command, str):
            raise self.fail(task, f"bash_command must be a string, got {type(command).__name__}")
        env = task.env if task.env is not MAPPED else None
        if env is not None and not (isinstance(env, dict) and all(isinstance(v, str) for v in env.values())):
            raise self.fail(task, "env must be a dict of strings (use Jinja templates for XCom values)")
        cwd = task.cwd if isinstance(task.cwd, str) else ""
        return dag_pb2.BashCommand(
            bash_command=command, env=env or {}, append_env=bool(task.append_env), cwd=cwd,
            skip_on_exit_code=list(task.skip_on_exit_code),
        )

    def _mapping(self, task: BaseOperator) -> dag_pb2.MappingSpec:
        record = task.mapping
        out = dag_pb2.MappingSpec()
        for name, value in record.expand.items():
            out.expand[name].CopyFrom(self._value(task, f"expand '{name}'", value))
        out.expand_keys.extend(record.expand)  # authored order: the product's order
        if record.expand_kwargs is not NOTSET:
            out.expand_kwargs.CopyFrom(self._value(task, "expand_kwargs", record.expand_kwargs))
        return out
