"""`compile_dag`: a DAG folder -> dag.json, its environment, bundle and Dockerfile.

Steps: validate leoflow.yaml; prepare the DAG's virtualenv; snapshot the folder into an
immutable bundle; run the in-venv compiler (`python -m leoflow_agent.compile`) on the
bundle, which applies leoflow.yaml's task settings; fill the Environment; write
dag.json and the Dockerfile; optionally build and push the image. The same folder and
environment always give byte-identical dag.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import json_format
from leoflow_proto.dag.v1 import dag_pb2

from leoflow.compiler import image as image_mod
from leoflow.compiler.bundle import is_generated, snapshot
from leoflow.compiler.environment import Progress, agent_source, prepare_venv, venv_python
from leoflow.compiler.errors import EXIT_BAD_INPUT, EXIT_FAILURE, CompileError
from leoflow.compiler.project import PROJECT_FILE, Project, load_project


@dataclass
class CompileResult:
    """What a compile produced."""

    spec_json_path: Path
    spec: dag_pb2.DagSpec
    environment_hash: str
    bundle_dir: Path
    bundle_hash: str
    venv_dir: Path
    dockerfile_path: Path
    image: str = ""


def default_home() -> Path:
    """LEOFLOW_HOME, else ~/.leoflow."""
    return Path(os.environ.get("LEOFLOW_HOME") or Path.home() / ".leoflow").expanduser()


def compile_dag(
    dag_dir: str | os.PathLike,
    *,
    home: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    build: bool = False,
    push: bool = False,
    image: str | None = None,
    progress: Progress | None = None,
) -> CompileResult:
    """Compile the DAG folder `dag_dir`. Raises CompileError (one line, with file:line)."""
    say = progress or (lambda _message: None)
    folder = Path(dag_dir).resolve()
    if not folder.is_dir():
        raise CompileError(f"{dag_dir} is not a directory")
    home_dir = Path(home).expanduser().resolve() if home is not None else default_home()
    project, task_lines = load_project(folder)
    if not (folder / project.dag_source).is_file():
        raise CompileError(f"DAG file '{project.dag_source}' not found in {folder}", PROJECT_FILE)
    spec_path = Path(out).resolve() if out is not None else folder / "dag.json"
    dockerfile_path = _dockerfile_path(spec_path.parent)

    agent = agent_source()
    venv, env_hash = prepare_venv(home_dir, project.python_version, project.dependencies, agent, say)
    say("snapshotting the DAG folder")
    bundle_dir, content_hash = snapshot(folder, home_dir, project.dag_id, frozenset({spec_path, dockerfile_path}))
    say(f"compiling {project.dag_source}")
    spec = _run_compiler(venv, bundle_dir, project, task_lines)
    _fill_dag_settings(spec, project)
    _fill_environment(spec, project, env_hash, bundle_dir, content_hash)

    dockerfile = image_mod.render_dockerfile(project, agent)
    result = CompileResult(spec_path, spec, env_hash, bundle_dir, content_hash, venv, dockerfile_path)
    if build or push:
        reference = image_mod.image_reference(project, env_hash, content_hash, image)
        say(f"building image {reference}")
        context = home_dir / "build" / project.dag_id / content_hash[:16]
        image_mod.stage_context(context, bundle_dir, spec_to_json(spec), dockerfile, agent)
        built = image_mod.build_image(context, reference, push=push)
        spec.environment.image = built.reference
        spec.environment.image_digest = built.digest
        result.image = built.reference
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    _write(spec_path, spec_to_json(spec))
    _write(dockerfile_path, dockerfile)
    return result


def spec_to_json(spec: dag_pb2.DagSpec) -> str:
    """dag.json text: proto field names, sorted keys (same as the in-venv compiler)."""
    return json_format.MessageToJson(spec, preserving_proto_field_name=True, sort_keys=True) + "\n"


def _dockerfile_path(directory: Path) -> Path:
    """`Dockerfile`, unless the author already has one there: then `Dockerfile.leoflow`."""
    path = directory / "Dockerfile"
    return path if not path.exists() or is_generated(path) else directory / "Dockerfile.leoflow"


def _overrides(project: Project, task_lines: dict[str, int]) -> dict:
    return {
        "owner": project.owner,
        "defaults": project.defaults.model_dump(exclude_none=True),
        "tasks": {task_id: settings.model_dump(exclude_none=True) for task_id, settings in project.tasks.items()},
        "task_lines": task_lines,
    }


def _run_compiler(venv: Path, bundle_dir: Path, project: Project, task_lines: dict[str, int]) -> dag_pb2.DagSpec:
    with tempfile.TemporaryDirectory(prefix="leoflow-compile-") as scratch:
        work = Path(scratch)
        (work / "overrides.json").write_text(json.dumps(_overrides(project, task_lines)))
        command = [
            str(venv_python(venv)), "-m", "leoflow_agent.compile",
            "--dag-dir", str(bundle_dir), "--dag-file", project.dag_source, "--dag-id", project.dag_id,
            "--out", str(work / "dag.json"), "--overrides", str(work / "overrides.json"),
            "--error-json", str(work / "error.json"),
        ]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("PYTHONPATH", None)  # the DAG's venv, and nothing else, is what the DAG sees
        result = subprocess.run(command, capture_output=True, text=True, cwd=bundle_dir, env=env)
        if result.returncode != 0:
            raise _compiler_error(result, work / "error.json")
        return json_format.Parse((work / "dag.json").read_text(), dag_pb2.DagSpec())


def _compiler_error(result: subprocess.CompletedProcess, error_json: Path) -> CompileError:
    if error_json.is_file():
        error = json.loads(error_json.read_text())
        code = EXIT_BAD_INPUT if result.returncode == EXIT_BAD_INPUT else EXIT_FAILURE
        return CompileError(error["message"], error.get("file", ""), error.get("line", 0), exit_code=code)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return CompileError(f"the compiler failed: {lines[-1] if lines else result.returncode}", exit_code=EXIT_FAILURE)


def _fill_dag_settings(spec: dag_pb2.DagSpec, project: Project) -> None:
    if project.description and not spec.description:
        spec.description = project.description
    if project.tags:
        tags = sorted(set(spec.tags) | set(project.tags))
        del spec.tags[:]
        spec.tags.extend(tags)


def _fill_environment(spec: dag_pb2.DagSpec, project: Project, env_hash: str, bundle_dir: Path, content_hash: str) -> None:
    """Everything about the DAG's environment (the in-venv compiler already set `defaults`)."""
    environment = dag_pb2.Environment(
        python_version=project.python_version,
        dependencies=project.dependencies,
        system_packages=project.system_packages,
        environment_hash=env_hash,
        bundle_uri=bundle_dir.as_uri(),
        bundle_hash=content_hash,
    )
    spec.environment.MergeFrom(environment)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
