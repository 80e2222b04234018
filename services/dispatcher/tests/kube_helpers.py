"""Builders shared by the kubernetes backend's tests and benches: task tries
(TaskExecution) as the scheduler would send them, and the pod platform."""

from __future__ import annotations

from google.protobuf.duration_pb2 import Duration
from leoflow_dispatcher.backends.base import LaunchRequest
from leoflow_dispatcher.backends.kubernetes.pod_spec import PodPlatform
from leoflow_dispatcher.naming import execution_name_of
from leoflow_proto.common.v1.keys_pb2 import TaskInstanceKey
from leoflow_proto.dag.v1.dag_pb2 import Environment, ExecutionSettings, TaskSpec
from leoflow_proto.dag.v1.execution_pb2 import TaskExecution

IMAGE = "registry.example.com/leoflow/etl_sales:4f0c2a9e1b7d3c5a"
DIGEST = "sha256:9b2f1c3e4d5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c"
DISPATCHER_ADDRESS = "leoflow-dispatcher-0.leoflow-dispatcher-agents.leoflow.svc:50052"
TOKEN = "agent-token-for-one-try"


def task_execution(
    *,
    dag_id: str = "etl_sales",
    run_id: str = "scheduled__2026-11-22T00:00:00+00:00",
    task_id: str = "load",
    map_index: int = -1,
    try_number: int = 1,
    dispatch_attempt: int = 0,
    image: str = IMAGE,
    digest: str = DIGEST,
    timeout: int | None = 120,
    env: dict[str, str] | None = None,
    task_settings: ExecutionSettings | None = None,
    dag_defaults: ExecutionSettings | None = None,
) -> TaskExecution:
    task = TaskSpec(task_id=task_id, env=env or {})
    if timeout is not None:
        task.execution_timeout.CopyFrom(Duration(seconds=timeout))
    if task_settings is not None:
        task.execution.CopyFrom(task_settings)
    environment = Environment(
        python_version="3.11", image=image, image_digest=digest, bundle_uri="image"
    )
    if dag_defaults is not None:
        environment.defaults.CopyFrom(dag_defaults)
    return TaskExecution(
        tenant_id="default",
        key=TaskInstanceKey(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index),
        try_number=try_number,
        max_tries=3,
        task_instance_id="0b9d6c1e-5a4f-4e2d-8c3b-7a6f5e4d3c2b",
        dag_version_id="etl_sales-3",
        task=task,
        environment=environment,
        dispatch_attempt=dispatch_attempt,
    )


def launch_request(execution: TaskExecution | None = None, **kwargs) -> LaunchRequest:
    execution = execution or task_execution(**kwargs)
    return LaunchRequest(
        name=execution_name_of(execution),
        execution=execution,
        agent_token=TOKEN,
        dispatcher_address=DISPATCHER_ADDRESS,
    )


def platform(**overrides) -> PodPlatform:
    values = dict(
        namespace="leoflow-tasks",
        deployment="leoflow",
        replica_id="leoflow-dispatcher-0",
        service_account="leoflow-task",
        image_pull_policy="IfNotPresent",
        requests={"cpu": "100m", "memory": "256Mi"},
        limits={"memory": "1Gi"},
        startup_allowance=180.0,
        termination_grace=10.0,
    )
    values.update(overrides)
    return PodPlatform(**values)
