"""The task context: the agent's document and the context the runner builds from it
(airflow._shim.context), as tables of what Airflow 3.2 puts in it per kind of run."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
from airflow._shim.accessors import VariableNotFound
from airflow._shim.context import build_context
from airflow._shim.dag import DAG
from airflow._shim.exceptions import AirflowNotFoundException
from airflow._shim.operators import PythonOperator
from leoflow_agent.context import airflow_ctx_env, context_document
from leoflow_agent.testing import build_execution
from leoflow_proto.common.v1 import states_pb2


def test_context_document_from_an_execution():
    execution = build_execution(dag_id="etl", task_id="load", try_number=2, max_tries=3, params={"n": 3, "name": "x"})
    execution.run.conf.update({"limit": 10, "nested": {"k": [1, 2.5]}})
    execution.task_instance_id = "0190-ti"
    document = context_document(execution, hostname="pod-1")

    assert document["dag_id"] == "etl" and document["task_id"] == "load" and document["map_index"] == -1
    assert (document["try_number"], document["max_tries"]) == (2, 3)
    assert document["params"] == {"n": 3, "name": "x"}  # ints survive protobuf's Struct
    assert document["conf"] == {"limit": 10, "nested": {"k": [1, 2.5]}}
    assert document["logical_date"] == "2024-01-02T03:04:05+00:00"
    assert document["run_type"] == "manual" and document["hostname"] == "pod-1"
    assert document["task_instance_id"] == "0190-ti" and document["previous_success"] is None


def _execution(run_type: int, logical_date: str | None, interval: tuple[str, str] | None = None, previous: bool = False):
    execution = build_execution(dag_id="etl", task_id="load", run_id="r1", logical_date=logical_date)
    execution.run.run_type = run_type
    if interval:
        execution.run.data_interval_start.FromJsonString(interval[0])
        execution.run.data_interval_end.FromJsonString(interval[1])
    if previous:
        prev = execution.run.previous_success
        prev.start_date.FromJsonString("2024-01-01T00:05:00Z")
        prev.end_date.FromJsonString("2024-01-01T00:09:00Z")
        prev.data_interval_start.FromJsonString("2023-12-31T00:00:00Z")
        prev.data_interval_end.FromJsonString("2024-01-01T00:00:00Z")
    return execution


UTC = dt.UTC


@pytest.mark.parametrize(
    "execution, expected",
    [
        # A scheduled @daily run: logical date = start of the interval; ds/ts from it (UTC).
        (
            _execution(states_pb2.DAG_RUN_TYPE_SCHEDULED, "2024-01-02T00:00:00Z", ("2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z")),
            {
                "ds": "2024-01-02", "ds_nodash": "20240102", "ts": "2024-01-02T00:00:00+00:00",
                "ts_nodash": "20240102T000000", "ts_nodash_with_tz": "20240102T000000+0000",
                "data_interval_start": dt.datetime(2024, 1, 2, tzinfo=UTC), "data_interval_end": dt.datetime(2024, 1, 3, tzinfo=UTC),
                "task_instance_key_str": "etl__load__20240102", "prev_data_interval_start_success": None,
            },
        ),
        # A manual run with a logical date (the API's default): the same keys, its own time.
        (
            _execution(states_pb2.DAG_RUN_TYPE_MANUAL, "2024-01-02T03:04:05.250Z", ("2024-01-02T03:04:05.250Z", "2024-01-02T03:04:05.250Z")),
            {"ds": "2024-01-02", "ts": "2024-01-02T03:04:05.250000+00:00", "ts_nodash": "20240102T030405"},
        ),
        # Airflow 3: a manual run triggered with logical_date=None has no date keys at all.
        (_execution(states_pb2.DAG_RUN_TYPE_MANUAL, None), {"task_instance_key_str": "etl__load__r1"}),
        # prev_*_success come from the scheduler's previous successful run.
        (
            _execution(states_pb2.DAG_RUN_TYPE_SCHEDULED, "2024-01-02T00:00:00Z", ("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"), previous=True),
            {
                "prev_start_date_success": dt.datetime(2024, 1, 1, 0, 5, tzinfo=UTC),
                "prev_end_date_success": dt.datetime(2024, 1, 1, 0, 9, tzinfo=UTC),
                "prev_data_interval_start_success": dt.datetime(2023, 12, 31, tzinfo=UTC),
                "prev_data_interval_end_success": dt.datetime(2024, 1, 1, tzinfo=UTC),
            },
        ),
    ],
    ids=["scheduled", "manual-with-date", "manual-without-date", "previous-success"],
)
def test_date_keys_per_kind_of_run(execution, expected):
    context = build_context(context_document(execution))
    for key, value in expected.items():
        assert context[key] == value, key
    if execution.run.HasField("logical_date"):
        assert context["logical_date"] == context["dag_run"].logical_date
        assert context["logical_date"].tzinfo is not None
    else:
        assert not {"ds", "ts", "logical_date", "data_interval_start", "prev_data_interval_start_success"} & context.keys()
        assert context["dag_run"].logical_date is None and context["prev_start_date_success"] is None


def test_dates_answer_pendulums_methods_as_airflows_do():
    context = build_context(context_document(build_execution(logical_date="2024-01-31T10:00:00Z")))
    logical_date = context["logical_date"]
    assert isinstance(logical_date, dt.datetime)
    assert logical_date.add(days=1) == pendulum.datetime(2024, 2, 1, 10)
    assert logical_date.format("YYYY-MM-DD HH:mm") == "2024-01-31 10:00"
    assert logical_date.in_timezone("Europe/Paris").hour == 11
    assert logical_date.to_date_string() == "2024-01-31"
    assert logical_date + dt.timedelta(hours=1) == dt.datetime(2024, 1, 31, 11, tzinfo=UTC)
    with pytest.raises(AttributeError):
        _ = logical_date.no_such_method


def test_context_objects_are_airflows():
    execution = build_execution(dag_id="etl", task_id="load", try_number=2, max_tries=3, conf={"limit": 5})
    context = build_context(context_document(execution, hostname="h1"))
    ti = context["ti"]
    assert ti is context["task_instance"] and ti.get_template_context() is context
    assert (ti.dag_id, ti.task_id, ti.run_id, ti.try_number, ti.max_tries, ti.map_index, ti.hostname) == (
        "etl", "load", execution.key.run_id, 2, 3, -1, "h1",
    )
    assert context["dag_run"].conf == {"limit": 5} and context["dag_run"].run_type == "manual"
    assert context["run_id"] == execution.key.run_id
    assert context["inlets"] == [] and context["outlets"] == [] and context["test_mode"] is False
    assert context["macros"].ds_add("2024-01-31", 1) == "2024-02-01"
    assert context["macros"].ds_format("2024-01-31", "%Y-%m-%d", "%d/%m") == "31/01"
    assert context["macros"].json.dumps([1]) == "[1]" and context["macros"].uuid.UUID(int=0)
    assert context["macros"].dateutil.relativedelta.relativedelta(days=1).days == 1
    assert 0 <= context["macros"].random() < 1


def test_params_follow_airflows_precedence():
    """DAG defaults < the task's own params < the trigger's conf (dag_run_conf_overrides_params)."""
    with DAG("p", params={"a": 1, "b": 2, "c": 3}) as dag:
        task = PythonOperator(task_id="t", python_callable=lambda: None, params={"b": 20, "c": 30})
    execution = build_execution(dag_id="p", task_id="t", params={"a": 1, "b": 2, "c": 300}, conf={"c": 300})
    context = build_context(context_document(execution), task=task, dag=dag)
    assert context["params"] == {"a": 1, "b": 20, "c": 300}
    assert context["task"] is task and context["dag"] is dag


def test_var_and_conn_read_the_environment_secrets_backend(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_REGION", "eu-west-1")
    monkeypatch.setenv("AIRFLOW_VAR_LIMITS", '{"rows": 10}')
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", "postgres://alice:s3cr%40t@db.example:5432/sales")
    context = build_context(context_document(build_execution()))
    var, conn = context["var"], context["conn"]
    assert var["value"].region == "eu-west-1" and var["json"].limits == {"rows": 10}
    assert var["value"].get("missing", "fallback") == "fallback" and var["value"].get("missing") is None
    with pytest.raises(VariableNotFound, match="Variable missing not found"):
        _ = var["value"].missing
    warehouse = conn.warehouse
    assert (warehouse.host, warehouse.login, warehouse.password, warehouse.port, warehouse.schema) == (
        "db.example", "alice", "s3cr@t", 5432, "sales",
    )
    assert conn.get("nope") is None
    with pytest.raises(AirflowNotFoundException):
        _ = conn.nope


def test_airflow_ctx_env():
    env = airflow_ctx_env(context_document(build_execution(dag_id="etl", task_id="load")))
    assert env == {
        "AIRFLOW_CTX_DAG_ID": "etl",
        "AIRFLOW_CTX_TASK_ID": "load",
        "AIRFLOW_CTX_DAG_RUN_ID": "manual__2024-01-02T03:04:05+00:00",
        "AIRFLOW_CTX_TRY_NUMBER": "1",
        "AIRFLOW_CTX_LOGICAL_DATE": "2024-01-02T03:04:05+00:00",
    }
