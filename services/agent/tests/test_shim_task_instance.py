"""ti.xcom_pull / ti.xcom_push result shapes (airflow._shim.task_instance), as a table
of Airflow 3.2's RuntimeTaskInstance.xcom_pull behaviour, over an in-memory store."""

from __future__ import annotations

from typing import Any

import pytest
from airflow._shim.exceptions import AirflowException
from airflow._shim.task_instance import RuntimeTaskInstance

# (task_id, map_index, key) -> value. "mapped" has three instances; "solo" one
# mapped instance; "plain" is unmapped; "gone" has nothing.
STORE = {
    ("plain", -1, "return_value"): {"rows": 3},
    ("plain", -1, "custom"): "custom value",
    ("mapped", 0, "return_value"): 0,
    ("mapped", 1, "return_value"): 10,
    ("mapped", 2, "return_value"): 20,
    ("solo", 0, "return_value"): "only",
    ("me", -1, "return_value"): "mine",
}


class MemoryTransport:
    def __init__(self, store: dict):
        self.store = dict(store)
        self.pushed: list[tuple[str, Any]] = []

    def get_one(self, task_id, key, map_index):
        if map_index is None:
            matches = sorted((i, v) for (t, i, k), v in self.store.items() if (t, k) == (task_id, key))
            return (True, matches[0][1]) if matches else (False, None)
        return ((task_id, map_index, key) in self.store, self.store.get((task_id, map_index, key)))

    def get_all(self, task_id, key):
        return [v for (t, i, k), v in sorted(self.store.items(), key=lambda item: item[0][1]) if (t, k) == (task_id, key)]

    def push(self, key, value):
        self.pushed.append((key, value))
        self.store[("me", -1, key)] = value


def ti(map_index: int = -1) -> RuntimeTaskInstance:
    return RuntimeTaskInstance(task=None, dag_id="d", run_id="r", task_id="me", map_index=map_index, xcom=MemoryTransport(STORE))


NOTSET_ARGS: dict = {}


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        # One task, map_indexes not given: all its values; exactly one -> that value.
        ({"task_ids": "plain"}, {"rows": 3}),
        ({"task_ids": "plain", "key": "custom"}, "custom value"),
        # ...a mapped upstream -> the list of its instances' values, in map_index order.
        ({"task_ids": "mapped"}, [0, 10, 20]),
        # ...a mapped upstream with one instance -> that value (Airflow's len == 1 rule).
        ({"task_ids": "solo"}, "only"),
        # ...nothing -> None, not `default` (Airflow ignores default on this path).
        ({"task_ids": "gone", "default": "d"}, None),
        # task_ids=None: this task itself.
        ({}, "mine"),
        # Several tasks: one flat list, None for a task without a value.
        ({"task_ids": ["plain", "gone", "mapped"]}, [{"rows": 3}, None, 0, 10, 20]),
        ({"task_ids": ["plain"]}, [{"rows": 3}]),
        # map_indexes given: one value per (task, index), default where there is none.
        ({"task_ids": "mapped", "map_indexes": 1}, 10),
        ({"task_ids": "mapped", "map_indexes": 7, "default": "d"}, "d"),
        ({"task_ids": "mapped", "map_indexes": [2, 0]}, [20, 0]),
        ({"task_ids": ["mapped", "plain"], "map_indexes": [0, -1]}, [0, "d", "d", {"rows": 3}]),
        ({"task_ids": "plain", "map_indexes": -1}, {"rows": 3}),
        # map_indexes=None: whichever instance has a value.
        ({"task_ids": "mapped", "map_indexes": None}, 0),
    ],
    ids=[
        "one-unmapped", "custom-key", "mapped-list", "mapped-single", "missing-is-none", "own-task",
        "several-flat", "several-one", "index", "index-default", "indexes", "product", "unmapped-index", "any-index",
    ],
)
def test_xcom_pull_shapes(kwargs, expected):
    if kwargs.get("map_indexes", 0) == [0, -1]:
        kwargs = {**kwargs, "default": "d"}
    assert ti().xcom_pull(**kwargs) == expected


def test_xcom_push_goes_to_the_transport_and_reads_back():
    instance = ti()
    instance.xcom_push("count", 5)
    assert instance._xcom.pushed == [("count", 5)]
    assert instance.xcom_pull(key="count") == 5
    with pytest.raises(ValueError, match="non-empty string"):
        instance.xcom_push("", 1)


@pytest.mark.parametrize(
    "kwargs",
    [{"task_ids": "plain", "dag_id": "other"}, {"task_ids": "plain", "run_id": "other"}, {"task_ids": "plain", "include_prior_dates": True}],
)
def test_only_the_own_run_can_be_read(kwargs):
    with pytest.raises(AirflowException, match="own DAG run|include_prior_dates"):
        ti().xcom_pull(**kwargs)


def test_own_dag_and_run_named_explicitly_are_fine():
    assert ti().xcom_pull(task_ids="plain", dag_id="d", run_id="r") == {"rows": 3}


def test_bad_arguments_are_clear():
    with pytest.raises(TypeError, match="map_indexes"):
        ti().xcom_pull(task_ids="plain", map_indexes="0")
    with pytest.raises(TypeError, match="task_ids"):
        ti().xcom_pull(task_ids=[1])


def test_identity_and_urls():
    instance = ti(map_index=2)
    assert instance.is_mapped and repr(instance) == "<TaskInstance: d.me r [2] [running]>"
    assert instance.log_url == "/dags/d/runs/r/tasks/me/mapped/2?try_number=1"
