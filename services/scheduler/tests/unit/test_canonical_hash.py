"""The spec hash is stable: equal specs hash equally whatever the map order, any
meaningful change changes it, and the value for a fixed spec never drifts."""

import hashlib

from leoflow_scheduler.dagspec.canonical import (
    canonical_json,
    spec_from_dict,
    spec_hash,
    spec_to_dict,
)


def test_the_hash_of_a_fixed_spec_never_changes(spec_builder):
    spec = spec_builder("pinned", {"a": [], "b": ["a"]}, description="fixed")
    assert canonical_json(spec) == (
        '{"dag_id":"pinned","description":"fixed","schema_version":"1","source":{"relative_fileloc":"dag.py"},'
        '"tasks":[{"bash":{"bash_command":"echo a"},"kind":"OPERATOR_KIND_BASH","operator_name":"BashOperator","task_id":"a"},'
        '{"bash":{"bash_command":"echo b"},"kind":"OPERATOR_KIND_BASH","operator_name":"BashOperator","task_id":"b",'
        '"upstream_task_ids":["a"]}]}'
    )
    assert spec_hash(spec) == hashlib.sha256(canonical_json(spec).encode()).hexdigest()
    assert spec_hash(spec) == "b2d2bb0a4f1869ab4485634354e95b0d434cfcc836a49bcd1f94992c2b9e4957"


def test_map_order_does_not_matter(spec_builder):
    first, second = spec_builder("m", {"a": []}), spec_builder("m", {"a": []})
    for key in ("x", "y", "z"):
        first.tasks[0].env[key] = key
    for key in ("z", "x", "y"):
        second.tasks[0].env[key] = key
    first.params["p"].description = "p"
    first.params["q"].description = "q"
    second.params["q"].description = "q"
    second.params["p"].description = "p"
    assert spec_hash(first) == spec_hash(second)


def test_meaningful_changes_change_the_hash(spec_builder):
    base = spec_hash(spec_builder("h", {"a": [], "b": ["a"]}))
    assert spec_hash(spec_builder("h", {"a": [], "b": []})) != base
    assert spec_hash(spec_builder("h", {"b": ["a"], "a": []})) != base  # task order is meaningful
    changed = spec_builder("h", {"a": [], "b": ["a"]})
    changed.source.content = "# edited"
    assert spec_hash(changed) != base


def test_stored_form_round_trips(spec_builder):
    spec = spec_builder("rt", {"a": [], "b": ["a"]})
    spec.tasks[0].retry_delay.seconds = 30
    spec.params["n"].default.number_value = 3
    assert spec_from_dict(spec_to_dict(spec)) == spec
    assert spec_hash(spec_from_dict(spec_to_dict(spec))) == spec_hash(spec)
