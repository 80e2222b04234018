"""Options and helpers shared by the commands that talk to a server."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console

from ._client import GatewayClient
from ._errors import CliError, fail

console = Console(highlight=False)

ServerOption = Annotated[
    str | None, typer.Option("--server", envvar="LEOFLOW_SERVER", help="Gateway URL (default: the local Lite, http://127.0.0.1:8088).")
]
TokenOption = Annotated[str | None, typer.Option("--token", envvar="LEOFLOW_TOKEN", help="Bearer token (see `leoflow lite` or /auth/token).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def reports_errors(fn: Callable) -> Callable:
    """Turn CliError into one red line and its exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CliError as exc:
            fail(exc.message, exc.exit_code)

    return wrapper


def client(server: str | None, token: str | None) -> GatewayClient:
    return GatewayClient(server, token)


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))
