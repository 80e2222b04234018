"""The compiler's one error type: what went wrong and where, printable on one line."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass
class DagCompileError(Exception):
    """A DAG that cannot be compiled. `file` is relative to the DAG folder; `line` 0 = unknown."""

    message: str
    file: str = ""
    line: int = 0

    def __str__(self) -> str:
        return self.one_line()

    def one_line(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else self.file
        text = " ".join(self.message.split())
        return f"{where}: {text}" if where else text

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)
