"""Lite's terminal: a live line per DAG folder being built (rich), one result line
each, and logging routed through the same console so the two never garble."""

from __future__ import annotations

import logging
import threading

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

# Noisy at INFO and of no use to a Lite user.
QUIET_LOGGERS = ("alembic", "uvicorn.error", "uvicorn.access", "httpx", "watchfiles")


def configure_logging(console: Console, *, json_lines: bool = False, level: int = logging.INFO) -> None:
    """Log through `console` (rich) on a terminal, plain lines elsewhere."""
    root = logging.getLogger()
    root.handlers.clear()
    if console.is_terminal and not json_lines:
        handler: logging.Handler = RichHandler(console=console, show_path=False, rich_tracebacks=False, markup=False)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


class ConsoleReporter:
    """BuildReporter for the terminal: a spinner with the current step per folder
    (virtualenv creation, installing dependencies, compiling) while it builds."""

    def __init__(self, console: Console):
        self.console = console
        self._progress = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.fields[folder]}"), TextColumn("{task.description}"),
            TimeElapsedColumn(), console=console, transient=True,
        )
        self._tasks: dict[str, int] = {}
        self._lock = threading.Lock()  # steps arrive from compile threads

    def begin(self, folder: str) -> None:
        with self._lock:
            if not self._tasks:
                self._progress.start()
            if folder not in self._tasks:
                self._tasks[folder] = self._progress.add_task("compiling", folder=folder)

    def step(self, folder: str, message: str) -> None:
        with self._lock:
            task = self._tasks.get(folder)
            if task is not None:
                self._progress.update(task, description=message)
        if not self.console.is_terminal and message.startswith(("creating virtualenv", "installing")):
            self.console.print(f"  {folder}: {message}", soft_wrap=True, markup=False)

    def end(self, folder: str, outcome: str, ok: bool) -> None:
        with self._lock:
            task = self._tasks.pop(folder, None)
            if task is not None:
                self._progress.remove_task(task)
            if not self._tasks:
                self._progress.stop()
        mark = "[green]✓[/]" if ok else "[red]✗[/]"
        self.console.print(f"{mark} {escape(folder)}: {escape(outcome)}", soft_wrap=True, markup=True, highlight=False)

    def close(self) -> None:
        with self._lock:
            self._tasks.clear()
            self._progress.stop()
