"""GET /api/v2/dagWarnings: empty. Airflow's warnings come from its DAG processor
(e.g. a non-existent pool); Leoflow's registry validates dag.json on registration
and refuses a bad one instead of keeping a warning."""

from __future__ import annotations

from starlette.routing import Route

from ..common import empty_collection

list_dag_warnings = empty_collection("dag_warnings", "The registry refuses a bad spec rather than warn.")

routes = [Route("/dagWarnings", list_dag_warnings, methods=["GET"])]
