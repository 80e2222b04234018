"""The grid and graph shapes from a DagSpec and a run's task instances (pure),
checked against 3.2.2's private UI schemas."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from leoflow_api_gateway.convert.grid import ti_summaries
from leoflow_api_gateway.convert.structure import (
    dag_tree,
    grid_nodes,
    merge_grid_nodes,
    structure_data,
    subset_task_ids,
)
from leoflow_api_gateway.http.responses import dump
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.scheduler.v1 import models_pb2


def study_spec() -> dag_pb2.DagSpec:
    """The research study's DAG: start >> make_list >> double.expand() >> grp(a >> b),
    with the group declared first, so declaration order alone would be wrong."""
    spec = dag_pb2.DagSpec(dag_id="study_dag")
    spec.task_groups.add(group_id="grp", label="grp", tooltip="", prefix_group_id=True)
    spec.tasks.add(task_id="grp.a", task_group_id="grp", operator_name="BashOperator")
    spec.tasks.add(task_id="grp.b", task_group_id="grp", operator_name="BashOperator", upstream_task_ids=["grp.a", "double"])
    spec.tasks.add(task_id="double", operator_name="_PythonDecoratedOperator", upstream_task_ids=["make_list"])
    spec.tasks[-1].mapping.SetInParent()
    spec.tasks.add(task_id="make_list", operator_name="_PythonDecoratedOperator", upstream_task_ids=["start"])
    spec.tasks.add(task_id="start", operator_name="BashOperator")
    return spec


def test_grid_rows_are_topological_with_groups_nested(contract):
    nodes = [dump(n) for n in grid_nodes(dag_tree(study_spec()))]
    for node in nodes:
        contract.validate("GridNodeResponse", node, spec="ui")
    assert [n["id"] for n in nodes] == ["start", "make_list", "double", "grp"]
    grp = nodes[-1]
    assert grp["label"] == "grp" and [(c["id"], c["label"]) for c in grp["children"]] == [("grp.a", "a"), ("grp.b", "b")]
    assert nodes[2]["is_mapped"] is True and nodes[0]["is_mapped"] is None


def test_graph_nodes_and_edges(contract):
    spec = study_spec()
    body = dump(structure_data(spec, dag_tree(spec)))
    contract.validate("StructureDataResponse", body, spec="ui")
    assert [(e["source_id"], e["target_id"]) for e in body["edges"]] == [
        ("double", "grp.b"),
        ("grp.a", "grp.b"),
        ("make_list", "double"),
        ("start", "make_list"),
    ]
    by_id = {n["id"]: n for n in body["nodes"]}
    assert by_id["double"]["operator"] == "@task" and by_id["double"]["is_mapped"] is True
    assert by_id["start"]["operator"] == "BashOperator"
    assert by_id["grp"]["children"][1]["id"] == "grp.b" and by_id["grp"]["tooltip"] == ""


def test_a_subset_around_a_root(contract):
    spec = study_spec()
    up = subset_task_ids(spec, "make_list", include_upstream=True, include_downstream=False, depth=None)
    assert up == {"make_list", "start"}
    down_one = subset_task_ids(spec, "make_list", include_upstream=False, include_downstream=True, depth=1)
    assert down_one == {"make_list", "double"}
    group = subset_task_ids(spec, "grp", include_upstream=False, include_downstream=False, depth=None)
    assert group == {"grp.a", "grp.b"}
    body = dump(structure_data(spec, dag_tree(spec, up)))
    assert [n["id"] for n in body["nodes"]] == ["start", "make_list"]
    assert [(e["source_id"], e["target_id"]) for e in body["edges"]] == [("start", "make_list")]


def test_rows_of_older_versions_are_added_after_the_latest_layout():
    latest = grid_nodes(dag_tree(study_spec()))
    older_spec = study_spec()
    older_spec.tasks.add(task_id="grp.old", task_group_id="grp", operator_name="BashOperator")
    older_spec.tasks.add(task_id="gone", operator_name="BashOperator")
    merge_grid_nodes(latest, grid_nodes(dag_tree(older_spec)))
    assert [n.id for n in latest] == ["start", "make_list", "double", "grp", "gone"]
    assert [c.id for c in latest[3].children] == ["grp.a", "grp.b", "grp.old"]


def stamp(text: str) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(datetime.fromisoformat(text).astimezone(UTC))
    return value


def ti(task_id: str, state: int, map_index: int = -1, start: str | None = None, end: str | None = None):
    message = models_pb2.TaskInstance(dag_id="study_dag", run_id="r1", task_id=task_id, map_index=map_index, state=state)
    if start:
        message.start_date.CopyFrom(stamp(start))
    if end:
        message.end_date.CopyFrom(stamp(end))
    message.dag_version.version_number = 1
    return message


def test_ti_summaries_aggregate_groups_and_mapped_tasks(contract):
    S = states_pb2
    tis = [
        ti("start", S.TASK_INSTANCE_STATE_SUCCESS, start="2026-01-01T00:00:01+00:00", end="2026-01-01T00:00:02+00:00"),
        ti("make_list", S.TASK_INSTANCE_STATE_SUCCESS),
        ti("double", S.TASK_INSTANCE_STATE_SUCCESS, 0),
        ti("double", S.TASK_INSTANCE_STATE_FAILED, 1),
        ti("double", S.TASK_INSTANCE_STATE_RUNNING, 2),
        ti("grp.a", S.TASK_INSTANCE_STATE_SUCCESS, start="2026-01-01T00:00:05+00:00", end="2026-01-01T00:00:06+00:00"),
        ti("grp.b", S.TASK_INSTANCE_STATE_UNSPECIFIED),
    ]
    summary = dump(ti_summaries("study_dag", "r1", dag_tree(study_spec()), tis))
    contract.validate("GridTISummaries", summary, spec="ui")
    by_id = {line["task_id"]: line for line in summary["task_instances"]}
    assert by_id["start"]["state"] == "success" and by_id["start"]["child_states"] is None
    assert by_id["double"]["state"] == "failed"  # failed wins over running and success
    assert by_id["double"]["child_states"] == {"success": 1, "failed": 1, "running": 1}
    assert by_id["grp"]["child_states"] == {"success": 1, "none": 1}
    assert by_id["grp"]["state"] is None  # no state yet outranks success
    assert by_id["grp"]["min_start_date"] == "2026-01-01T00:00:05Z" and by_id["grp"]["max_end_date"] == "2026-01-01T00:00:06Z"
    assert by_id["grp"]["dag_version_number"] == 1
    assert [line["task_id"] for line in summary["task_instances"]] == ["start", "make_list", "double", "grp.a", "grp.b", "grp"]


def test_a_run_without_task_instances_has_no_line_and_unexpanded_mapped_tasks_one_square():
    assert ti_summaries("study_dag", "r1", dag_tree(study_spec()), []) is None
    summary = ti_summaries("study_dag", "r1", dag_tree(study_spec()), [ti("start", states_pb2.TASK_INSTANCE_STATE_RUNNING)])
    double = next(line for line in summary.task_instances if line.task_id == "double")
    assert double.child_states == {"none": 1} and double.state is None
