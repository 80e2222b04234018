"""Pure translations, proto -> Airflow JSON, validated against Airflow 3.2.2's own
OpenAPI schemas (required fields, JSON types, nulls, "Z" datetimes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from google.protobuf import json_format
from leoflow_api_gateway.convert.dag_run import dag_run_response
from leoflow_api_gateway.convert.dags import dag_details_response, dag_response
from leoflow_api_gateway.convert.log import log_message
from leoflow_api_gateway.convert.task_instances import task_instance_response
from leoflow_api_gateway.convert.xcom import xcom_entry_response, xcom_response
from leoflow_api_gateway.http.responses import dump
from leoflow_api_gateway.signing import Signer
from leoflow_common.errors import Internal
from leoflow_proto.common.v1 import keys_pb2, states_pb2
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.logs.v1 import logs_pb2
from leoflow_proto.scheduler.v1 import models_pb2
from leoflow_proto.xcom.v1 import xcom_pb2

SIGNER = Signer("secret-for-file-tokens", "file_token")
RUN_ID = "manual__2026-11-22T01:36:27.101766+00:00"


def stamp(text: str):
    from google.protobuf.timestamp_pb2 import Timestamp

    value = Timestamp()
    value.FromDatetime(datetime.fromisoformat(text).astimezone(UTC))
    return value


def version(number: int = 3) -> models_pb2.DagVersion:
    return models_pb2.DagVersion(
        id="01a200e5-552d-7e93-98ec-324eaa14dc79",
        dag_id="etl",
        version_number=number,
        spec_hash="ab" * 32,
        created_at=stamp("2026-11-22T01:35:59.277587+00:00"),
        bundle_name="dags-folder",
    )


def full_dag() -> models_pb2.Dag:
    return models_pb2.Dag(
        dag_id="etl",
        display_name="Nightly ETL",
        description="Loads the warehouse",
        is_paused=True,
        tags=["warehouse", "etl"],
        owners=["data-team"],
        timetable_summary="0 0 * * *",
        timetable_description="At 00:00",
        max_active_runs=2,
        max_active_tasks=8,
        last_parsed_time=stamp("2026-11-22T01:36:00+00:00"),
        latest_version=version(),
        next_dagrun_logical_date=stamp("2026-11-23T00:00:00+00:00"),
        next_dagrun_run_after=stamp("2026-11-23T00:00:00+00:00"),
        fileloc="/dags/etl/dag.py",
        relative_fileloc="dag.py",
        catchup=True,
        start_date=stamp("2026-01-01T00:00:00+00:00"),
        timezone="Europe/Paris",
    )


def minimal_dag() -> models_pb2.Dag:
    """Everything proto3 leaves at its zero value."""
    return models_pb2.Dag(dag_id="bare")


def spec() -> dag_pb2.DagSpec:
    return json_format.ParseDict(
        {
            "dag_id": "etl",
            "doc_md": "\n    # ETL\n    Loads things.\n",
            "dagrun_timeout": "3600s",
            "is_paused_upon_creation": False,
            "default_args": {"retries": 2, "owner": "data-team"},
            "params": {
                "day": {"default": "2026-01-01", "has_default": True, "description": "Day", "schema": {"type": "string"}},
                "limit": {"schema": {"type": "integer"}},
            },
            "owner_links": {"data-team": "https://example.org/team"},
        },
        dag_pb2.DagSpec(),
    )


def run(**overrides) -> models_pb2.DagRun:
    values = dict(
        id=7,
        dag_id="etl",
        run_id=RUN_ID,
        state=states_pb2.DAG_RUN_STATE_SUCCESS,
        run_type=states_pb2.DAG_RUN_TYPE_MANUAL,
        logical_date=stamp("2026-11-22T00:00:00+00:00"),
        queued_at=stamp("2026-11-22T01:36:27.2+00:00"),
        start_date=stamp("2026-11-22T01:36:28+00:00"),
        end_date=stamp("2026-11-22T01:36:40.5+00:00"),
        run_after=stamp("2026-11-22T01:36:27.101766+00:00"),
        triggered_by="rest_api",
        triggering_user_name="alice",
        note="",
        dag_version=version(),
    )
    values.update(overrides)
    message = models_pb2.DagRun(**values)
    message.conf.update({"n": 1, "ratio": 0.5, "nested": {"items": [1, 2]}})
    return message


def test_dag_response_matches_the_spec_and_carries_the_registry_fields(contract):
    body = dump(dag_response(full_dag(), SIGNER))
    contract.validate("DAGResponse", body)
    assert body["dag_display_name"] == "Nightly ETL"
    assert [t["name"] for t in body["tags"]] == ["etl", "warehouse"]  # sorted, as Airflow
    assert body["tags"][0] == {"name": "etl", "dag_id": "etl", "dag_display_name": "Nightly ETL"}
    assert body["bundle_name"] == "dags-folder" and body["bundle_version"] is None
    assert body["last_parsed_time"] == "2026-11-22T01:36:00Z"
    assert body["next_dagrun_data_interval_start"] is None
    assert SIGNER.loads(body["file_token"]) == {"bundle_name": "dags-folder", "relative_fileloc": "dag.py"}


def test_a_bare_dag_still_has_every_required_field_with_airflows_empty_values(contract):
    body = dump(dag_response(minimal_dag(), SIGNER))
    contract.validate("DAGResponse", body)
    assert body["dag_display_name"] == "bare"
    assert body["owners"] == [] and body["tags"] == []
    assert body["description"] is None and body["last_parsed_time"] is None
    assert body["max_active_tasks"] == 16 and body["max_active_runs"] == 16  # Airflow's defaults


def test_dag_details_take_params_doc_and_timeouts_from_the_spec(contract):
    body = dump(dag_details_response(full_dag(), spec(), active_runs_count=1, file_tokens=SIGNER))
    contract.validate("DAGDetailsResponse", body)
    assert body["doc_md"] == "# ETL\nLoads things."
    assert body["dag_run_timeout"] == "PT1H"
    assert body["params"]["day"] == {"value": "2026-01-01", "schema": {"type": "string"}, "description": "Day", "source": None}
    assert body["params"]["limit"]["value"] is None
    assert body["default_args"] == {"retries": 2, "owner": "data-team"}  # 2, not 2.0
    assert body["owner_links"] == {"data-team": "https://example.org/team"}
    assert body["concurrency"] == body["max_active_tasks"] == 8
    assert body["active_runs_count"] == 1
    assert body["latest_dag_version"]["version_number"] == 3
    assert body["latest_dag_version"]["dag_display_name"] == "Nightly ETL"
    assert body["timezone"] == "Europe/Paris" and body["catchup"] is True


def test_dag_details_without_a_spec_are_still_valid(contract):
    body = dump(dag_details_response(minimal_dag(), None, active_runs_count=0, file_tokens=SIGNER))
    contract.validate("DAGDetailsResponse", body)
    assert body["latest_dag_version"] is None and body["params"] == {} and body["timezone"] == "UTC"


def test_dag_run_response(contract):
    body = dump(dag_run_response(run(), "Nightly ETL"))
    contract.validate("DAGRunResponse", body)
    assert body["dag_run_id"] == RUN_ID
    assert body["run_after"] == "2026-11-22T01:36:27.101766Z"
    assert body["duration"] == 12.5
    assert body["conf"] == {"n": 1, "ratio": 0.5, "nested": {"items": [1, 2]}}
    assert isinstance(body["conf"]["n"], int)
    assert body["dag_versions"][0]["id"] == "01a200e5-552d-7e93-98ec-324eaa14dc79"
    assert body["note"] is None and body["partition_key"] is None


def test_a_queued_run_has_nulls_where_airflow_has_them(contract):
    queued = models_pb2.DagRun(
        dag_id="etl",
        run_id="manual__x",
        state=states_pb2.DAG_RUN_STATE_QUEUED,
        run_type=states_pb2.DAG_RUN_TYPE_OPERATOR_TRIGGERED,
        run_after=stamp("2026-11-22T01:00:00+00:00"),
        triggered_by="something-new",
    )
    body = dump(dag_run_response(queued, "etl"))
    contract.validate("DAGRunResponse", body)
    assert body["start_date"] is None and body["duration"] is None and body["logical_date"] is None
    assert body["run_type"] == "manual"  # 3.2.2 has no operator_triggered run type
    assert body["triggered_by"] is None  # not one of Airflow's values: null, not invalid
    assert body["conf"] is None and body["dag_versions"] == [] and body["dag_display_name"] == "etl"


def test_a_run_without_run_after_is_a_contract_violation_not_a_made_up_date():
    broken = models_pb2.DagRun(dag_id="etl", run_id="r", state=states_pb2.DAG_RUN_STATE_QUEUED)
    with pytest.raises(Internal):
        dag_run_response(broken, "etl")


def task_instance(**overrides) -> models_pb2.TaskInstance:
    values = dict(
        id="01a200e5-c226-7d2f-bb61-7eb6d687b903",
        dag_id="etl",
        run_id=RUN_ID,
        task_id="extract",
        map_index=-1,
        state=states_pb2.TASK_INSTANCE_STATE_SUCCESS,
        try_number=1,
        max_tries=2,
        start_date=stamp("2026-11-22T01:36:32.305531+00:00"),
        end_date=stamp("2026-11-22T01:36:32.364272+00:00"),
        scheduled_when=stamp("2026-11-22T01:36:27.490629+00:00"),
        hostname="worker-1",
        pid=27939,
        operator_name="BashOperator",
        pool="",
        pool_slots=1,
        queue="default",
        priority_weight=4,
        logical_date=stamp("2026-11-22T00:00:00+00:00"),
        run_after=stamp("2026-11-22T01:36:27.101766+00:00"),
        task_display_name="Extract",
        dag_version=version(),
    )
    values.update(overrides)
    message = models_pb2.TaskInstance(**values)
    message.rendered_fields.update({"bash_command": "echo start", "env": None})
    return message


def test_task_instance_response(contract):
    body = dump(task_instance_response(task_instance(), "Nightly ETL"))
    contract.validate("TaskInstanceResponse", body)
    assert body["dag_run_id"] == RUN_ID and body["map_index"] == -1
    assert body["duration"] == pytest.approx(0.058741)
    assert body["pool"] == "default_pool" and body["executor_config"] == "{}"
    assert body["operator"] == "BashOperator" and body["task_display_name"] == "Extract"
    assert body["rendered_fields"] == {"bash_command": "echo start", "env": None}
    assert body["trigger"] is None and body["triggerer_job"] is None
    assert body["dag_version"]["dag_display_name"] == "Nightly ETL"


def test_a_task_instance_with_no_state_yet(contract):
    fresh = models_pb2.TaskInstance(
        id="01a200e5-c226-7d2f-bb61-7eb6d687b904",
        dag_id="etl",
        run_id=RUN_ID,
        task_id="load",
        map_index=2,
        run_after=stamp("2026-11-22T01:36:27+00:00"),
    )
    body = dump(task_instance_response(fresh, "etl"))
    contract.validate("TaskInstanceResponse", body)
    assert body["state"] is None and body["pid"] is None and body["hostname"] is None
    assert body["task_display_name"] == "load" and body["dag_version"] is None and body["map_index"] == 2


def xcom_entry(value: object) -> xcom_pb2.XComEntry:
    return xcom_pb2.XComEntry(
        key=keys_pb2.TaskInstanceKey(dag_id="etl", run_id=RUN_ID, task_id="extract", map_index=-1),
        xcom_key="return_value",
        value_json=json.dumps(value).encode(),
        timestamp=stamp("2026-11-22T01:36:32.447232+00:00"),
    )


def test_xcom_list_item_and_native_value(contract):
    body = dump(xcom_response(xcom_entry([1, 2, 3]), run(), ("Nightly ETL", "Extract")))
    contract.validate("XComResponse", body)
    assert body["run_after"] == "2026-11-22T01:36:27.101766Z" and body["dag_display_name"] == "Nightly ETL"
    native = dump(xcom_entry_response(xcom_entry({"rows": [1, 2, 3]}), run(), ("Nightly ETL", "Extract"), stringify=False))
    contract.validate("XComResponseNative", native)
    assert native["value"] == {"rows": [1, 2, 3]}


def test_xcom_stringify_renders_the_value_as_airflow_does(contract):
    body = dump(xcom_entry_response(xcom_entry({"a": [1, 2]}), run(), ("Nightly ETL", "Extract"), stringify=True))
    contract.validate("XComResponseString", body)
    assert body["value"] == "{'a': [1, 2]}"  # Python's str(), Airflow's rendering
    empty = dump(xcom_entry_response(xcom_entry(None), run(), ("Nightly ETL", "Extract"), stringify=True))
    assert empty["value"] is None


def test_log_records_become_structured_log_messages(contract):
    record = logs_pb2.LogRecord(
        timestamp=stamp("2026-11-22T01:36:32.5+00:00"),
        level="INFO",
        stream="stdout",
        event="hello",
        sequence=4,
        logger="task",
        fields={"ti_id": "abc", "event": "must not override"},
    )
    message = log_message(record)
    assert message == {
        "timestamp": "2026-11-22T01:36:32.500000Z",
        "event": "hello",
        "level": "info",
        "logger": "task",
        "chan": "stdout",
        "ti_id": "abc",
    }
    contract.validate("TaskInstancesLogResponse", {"content": [message, log_message(logs_pb2.LogRecord(event="x"))], "continuation_token": None})
    assert "timestamp" not in log_message(logs_pb2.LogRecord(event="no time"))  # never null


def test_task_response_from_the_spec(contract):
    from leoflow_api_gateway.convert.tasks import downstream_ids, task_response

    dag = spec()
    extract = dag.tasks.add(task_id="extract", operator_name="_PythonDecoratedOperator", owner="data-team", retries=2)
    extract.retry_delay.FromSeconds(300)
    extract.template_fields.extend(["op_args", "op_kwargs"])
    extract.mapping.SetInParent()
    dag.tasks.add(task_id="load", operator_name="BashOperator", upstream_task_ids=["extract"])
    downstream = downstream_ids(dag)
    body = dump(task_response(dag, dag.tasks[0], downstream["extract"]))
    contract.validate("TaskResponse", body)
    assert body["retry_delay"] == {"__type": "TimeDelta", "days": 0, "seconds": 300, "microseconds": 0}
    assert body["operator_name"] == "@task" and body["class_ref"] == {"class_name": "_PythonDecoratedOperator"}
    assert body["downstream_task_ids"] == ["load"] and body["is_mapped"] is True
    assert body["trigger_rule"] == "all_success" and body["pool"] == "default_pool" and body["retries"] == 2.0
    assert body["params"]["day"]["value"] == "2026-01-01"
