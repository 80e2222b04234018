"""`leoflow variables ...`: Airflow's Variables through the gateway's REST API
(list, get, set, delete, import). Values of sensitive keys come back masked
("***"), as the API returns them: the CLI never sees a stored secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from ._client import GatewayClient
from ._common import JsonOption, ServerOption, TokenOption, client, console, print_json, reports_errors
from ._errors import EXIT_BAD_INPUT, CliError


def _path(key: str) -> str:
    # Keys may hold "/" (Airflow routes them as a path); everything else is encoded.
    return "/api/v2/variables/" + quote(key, safe="/")


def _exists(api: GatewayClient, key: str) -> bool:
    try:
        api._send("GET", _path(key))
    except CliError as exc:
        if ": 404 " in exc.message:
            return False
        raise
    return True


def _load_json_object(file: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text())
    except OSError as exc:
        raise CliError(f"cannot read {file}: {exc.strerror}", EXIT_BAD_INPUT) from exc
    except ValueError as exc:
        raise CliError(f"{file} is not valid JSON: {exc}", EXIT_BAD_INPUT) from exc
    if not isinstance(data, dict):
        raise CliError(f"{file} must hold a JSON object of {what}", EXIT_BAD_INPUT)
    return data


def bulk_outcome(answer: dict) -> tuple[list[str], list[str]]:
    """(succeeded ids, error messages) of a bulk answer."""
    succeeded, errors = [], []
    for result in (answer.get(kind) for kind in ("create", "update", "delete")):
        if result:
            succeeded += result.get("success", [])
            errors += [e.get("error", str(e)) for e in result.get("errors", [])]
    return succeeded, errors


def register(app: typer.Typer) -> None:
    variables = typer.Typer(help="Manage Airflow Variables (values of sensitive keys are shown as ***).", no_args_is_help=True)
    app.add_typer(variables, name="variables")

    @variables.command("list")
    @reports_errors
    def list_variables(
        pattern: Annotated[str | None, typer.Option("--pattern", help="Only keys containing this (SQL LIKE, | for or).")] = None,
        limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
        server: ServerOption = None,
        token: TokenOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """List variables, by key."""
        params: dict[str, Any] = {"limit": limit, "order_by": "key"}
        if pattern:
            params["variable_key_pattern"] = pattern
        with client(server, token) as api:
            answer = api._send("GET", "/api/v2/variables", params=params)
        if as_json:
            print_json(answer)
            return
        table = Table("key", "value", "description")
        for item in answer["variables"]:
            table.add_row(item["key"], item["value"], item["description"] or "")
        console.print(table)
        console.print(f"{len(answer['variables'])} of {answer['total_entries']} variables")

    @variables.command("get")
    @reports_errors
    def get(key: str, server: ServerOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
        """Print a variable's value (masked if its key is sensitive)."""
        with client(server, token) as api:
            answer = api._send("GET", _path(key))
        if as_json:
            print_json(answer)
        else:
            console.print(answer["value"], markup=False, soft_wrap=True)

    @variables.command("set")
    @reports_errors
    def set_(
        key: str,
        value: str,
        description: Annotated[str | None, typer.Option(help="What the variable is for.")] = None,
        server: ServerOption = None,
        token: TokenOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Create or update a variable (VALUE is stored as given; JSON text stays text)."""
        body: dict[str, Any] = {"key": key, "value": value}
        if description is not None:
            body["description"] = description
        with client(server, token) as api:
            if _exists(api, key):
                answer = api._send("PATCH", _path(key), json=body)
                verb = "updated"
            else:
                answer = api._send("POST", "/api/v2/variables", json=body)
                verb = "created"
        if as_json:
            print_json(answer)
        else:
            console.print(f"{verb} variable [bold]{key}[/]")

    @variables.command("delete")
    @reports_errors
    def delete(key: str, server: ServerOption = None, token: TokenOption = None) -> None:
        """Delete a variable."""
        with client(server, token) as api:
            api._send("DELETE", _path(key))
        console.print(f"deleted variable [bold]{key}[/]")

    @variables.command("import")
    @reports_errors
    def import_(
        file: Annotated[Path, typer.Argument(help='A JSON object: {"key": value, ...}; non-text values are stored as JSON.')],
        overwrite: Annotated[bool, typer.Option("--overwrite/--skip-existing", help="Replace existing variables, or leave them.")] = True,
        server: ServerOption = None,
        token: TokenOption = None,
    ) -> None:
        """Create many variables at once (Airflow's `variables import`)."""
        data = _load_json_object(file, "variables")
        entities = [{"key": key, "value": value} for key, value in data.items()]
        action = {"action": "create", "entities": entities, "action_on_existence": "overwrite" if overwrite else "skip"}
        with client(server, token) as api:
            answer = api._send("PATCH", "/api/v2/variables", json={"actions": [action]})
        succeeded, errors = bulk_outcome(answer)
        console.print(f"imported {len(succeeded)} of {len(entities)} variables")
        if errors:
            raise CliError("; ".join(errors), EXIT_BAD_INPUT)
