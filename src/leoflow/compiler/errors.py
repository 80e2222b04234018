"""CompileError: why `leoflow compile` failed, where, and which exit code that means."""

from __future__ import annotations

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


class CompileError(Exception):
    """A compile failure. `file` is relative to the DAG folder; `line` 0 means unknown.

    exit_code 2: the DAG folder is wrong (bad leoflow.yaml, malformed DAG, unknown
    dependency); 1: something else failed (a builder, the network, the compiler itself).
    """

    def __init__(self, message: str, file: str = "", line: int = 0, *, exit_code: int = EXIT_BAD_INPUT):
        self.message = " ".join(message.split())
        self.file = file
        self.line = line
        self.exit_code = exit_code
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else self.file
        return f"{where}: {self.message}" if where else self.message
