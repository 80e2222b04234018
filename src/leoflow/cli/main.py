"""`leoflow`: compile, push and run DAGs; run Lite.

Each command group lives in its own module under leoflow.cli and exposes
`register(app)`; this module only assembles them and turns errors into one clear
line and a meaningful exit code (0 ok, 1 failure, 2 bad usage or input)."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="leoflow",
    help="Leoflow: Airflow-compatible orchestration with compiled DAGs and one process or pod per task.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Command modules, each exposing register(app). Kept as names so a broken optional
# command never hides the others.
COMMAND_MODULES = ("init", "compile", "push", "dags", "runs", "backfill", "variables", "connections", "lite", "doctor")


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"leoflow.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"leoflow.cli.{name}":
                continue
            raise
        module.register(app)


_register_all()


def main() -> None:
    app()
