"""`leoflow init NAME`: a new DAG folder (leoflow.yaml + dag.py) that compiles and
runs as it is; inside a running Lite's workspace it is registered at once."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from ._common import console, reports_errors
from ._errors import EXIT_BAD_INPUT, CliError

DAG_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")

PROJECT_TEMPLATE = """\
# Deploy settings of the DAG {dag_id} (see README: Writing a DAG).
dag_id: {dag_id}
python_version: "{python}"
description: "{dag_id}: extract, transform, load."
tags: [new]
# Each DAG has its own virtualenv: pin what its tasks import, e.g. ["requests==2.32.3"].
dependencies: []
defaults:
  retries: 1
  retry_delay_seconds: 10
"""

DAG_TEMPLATE = '''\
"""{dag_id}: a starting point in Airflow 3's dialect.

Each task runs in its own process; what a task returns is its XCom, passed to the
tasks that take it as an argument. In Lite, saving this file registers a new version.
"""

from airflow.sdk import DAG, task


@task
def extract() -> list[int]:
    return [3, 1, 4, 1, 5]


@task
def transform(values: list[int]) -> dict:
    return {{"count": len(values), "total": sum(values)}}


@task
def load(summary: dict) -> str:
    message = f"loaded {{summary['count']}} values, total {{summary['total']}}"
    print(message)
    return message


with DAG("{dag_id}", schedule=None, tags=["new"]):
    load(transform(extract()))
'''


def register(app: typer.Typer) -> None:
    @app.command("init")
    @reports_errors
    def init(
        name: Annotated[str, typer.Argument(help="The DAG's id, also the folder's name (letters, digits, '_', '-', '.').")],
        directory: Annotated[Path, typer.Option("--dir", "-d", help="Where to create the folder (a Lite workspace, e.g. ~/leoflow).")] = Path("."),
        force: Annotated[bool, typer.Option("--force", help="Overwrite leoflow.yaml and dag.py if the folder has them.")] = False,
    ) -> None:
        """Create a DAG folder NAME with a leoflow.yaml and a dag.py that compile and run."""
        if not DAG_ID.match(name) or name in (".", ".."):
            raise CliError(f"{name!r} is not a valid DAG id: use letters, digits, '_', '-' and '.'", EXIT_BAD_INPUT)
        folder = directory.expanduser() / name
        files = {folder / "leoflow.yaml": PROJECT_TEMPLATE, folder / "dag.py": DAG_TEMPLATE}
        existing = [path.name for path in files if path.exists()]
        if existing and not force:
            raise CliError(f"{folder} already has {', '.join(existing)}: pass --force to overwrite", EXIT_BAD_INPUT)
        python = f"{sys.version_info.major}.{sys.version_info.minor}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # leoflow.yaml last: a watching Lite compiles the folder once it is complete.
            for path in (folder / "dag.py", folder / "leoflow.yaml"):
                path.write_text(files[path].format(dag_id=name, python=python), encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot create {folder}: {exc.strerror or exc}") from None
        console.print(f"created {folder}/ (leoflow.yaml, dag.py)", markup=False)
        console.print(f"next: `leoflow compile {folder}` — or, in Lite's workspace, just save: it is registered by itself", markup=False, soft_wrap=True)
