"""`leoflow runs ...`: trigger a DAG run and follow its state."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from rich.table import Table

from ._common import JsonOption, ServerOption, TokenOption, client, console, print_json, reports_errors
from ._errors import EXIT_BAD_INPUT, EXIT_FAILURE, CliError

FINISHED = {"success", "failed"}


def _parse_conf(conf: str | None) -> dict:
    if not conf:
        return {}
    try:
        value = json.loads(conf)
    except ValueError as exc:
        raise CliError(f"--conf is not valid JSON: {exc}", EXIT_BAD_INPUT) from exc
    if not isinstance(value, dict):
        raise CliError("--conf must be a JSON object", EXIT_BAD_INPUT)
    return value


def register(app: typer.Typer) -> None:
    runs = typer.Typer(help="Trigger DAG runs and see their state.", no_args_is_help=True)
    app.add_typer(runs, name="runs")

    @runs.command("trigger")
    @reports_errors
    def trigger(
        dag_id: str,
        conf: Annotated[str | None, typer.Option(help="Run configuration as a JSON object.")] = None,
        run_id: Annotated[str | None, typer.Option("--run-id", help="Run id (default: manual__<time>).")] = None,
        wait: Annotated[bool, typer.Option("--wait", help="Wait for the run to finish; exit 1 if it failed.")] = False,
        timeout: Annotated[float, typer.Option(help="With --wait: give up after this many seconds.")] = 3600,
        server: ServerOption = None,
        token: TokenOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Trigger a run of DAG_ID."""
        with client(server, token) as api:
            run = api.trigger(dag_id, conf=_parse_conf(conf), run_id=run_id)
            if not as_json:
                console.print(f"triggered {dag_id} run [bold]{run['dag_run_id']}[/] ({run['state']})")
            if wait:
                deadline = time.monotonic() + timeout
                while run["state"] not in FINISHED:
                    if time.monotonic() > deadline:
                        raise CliError(f"run {run['dag_run_id']} still {run['state']} after {timeout:g}s")
                    time.sleep(0.5)
                    run = api.get_run(dag_id, run["dag_run_id"])
                if not as_json:
                    console.print(f"run {run['dag_run_id']}: [bold]{run['state']}[/]")
        if as_json:
            print_json(run)
        if wait and run["state"] == "failed":
            raise typer.Exit(EXIT_FAILURE)

    @runs.command("status")
    @reports_errors
    def status(
        dag_id: str,
        run: Annotated[str | None, typer.Option("--run", help="Run id (default: the latest run).")] = None,
        server: ServerOption = None,
        token: TokenOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Show a run's state and its task instances (the latest run by default)."""
        with client(server, token) as api:
            if run is None:
                latest = api.list_runs(dag_id, limit=1).get("dag_runs", [])
                if not latest:
                    raise CliError(f"{dag_id} has no runs yet", EXIT_BAD_INPUT)
                run = latest[0]["dag_run_id"]
            dag_run = api.get_run(dag_id, run)
            tis = api.list_task_instances(dag_id, run).get("task_instances", [])
        if as_json:
            print_json({"dag_run": dag_run, "task_instances": tis})
            return
        console.print(f"{dag_id} run [bold]{dag_run['dag_run_id']}[/]: [bold]{dag_run['state']}[/]")
        table = Table("task_id", "map_index", "state", "try", "duration (s)")
        for ti in sorted(tis, key=lambda t: (t.get("start_date") or "~", t["task_id"])):
            duration = ti.get("duration")
            table.add_row(ti["task_id"], str(ti.get("map_index", -1)), ti.get("state") or "none", str(ti.get("try_number", 0)),
                          f"{duration:.3f}" if duration is not None else "")
        console.print(table)
