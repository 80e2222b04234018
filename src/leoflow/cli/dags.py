"""`leoflow dags ...`: list, pause and unpause DAGs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ._common import JsonOption, ServerOption, TokenOption, client, console, print_json, reports_errors


def register(app: typer.Typer) -> None:
    dags = typer.Typer(help="List, pause and unpause DAGs.", no_args_is_help=True)
    app.add_typer(dags, name="dags")

    @dags.command("list")
    @reports_errors
    def list_dags(
        pattern: Annotated[str | None, typer.Option("--pattern", help="SQL LIKE pattern on dag_id, e.g. 'etl%'.")] = None,
        limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
        server: ServerOption = None,
        token: TokenOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """List registered DAGs."""
        with client(server, token) as api:
            data = api.list_dags(limit=limit, dag_id_pattern=pattern)
        if as_json:
            print_json(data)
            return
        table = Table("dag_id", "paused", "schedule", "tags", "owners")
        for dag in data.get("dags", []):
            table.add_row(
                dag["dag_id"],
                "yes" if dag.get("is_paused") else "no",
                dag.get("timetable_summary") or "None",
                ", ".join(t["name"] for t in dag.get("tags", [])),
                ", ".join(dag.get("owners", [])),
            )
        console.print(table)
        console.print(f"{data.get('total_entries', 0)} DAG(s)")

    def _set_paused(dag_id: str, paused: bool, server: str | None, token: str | None) -> None:
        with client(server, token) as api:
            api.patch_dag(dag_id, is_paused=paused)
        console.print(f"{dag_id}: {'paused' if paused else 'unpaused'}")

    @dags.command("pause")
    @reports_errors
    def pause(dag_id: str, server: ServerOption = None, token: TokenOption = None) -> None:
        """Pause a DAG (no new runs start)."""
        _set_paused(dag_id, True, server, token)

    @dags.command("unpause")
    @reports_errors
    def unpause(dag_id: str, server: ServerOption = None, token: TokenOption = None) -> None:
        """Unpause a DAG."""
        _set_paused(dag_id, False, server, token)
