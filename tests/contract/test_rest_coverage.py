"""docs/rest-api-coverage.md is what scripts/gen_rest_coverage.py makes of the
3.2.2 spec and the gateway's current route table: implementing an operation (or
dropping one) without regenerating the document fails here."""

from __future__ import annotations

import importlib.util

from tests.contract.rest_api import EMPTY, IMPLEMENTED, NOT_IMPLEMENTED, REPO, operations


def _generator():
    spec = importlib.util.spec_from_file_location("gen_rest_coverage", REPO / "scripts" / "gen_rest_coverage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_coverage_document_is_current():
    generator = _generator()
    assert generator.TARGET.read_text() == generator.render(), "run: uv run python scripts/gen_rest_coverage.py"


def test_every_operation_of_the_spec_is_listed_once_with_an_answer():
    ops = operations()
    ids = [op.operation_id for op in ops]
    assert len(ids) == len(set(ids)) == 110  # Airflow 3.2.2's public API
    assert {op.status for op in ops} <= {IMPLEMENTED, EMPTY, NOT_IMPLEMENTED}
    document = (REPO / "docs" / "rest-api-coverage.md").read_text()
    for op in ops:
        assert f"`{op.operation_id}`" in document


def test_served_operations_name_their_module():
    # The core of Leoflow's surface: if one of these fell back to 501 the table would say so.
    served = {op.operation_id: op for op in operations() if op.status == IMPLEMENTED}
    for operation_id in ("get_dags", "patch_dag", "get_dag_runs", "trigger_dag_run", "get_task_instances", "get_log", "get_xcom_entries"):
        assert operation_id in served
        assert served[operation_id].module.startswith("routes.public.")
