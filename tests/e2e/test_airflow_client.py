"""Airflow's official Python client (apache-airflow-client 3.2.x) against Leoflow,
in Lite and in the multi-process stack: what a team's existing scripts do, with
no change but the host.

Given a compiled DAG pushed to the deployment, when a script lists and filters
DAGs, unpauses, triggers with conf, waits, reads task instances, logs and XComs,
manages variables, connections and pools, clears a task and marks a run failed
through the client, then every call succeeds and says what Airflow would."""

from __future__ import annotations

import time
import uuid

import airflow_client.client as airflow
import pytest
from airflow_client.client.api.connection_api import ConnectionApi
from airflow_client.client.api.dag_api import DAGApi
from airflow_client.client.api.dag_run_api import DagRunApi
from airflow_client.client.api.pool_api import PoolApi
from airflow_client.client.api.task_instance_api import TaskInstanceApi
from airflow_client.client.api.variable_api import VariableApi
from airflow_client.client.api.x_com_api import XComApi
from airflow_client.client.models.clear_task_instances_body import ClearTaskInstancesBody
from airflow_client.client.models.clear_task_instances_body_task_ids_inner import (
    ClearTaskInstancesBodyTaskIdsInner,
)
from airflow_client.client.models.connection_body import ConnectionBody
from airflow_client.client.models.dag_patch_body import DAGPatchBody
from airflow_client.client.models.dag_run_patch_body import DAGRunPatchBody
from airflow_client.client.models.dag_run_patch_states import DAGRunPatchStates
from airflow_client.client.models.pool_body import PoolBody
from airflow_client.client.models.pool_patch_body import PoolPatchBody
from airflow_client.client.models.trigger_dag_run_post_body import TriggerDAGRunPostBody
from airflow_client.client.models.variable_body import VariableBody

pytestmark = pytest.mark.e2e

DAG_ID = "e2e_client"


def eventually(check, *, timeout: float = 180, interval: float = 0.25, message: str = ""):
    """Poll `check()` (synchronous: the client is) until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {message} (last: {result!r})")
        time.sleep(interval)


@pytest.fixture
def client(deployment):
    configuration = airflow.Configuration(host=deployment.base_url, access_token=deployment.token)
    with airflow.ApiClient(configuration) as api_client:
        yield api_client


@pytest.fixture
async def pushed(deployment, compiled):
    """The DAG registered (the one Leoflow-only step: `leoflow push`)."""
    await deployment.push(compiled(DAG_ID))
    return DAG_ID


def finished_run(runs: DagRunApi, run_id: str):
    def check():
        run = runs.get_dag_run(DAG_ID, run_id)
        return run if run.state in ("success", "failed") else None

    return eventually(check, message=f"run {run_id} to finish")


def test_a_script_written_for_airflow_drives_leoflow(client, pushed):
    dags, runs, tis, xcoms = DAGApi(client), DagRunApi(client), TaskInstanceApi(client), XComApi(client)

    # List and filter DAGs.
    listed = dags.get_dags(dag_id_pattern="client", tags=["airflow-client"], limit=10)
    assert [d.dag_id for d in listed.dags] == [DAG_ID] and listed.total_entries == 1
    assert dags.get_dags(dag_id_pattern=DAG_ID, tags=["no-such-tag"]).total_entries == 0

    # Pause, then unpause; the filter on paused follows.
    assert dags.patch_dag(DAG_ID, DAGPatchBody(is_paused=True)).is_paused is True
    assert DAG_ID in [d.dag_id for d in dags.get_dags(paused=True, dag_id_pattern=DAG_ID).dags]
    assert dags.patch_dag(DAG_ID, DAGPatchBody(is_paused=False), update_mask=["is_paused"]).is_paused is False

    # Trigger with conf and wait for success.
    trigger = TriggerDAGRunPostBody(logical_date=None, conf={"greeting": "hello", "n": 3}, note="from the client")
    run = runs.trigger_dag_run(DAG_ID, trigger)
    assert run.conf == {"greeting": "hello", "n": 3} and run.note == "from the client"
    done = finished_run(runs, run.dag_run_id)
    assert done.state == "success"

    # Task instances, a log and an XCom.
    instances = tis.get_task_instances(DAG_ID, run.dag_run_id).task_instances
    assert {ti.task_id: ti.state for ti in instances} == {"produce": "success", "say": "success", "consume": "success"}
    log = tis.get_log(DAG_ID, run.dag_run_id, "say", 1, accept="application/json")
    assert "said by bash" in str(log.content)
    entry = xcoms.get_xcom_entry(DAG_ID, "consume", run.dag_run_id, "return_value", deserialize=True)
    assert entry.actual_instance.value == 42  # the response is an anyOf (native or string)

    # Clear one task: it runs again, as its second try.
    cleared = tis.post_clear_task_instances(
        DAG_ID,
        ClearTaskInstancesBody(
            dry_run=False,
            only_failed=False,
            dag_run_id=run.dag_run_id,
            task_ids=[ClearTaskInstancesBodyTaskIdsInner("consume")],
        ),
    )
    assert [ti.task_id for ti in cleared.task_instances] == ["consume"]

    def rerun():
        ti = tis.get_task_instance(DAG_ID, run.dag_run_id, "consume")
        return ti if ti.state == "success" and ti.try_number == 2 else None

    assert eventually(rerun, message="consume re-run as try 2").try_number == 2
    assert [t.try_number for t in tis.get_task_instance_tries(DAG_ID, run.dag_run_id, "consume").task_instances] == [1, 2]

    # Mark the run failed.
    marked = runs.patch_dag_run(DAG_ID, run.dag_run_id, DAGRunPatchBody(state=DAGRunPatchStates.FAILED))
    assert marked.state == "failed"
    assert runs.get_dag_run(DAG_ID, run.dag_run_id).state == "failed"
    failed = runs.get_dag_runs(DAG_ID, state=["failed"])
    assert run.dag_run_id in [r.dag_run_id for r in failed.dag_runs]


def test_variables_crud(client):
    variables = VariableApi(client)
    key = f"client_var_{uuid.uuid4().hex[:8]}"
    created = variables.post_variable(VariableBody(key=key, value="one", description="by the client"))
    assert created.key == key and created.value == "one"
    assert variables.get_variable(key).value == "one"
    assert variables.patch_variable(key, VariableBody(key=key, value="two")).value == "two"
    assert key in [v.key for v in variables.get_variables(variable_key_pattern=key).variables]
    variables.delete_variable(key)
    with pytest.raises(airflow.exceptions.NotFoundException):
        variables.get_variable(key)


def test_connections_crud(client):
    connections = ConnectionApi(client)
    conn_id = f"client_conn_{uuid.uuid4().hex[:8]}"
    body = ConnectionBody(connection_id=conn_id, conn_type="http", host="example.test", login="me", password="s3cret", port=8443)
    created = connections.post_connection(body)
    assert created.connection_id == conn_id and created.host == "example.test"
    fetched = connections.get_connection(conn_id)
    assert fetched.port == 8443 and fetched.password != "s3cret"  # secrets never come back
    patched = connections.patch_connection(conn_id, ConnectionBody(connection_id=conn_id, conn_type="http", host="other.test"), update_mask=["host"])
    assert patched.host == "other.test"
    connections.delete_connection(conn_id)
    with pytest.raises(airflow.exceptions.NotFoundException):
        connections.get_connection(conn_id)


def test_pools_crud(client):
    pools = PoolApi(client)
    name = f"client_pool_{uuid.uuid4().hex[:8]}"
    created = pools.post_pool(PoolBody(name=name, slots=3, description="by the client"))
    assert created.name == name and created.slots == 3
    assert pools.get_pool(name).slots == 3
    assert pools.patch_pool(name, PoolPatchBody(slots=5), update_mask=["slots"]).slots == 5
    assert name in [p.name for p in pools.get_pools(pool_name_pattern=name).pools]
    pools.delete_pool(name)
    with pytest.raises(airflow.exceptions.NotFoundException):
        pools.get_pool(name)
