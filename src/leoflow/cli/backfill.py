"""`leoflow backfill ...`: Airflow 3's backfills through the REST API
(/api/v2/backfills): create (or --dry-run), list, pause, unpause, cancel."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from ._common import JsonOption, ServerOption, TokenOption, client, console, print_json, reports_errors
from ._errors import EXIT_BAD_INPUT, CliError
from .runs import _parse_conf

REPROCESS = ("none", "failed", "completed")


def _date(value: str, name: str) -> str:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CliError(f"--{name} is not an ISO 8601 date: {value!r}", EXIT_BAD_INPUT) from exc
    return parsed.isoformat()


def _show(backfill: dict) -> None:
    state = "completed" if backfill["completed_at"] else ("paused" if backfill["is_paused"] else "active")
    console.print(
        f"backfill [bold]{backfill['id']}[/] of {backfill['dag_id']}: {backfill['from_date']} .. "
        f"{backfill['to_date']}, reprocess {backfill['reprocess_behavior']}, "
        f"max_active_runs {backfill['max_active_runs']} ({state})"
    )


def register(app: typer.Typer) -> None:
    backfill = typer.Typer(help="Backfill a DAG over a date range (Airflow 3's backfills).", no_args_is_help=True)
    app.add_typer(backfill, name="backfill")

    @backfill.command("create")
    @reports_errors
    def create(
        dag_id: str,
        from_date: Annotated[str, typer.Option("--from-date", help="First logical date (ISO 8601).")],
        to_date: Annotated[str, typer.Option("--to-date", help="Last logical date (ISO 8601).")],
        reprocess: Annotated[str, typer.Option("--reprocess-behavior", help="none, failed or completed.")] = "none",
        max_active_runs: Annotated[int, typer.Option("--max-active-runs", help="Runs at a time.")] = 10,
        run_backwards: Annotated[bool, typer.Option("--run-backwards", help="Latest date first.")] = False,
        conf: Annotated[str | None, typer.Option(help="Run configuration as a JSON object.")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list the logical dates it would run.")] = False,
        server: ServerOption = None,
        token: TokenOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Create a backfill of DAG_ID over [--from-date, --to-date]."""
        if reprocess not in REPROCESS:
            raise CliError(f"--reprocess-behavior must be one of {', '.join(REPROCESS)}", EXIT_BAD_INPUT)
        body = {
            "dag_id": dag_id, "from_date": _date(from_date, "from-date"), "to_date": _date(to_date, "to-date"),
            "reprocess_behavior": reprocess, "max_active_runs": max_active_runs, "run_backwards": run_backwards,
        }  # fmt: skip
        if conf is not None:
            body["dag_run_conf"] = _parse_conf(conf)
        with client(server, token) as api:
            answer = api._send("POST", "/api/v2/backfills/dry_run" if dry_run else "/api/v2/backfills", json=body)
        if as_json:
            print_json(answer)
        elif dry_run:
            dates = [b["logical_date"] for b in answer["backfills"]]
            console.print(f"{len(dates)} run(s) would be created or re-run:")
            for when in dates:
                console.print(f"  {when}")
        else:
            _show(answer)

    @backfill.command("list")
    @reports_errors
    def list_(
        dag_id: str,
        server: ServerOption = None,
        token: TokenOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """List the backfills of DAG_ID."""
        with client(server, token) as api:
            answer = api._send("GET", "/api/v2/backfills", params={"dag_id": dag_id, "limit": 100})
        if as_json:
            print_json(answer)
            return
        table = Table("id", "from", "to", "reprocess", "max runs", "paused", "completed")
        for b in answer["backfills"]:
            table.add_row(str(b["id"]), b["from_date"], b["to_date"], b["reprocess_behavior"],
                          str(b["max_active_runs"]), str(b["is_paused"]), b["completed_at"] or "")  # fmt: skip
        console.print(table)

    def _change(verb: str):
        @reports_errors
        def change(
            backfill_id: int,
            server: ServerOption = None,
            token: TokenOption = None,
            as_json: JsonOption = False,
        ) -> None:
            with client(server, token) as api:
                answer = api._send("PUT", f"/api/v2/backfills/{backfill_id}/{verb}")
            print_json(answer) if as_json else _show(answer)

        change.__doc__ = {
            "pause": "Pause a backfill: none of its runs starts until it is unpaused.",
            "unpause": "Unpause a backfill.",
            "cancel": "Cancel a backfill: its runs not yet started fail, running ones finish.",
        }[verb]
        backfill.command(verb)(change)

    for verb in ("pause", "unpause", "cancel"):
        _change(verb)
