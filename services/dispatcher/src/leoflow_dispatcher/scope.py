"""What an agent token allows: exactly one task-instance try, and reading the
XComs of any task of its own DagRun.

Airflow lets `ti.xcom_pull` read every task of the run (upstream, downstream or
unrelated), so the scope carries ANY_TASK_OF_RUN; the tasks its arguments and
mapping reference and its DAG upstreams are listed too, so the token still says
what the task was compiled to read. Pushes stay limited to the task instance
itself, and reads to its own run (the xcom service enforces both)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from leoflow_common.auth import ANY_TASK_OF_RUN, TaskScope, TokenCodec
from leoflow_proto.dag.v1.dag_pb2 import TaskSpec, Value
from leoflow_proto.dag.v1.execution_pb2 import TaskExecution


def referenced_task_ids(task: TaskSpec) -> set[str]:
    """Task ids of every XComRef in the task's arguments and mapping, at any depth."""
    values: list[Value] = [argument.value for argument in task.arguments]
    if task.HasField("mapping"):
        values.extend(task.mapping.expand.values())
        if task.mapping.HasField("expand_kwargs"):
            values.append(task.mapping.expand_kwargs)
    return {ref_task for ref_task in _xcom_task_ids(values) if ref_task}


def _xcom_task_ids(values: Iterable[Value]) -> Iterator[str]:
    # Iterative, so a deeply nested fan-in value cannot exhaust the stack.
    pending = list(values)
    while pending:
        value = pending.pop()
        kind = value.WhichOneof("kind")
        if kind == "xcom":
            yield value.xcom.task_id
        elif kind == "list":
            pending.extend(value.list.items)
        elif kind == "dict":
            pending.extend(value.dict.items.values())


def task_scope(execution: TaskExecution, execution_name: str) -> TaskScope:
    """The scope of the agent token for `execution`, run as `execution_name`."""
    key = execution.key
    upstreams = referenced_task_ids(execution.task) | set(execution.upstream_task_ids) | {ANY_TASK_OF_RUN}
    return TaskScope(
        dag_id=key.dag_id,
        run_id=key.run_id,
        task_id=key.task_id,
        map_index=key.map_index,
        try_number=execution.try_number,
        execution_name=execution_name,
        upstream_task_ids=frozenset(upstreams),
    )


def agent_token_ttl(
    execution: TaskExecution, *, minimum: float, startup: float, grace: float
) -> float:
    """A token lifetime that outlasts the execution: at least `minimum`, and longer
    than the task's execution_timeout plus the time to start and stop it."""
    timeout = execution.task.execution_timeout
    longest = (
        timeout.seconds + timeout.nanos / 1e9 + startup + grace
        if execution.task.HasField("execution_timeout")
        else 0.0
    )
    return max(minimum, longest)


def mint_agent_token(
    codec: TokenCodec, execution: TaskExecution, execution_name: str, *, ttl: float
) -> str:
    """A token for the agent of `execution` and nothing else."""
    return codec.mint_agent(execution.tenant_id, task_scope(execution, execution_name), ttl=ttl)
