"""`leoflow compile DIR`: compile a DAG folder into dag.json, its environment and Dockerfile."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from leoflow.cli._errors import fail
from leoflow.compiler import CompileError, compile_dag

console = Console(highlight=False)


def register(app: typer.Typer) -> None:
    @app.command("compile")
    def compile_command(
        dag_dir: Annotated[Path, typer.Argument(help="The DAG folder (leoflow.yaml + dag.py).")] = Path("."),
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Where to write dag.json (default: next to dag.py).")] = None,
        build: Annotated[bool, typer.Option("--build", help="Build the DAG's image with docker, podman or buildah.")] = False,
        push: Annotated[bool, typer.Option("--push", help="Push the built image (implies --build).")] = False,
        image: Annotated[str | None, typer.Option("--image", help="Image name (default: registry in leoflow.yaml, else leoflow/<dag_id>).")] = None,
    ) -> None:
        """Compile a DAG: validate leoflow.yaml, prepare its environment, write dag.json and a Dockerfile."""
        try:
            with console.status("compiling", spinner="dots") as status:
                result = compile_dag(dag_dir, out=out, build=build or push, push=push, image=image,
                                     progress=lambda message: status.update(message))
        except CompileError as exc:
            fail(exc.one_line(), exc.exit_code)
        spec = result.spec
        console.print(f"[green]compiled[/] {spec.dag_id}: {len(spec.tasks)} tasks -> {result.spec_json_path}")
        console.print(f"  environment {result.environment_hash[:12]}  bundle {result.bundle_hash[:12]}  "
                      f"Dockerfile {result.dockerfile_path}")
        if result.image:
            console.print(f"  image {result.image}")
