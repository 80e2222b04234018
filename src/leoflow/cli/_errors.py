"""One clear line and a reliable exit code for every failure the CLI reports.

Exit codes: 0 success, 1 the operation failed (server error, unreachable, a run
that failed), 2 bad input or usage (invalid DAG, 4xx from the server)."""

from __future__ import annotations

import sys
from typing import NoReturn

from rich.console import Console

err_console = Console(stderr=True, highlight=False)

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class CliError(Exception):
    def __init__(self, message: str, exit_code: int = EXIT_FAILURE):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def fail(message: str, exit_code: int = EXIT_FAILURE) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    sys.exit(exit_code)
