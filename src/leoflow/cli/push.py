"""`leoflow push DAG_JSON`: register a compiled DAG as a new version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ._common import JsonOption, ServerOption, TokenOption, client, console, print_json, reports_errors
from ._errors import EXIT_BAD_INPUT, CliError


def register(app: typer.Typer) -> None:
    @app.command("push")
    @reports_errors
    def push(
        dag_json: Annotated[Path, typer.Argument(help="The dag.json written by `leoflow compile` (or its folder).")],
        server: ServerOption = None,
        token: TokenOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Register a compiled DAG. Pushing the same spec twice is a no-op."""
        path = dag_json / "dag.json" if dag_json.is_dir() else dag_json
        try:
            spec = json.loads(path.read_text())
        except OSError as exc:
            raise CliError(f"cannot read {path}: {exc.strerror}", EXIT_BAD_INPUT) from exc
        except ValueError as exc:
            raise CliError(f"{path} is not valid JSON: {exc}", EXIT_BAD_INPUT) from exc
        if not isinstance(spec, dict) or not spec.get("dag_id"):
            raise CliError(f"{path} has no dag_id: is it a dag.json from `leoflow compile`?", EXIT_BAD_INPUT)
        with client(server, token) as api:
            version = api.register_version(spec)
        if as_json:
            print_json(version)
        elif version.get("created", True):
            console.print(f"registered [bold]{spec['dag_id']}[/] version {version.get('version_number')}")
        else:
            console.print(f"[bold]{spec['dag_id']}[/] unchanged (version {version.get('version_number')})")
