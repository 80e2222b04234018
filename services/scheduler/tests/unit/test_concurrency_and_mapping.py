"""Pure scheduling decisions as tables: which ready task instances the limits
admit (Airflow's _executable_task_instances_to_queued), how many instances a
mapped task expands to (get_mapped_ti_count), and params validation."""

import math

import pytest
from leoflow_common.errors import InvalidArgument
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_scheduler.domain.params import resolve_params
from leoflow_scheduler.scheduling.concurrency import Budget, Candidate, HoldReason, admit
from leoflow_scheduler.scheduling.mapping import (
    MappingError,
    OutputRef,
    literal_count,
    mapped_count,
    reported_outputs,
)


def c(key, task="t", pool="default_pool", slots=1, weight=1, index=-1):
    return Candidate(key=key, task_id=task, pool=pool, pool_slots=slots, priority_weight=weight, map_index=index)


def budget(run=16, pools=None, totals=None, tasks=None):
    pools = pools if pools is not None else {"default_pool": 128}
    return Budget(run_slots=run, pool_open=dict(pools), pool_total=dict(totals or pools), task_slots=dict(tasks or {}))


ADMIT_TABLE = [
    ("open pool slots limit how many are queued (Pool.open_slots)",
     [c(1), c(2), c(3)], budget(pools={"p": 2}), ["p"], [1, 2], {3: HoldReason.POOL_FULL}),
    ("higher priority_weight first",
     [c(1, weight=1), c(2, weight=5)], budget(pools={"default_pool": 1}), None, [2], {1: HoldReason.POOL_FULL}),
    ("pool_slots larger than what is open: held, a smaller one behind it still fits",
     [c(1, slots=3, weight=2), c(2, slots=1)], budget(pools={"default_pool": 2}, totals={"default_pool": 4}), None, [2], {1: HoldReason.POOL_FULL}),
    ("pool_slots larger than the pool itself: never runs",
     [c(1, slots=5)], budget(pools={"default_pool": 4}), None, [], {1: HoldReason.POOL_TOO_SMALL}),
    ("a pool that does not exist: held (Airflow: not scheduled)",
     [c(1, pool="nope")], budget(), None, [], {1: HoldReason.NO_SUCH_POOL}),
    ("max_active_tasks of the run (Airflow 3 counts per DAG run)",
     [c(1), c(2), c(3)], budget(run=2), None, [1, 2], {3: HoldReason.MAX_ACTIVE_TASKS}),
    ("max_active_tis_per_dag of one task",
     [c(1, task="a"), c(2, task="a"), c(3, task="b")], budget(tasks={"a": 1}), None, [1, 3], {2: HoldReason.MAX_ACTIVE_TIS_PER_DAG}),
    ("unlimited pool (-1 slots)",
     [c(i) for i in range(5)], budget(pools={"default_pool": math.inf}), None, [0, 1, 2, 3, 4], {}),
    ("mapped instances in map_index order at equal priority",
     [c(k, index=k) for k in (2, 0, 1)], budget(run=2), None, [0, 1], {2: HoldReason.MAX_ACTIVE_TASKS}),
]  # fmt: skip


@pytest.mark.parametrize(("why", "candidates", "budget_", "pools", "admitted", "held"), ADMIT_TABLE, ids=[r[0][:50] for r in ADMIT_TABLE])
def test_admission(why, candidates, budget_, pools, admitted, held):
    if pools:
        candidates = [Candidate(k.key, k.task_id, pools[0], k.pool_slots, k.priority_weight, k.map_index) for k in candidates]
    got, holds = admit(candidates, budget_)
    assert [x.key for x in got] == admitted, why
    assert holds == held, why


def test_contended_locks_hold_without_deciding():
    b = budget()
    b.contended_pools.add("default_pool")
    assert admit([c(1)], b) == ([], {1: HoldReason.CONTENDED})


def _mapped(expand=None, expand_kwargs=None) -> dag_pb2.TaskSpec:
    task = dag_pb2.TaskSpec(task_id="m")
    task.mapping.SetInParent()
    for name, value in (expand or {}).items():
        task.mapping.expand[name].CopyFrom(value)
    if expand_kwargs is not None:
        task.mapping.expand_kwargs.CopyFrom(expand_kwargs)
    return task


def lit(values) -> dag_pb2.Value:
    value = dag_pb2.Value()
    if isinstance(values, list):
        value.literal.list_value.SetInParent()
        value.literal.list_value.extend(values)
    elif isinstance(values, dict):
        value.literal.struct_value.update(values)
    else:
        value.literal.string_value = values
    return value


def xcom(task_id, key="") -> dag_pb2.Value:
    value = dag_pb2.Value()
    value.xcom.task_id, value.xcom.key = task_id, key
    return value


COUNT_TABLE = [
    ("expand over a literal list: one instance per item", _mapped({"x": lit([1, 2, 3])}), {}, 3),
    ("expand over a literal dict: one per entry", _mapped({"x": lit({"a": 1, "b": 2})}), {}, 2),
    ("several expand kwargs: their cross product (DictOfListsExpandInput)", _mapped({"x": lit([1, 2]), "y": lit([1, 2, 3])}), {}, 6),
    ("an empty list: zero instances (the task is skipped)", _mapped({"x": lit([])}), {}, 0),
    ("expand over an upstream XCom: the length it reported (TaskMap)", _mapped({"x": xcom("up")}), {OutputRef("up", "return_value"): 4}, 4),
    ("an upstream that has not reported: unknown", _mapped({"x": xcom("up")}), {}, None),
    ("expand_kwargs over a literal list of dicts", _mapped(expand_kwargs=lit([{"a": 1}, {"a": 2}])), {}, 2),
    ("expand_kwargs over an XCom with a key", _mapped(expand_kwargs=xcom("up", "rows")), {OutputRef("up", "rows"): 7}, 7),
]  # fmt: skip


@pytest.mark.parametrize(("why", "task", "lengths", "expected"), COUNT_TABLE, ids=[r[0][:50] for r in COUNT_TABLE])
def test_mapped_count(why, task, lengths, expected):
    assert mapped_count(task, lengths.get) == expected, why


def test_literal_count_and_unmappable_values():
    assert literal_count(_mapped({"x": lit([1, 2])})) == 2
    assert literal_count(_mapped({"x": xcom("up")})) is None
    with pytest.raises(MappingError, match="string_value"):
        literal_count(_mapped({"x": lit("abc")}))


def test_reported_outputs_name_the_upstreams_a_mapping_reads():
    spec = dag_pb2.DagSpec(dag_id="d")
    spec.tasks.append(dag_pb2.TaskSpec(task_id="up"))
    spec.tasks.append(_mapped({"x": xcom("up"), "y": xcom("other", "k")}))
    assert reported_outputs(spec) == {"up": {"return_value"}, "other": {"k"}}


def _params_spec() -> dag_pb2.DagSpec:
    spec = dag_pb2.DagSpec(dag_id="d")
    spec.params["n"].has_default = True
    spec.params["n"].default.number_value = 3
    spec.params["n"].schema.update({"type": "integer", "minimum": 1})
    spec.params["name"].schema.update({"type": "string"})
    return spec


def test_params_defaults_and_conf():
    assert resolve_params(_params_spec(), {"name": "x"}) == {"n": 3, "name": "x"}
    assert resolve_params(_params_spec(), {"name": "x", "n": 5, "extra": True}) == {"n": 5, "name": "x", "extra": True}


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({}, "Invalid input for param name: No value passed"),
        ({"name": 7}, "Invalid input for param name: 7 is not of type 'string'"),
        ({"name": "x", "n": 0}, "Invalid input for param n: 0 is less than the minimum of 1"),
    ],
)
def test_params_validation_names_the_param(conf, message):
    with pytest.raises(InvalidArgument) as exc:
        resolve_params(_params_spec(), conf)
    assert exc.value.message == message
