"""GET .../dagRuns/{dag_run_id}/hitlDetails: empty. Leoflow has no
human-in-the-loop operators, so no task ever waits for a person's answer."""

from __future__ import annotations

from starlette.routing import Route

from ..common import empty_collection

get_hitl_details = empty_collection("hitl_details", "No human-in-the-loop tasks exist in Leoflow.")

routes = [Route("/dags/{dag_id}/dagRuns/{dag_run_id}/hitlDetails", get_hitl_details, methods=["GET"])]
