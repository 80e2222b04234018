"""`leoflow connections ...`: Airflow's Connections through the gateway's REST API
(list, get, add, delete, import). Passwords and sensitive extra fields come back
as "***": they are write-only, as in Airflow 3. `--password -` reads the password
from standard input, so it stays out of the shell history and the process list."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import typer
from rich.table import Table

from ._common import JsonOption, ServerOption, TokenOption, client, console, print_json, reports_errors
from ._errors import EXIT_BAD_INPUT, CliError
from .variables import _load_json_object, bulk_outcome


def _path(connection_id: str) -> str:
    return "/api/v2/connections/" + quote(connection_id, safe="")


def parse_conn_uri(uri: str) -> dict[str, Any]:
    """Airflow's connection URI (`scheme://login:password@host:port/schema?extra`)
    as the fields of a ConnectionBody."""
    parts = urlsplit(uri)
    if not parts.scheme:
        raise CliError(f"--conn-uri {uri!r} has no scheme (the connection type)", EXIT_BAD_INPUT)
    try:
        port = parts.port
    except ValueError as exc:
        raise CliError(f"--conn-uri has an invalid port: {exc}", EXIT_BAD_INPUT) from exc
    fields: dict[str, Any] = {
        "conn_type": parts.scheme.replace("-", "_"),
        "host": unquote(parts.hostname) if parts.hostname else None,
        "login": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "port": port,
        "schema": unquote(parts.path.lstrip("/")) or None,
    }
    if parts.query:
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        fields["extra"] = query.pop("__extra__", None) or json.dumps(query)
    return {k: v for k, v in fields.items() if v is not None}


def _check_extra(extra: str) -> str:
    try:
        if isinstance(json.loads(extra), dict):
            return extra
    except ValueError:
        pass
    raise CliError("--extra must be a JSON object", EXIT_BAD_INPUT)


def register(app: typer.Typer) -> None:
    connections = typer.Typer(help="Manage Airflow Connections (secrets are write-only).", no_args_is_help=True)
    app.add_typer(connections, name="connections")

    @connections.command("list")
    @reports_errors
    def list_connections(
        pattern: Annotated[str | None, typer.Option("--pattern", help="Only ids containing this (SQL LIKE, | for or).")] = None,
        limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
        server: ServerOption = None,
        token: TokenOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """List connections, by id."""
        params: dict[str, Any] = {"limit": limit, "order_by": "connection_id"}
        if pattern:
            params["connection_id_pattern"] = pattern
        with client(server, token) as api:
            answer = api._send("GET", "/api/v2/connections", params=params)
        if as_json:
            print_json(answer)
            return
        table = Table("connection_id", "conn_type", "host", "port", "login", "schema")
        for c in answer["connections"]:
            table.add_row(c["connection_id"], c["conn_type"], c["host"] or "", str(c["port"] or ""), c["login"] or "", c["schema"] or "")
        console.print(table)
        console.print(f"{len(answer['connections'])} of {answer['total_entries']} connections")

    @connections.command("get")
    @reports_errors
    def get(connection_id: str, server: ServerOption = None, token: TokenOption = None) -> None:
        """Print a connection (password and sensitive extra fields as ***)."""
        with client(server, token) as api:
            print_json(api._send("GET", _path(connection_id)))

    @connections.command("add")
    @reports_errors
    def add(
        connection_id: str,
        conn_uri: Annotated[str | None, typer.Option("--conn-uri", help="Airflow's URI form: type://login:password@host:port/schema?k=v")] = None,
        conn_type: Annotated[str | None, typer.Option("--conn-type")] = None,
        host: Annotated[str | None, typer.Option("--conn-host")] = None,
        login: Annotated[str | None, typer.Option("--conn-login")] = None,
        password: Annotated[str | None, typer.Option("--conn-password", help='"-" reads it from standard input.')] = None,
        schema: Annotated[str | None, typer.Option("--conn-schema")] = None,
        port: Annotated[int | None, typer.Option("--conn-port")] = None,
        extra: Annotated[str | None, typer.Option("--conn-extra", help="A JSON object.")] = None,
        description: Annotated[str | None, typer.Option("--conn-description")] = None,
        server: ServerOption = None,
        token: TokenOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Create a connection (Airflow's `connections add`)."""
        body: dict[str, Any] = {"connection_id": connection_id}
        if conn_uri:
            body.update(parse_conn_uri(conn_uri))
        if password == "-":
            password = sys.stdin.readline().rstrip("\n")
        given = {"conn_type": conn_type, "host": host, "login": login, "password": password, "schema": schema,
                 "port": port, "extra": _check_extra(extra) if extra else None, "description": description}  # fmt: skip
        body.update({k: v for k, v in given.items() if v is not None})
        if "conn_type" not in body:
            raise CliError("give --conn-type or --conn-uri", EXIT_BAD_INPUT)
        with client(server, token) as api:
            answer = api._send("POST", "/api/v2/connections", json=body)
        if as_json:
            print_json(answer)
        else:
            console.print(f"created connection [bold]{connection_id}[/]")

    @connections.command("delete")
    @reports_errors
    def delete(connection_id: str, server: ServerOption = None, token: TokenOption = None) -> None:
        """Delete a connection."""
        with client(server, token) as api:
            api._send("DELETE", _path(connection_id))
        console.print(f"deleted connection [bold]{connection_id}[/]")

    @connections.command("import")
    @reports_errors
    def import_(
        file: Annotated[Path, typer.Argument(help='A JSON object: {"conn_id": {"conn_type": ..., "host": ..., ...}, ...}.')],
        overwrite: Annotated[bool, typer.Option("--overwrite/--skip-existing", help="Replace existing connections, or leave them.")] = False,
        server: ServerOption = None,
        token: TokenOption = None,
    ) -> None:
        """Create many connections at once (Airflow's `connections import`, JSON form)."""
        data = _load_json_object(file, "connections")
        entities = []
        for connection_id, fields in data.items():
            if not isinstance(fields, dict):
                raise CliError(f"{connection_id}: expected an object of connection fields", EXIT_BAD_INPUT)
            entity = {"connection_id": connection_id, **fields}
            if isinstance(entity.get("extra"), dict):
                entity["extra"] = json.dumps(entity["extra"])
            entities.append(entity)
        action = {"action": "create", "entities": entities, "action_on_existence": "overwrite" if overwrite else "skip"}
        with client(server, token) as api:
            answer = api._send("PATCH", "/api/v2/connections", json={"actions": [action]})
        succeeded, errors = bulk_outcome(answer)
        console.print(f"imported {len(succeeded)} of {len(entities)} connections")
        if errors:
            raise CliError("; ".join(errors), EXIT_BAD_INPUT)
