"""Execution names: deterministic, valid Kubernetes pod names, one per dispatch attempt."""

from __future__ import annotations

import itertools

import pytest
from leoflow_dispatcher.naming import execution_name, is_valid_execution_name

BASE = dict(
    tenant_id="default",
    dag_id="daily_sales",
    run_id="scheduled__2026-01-01T00:00:00+00:00",
    task_id="extract",
    map_index=-1,
    try_number=1,
    dispatch_attempt=0,
)


def test_same_request_same_name():
    assert execution_name(**BASE) == execution_name(**dict(BASE))


def test_name_is_readable():
    name = execution_name(**BASE)
    assert name.startswith("daily-sales-extract-t1-")
    assert execution_name(**{**BASE, "map_index": 4, "dispatch_attempt": 2}).startswith(
        "daily-sales-extract-m4-t1-a2-"
    )


@pytest.mark.parametrize(
    "field, values",
    [
        ("tenant_id", ["default", "acme"]),
        ("dag_id", ["daily_sales", "daily-sales", "Daily_Sales"]),
        ("run_id", ["manual__1", "manual__2"]),
        ("task_id", ["extract", "extract.part", "extract_part"]),
        ("map_index", [-1, 0, 1, 10]),
        ("try_number", [1, 2, 3]),
        ("dispatch_attempt", [0, 1, 2]),
    ],
)
def test_every_part_of_the_identity_changes_the_name(field, values):
    names = {execution_name(**{**BASE, field: value}) for value in values}
    assert len(names) == len(values)


@pytest.mark.parametrize(
    "dag_id, task_id",
    [
        ("d" * 250, "t" * 250),
        ("ÉTL_über", "tâche"),
        ("123_numeric_start", "4th"),
        ("___", "..."),
        ("UPPER.Case-Mixed", "group.sub_group.Task__1"),
        ("", ""),
        ("a", "-"),
    ],
)
def test_names_are_valid_kubernetes_pod_names(dag_id, task_id):
    for map_index, try_number, attempt in itertools.product((-1, 0, 12345), (1, 99), (0, 7)):
        name = execution_name(
            **{
                **BASE,
                "dag_id": dag_id,
                "task_id": task_id,
                "map_index": map_index,
                "try_number": try_number,
                "dispatch_attempt": attempt,
            }
        )
        assert len(name) <= 63
        assert is_valid_execution_name(name), name
        assert name[0].isalpha()


@pytest.mark.parametrize("bad", ["", "-abc", "abc-", "ABC", "a_b", "a.b", "a" * 64])
def test_is_valid_execution_name_rejects_what_kubernetes_rejects(bad):
    assert not is_valid_execution_name(bad)
