"""The DAG's container image: a generated Dockerfile, and building/pushing it.

The image holds the DAG's Python, its system packages and dependencies, the Leoflow
agent, and the DAG folder with dag.json at /opt/leoflow/bundle; it runs as a non-root
user with the agent as entrypoint. Images are tagged by content (environment + bundle),
so the same inputs always name the same image.
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from leoflow.compiler.bundle import GENERATED_HEADER
from leoflow.compiler.environment import AgentSource
from leoflow.compiler.errors import EXIT_FAILURE, CompileError
from leoflow.compiler.project import Project

BUNDLE_PATH = "/opt/leoflow/bundle"
BUILDERS = ("docker", "podman", "buildah")


def render_dockerfile(project: Project, agent: AgentSource) -> str:
    """The Dockerfile text for `project` (build context layout: see stage_context)."""
    base = project.base_image or f"python:{project.python_version}-slim"
    lines = [
        f"{GENERATED_HEADER} for DAG '{project.dag_id}'. Do not edit: edit leoflow.yaml.",
        f"FROM {base}",
        # A base image may end as a non-root user (deploy/images/python-runtime does).
        "USER root",
        "ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1",
    ]
    if project.system_packages:
        packages = " ".join(shlex.quote(p) for p in sorted(project.system_packages))
        lines.append(
            "RUN apt-get update && apt-get install -y --no-install-recommends "
            f"{packages} && rm -rf /var/lib/apt/lists/*"
        )
    if agent.checkout is not None:
        lines += ["COPY leoflow-src/ /opt/leoflow/src/",
                  "RUN pip install /opt/leoflow/src/proto /opt/leoflow/src/agent"]
    else:
        lines.append(f"RUN pip install leoflow-proto=={agent.version} leoflow-agent=={agent.version}")
    if project.dependencies:
        lines.append("RUN pip install " + " ".join(shlex.quote(d) for d in project.dependencies))
    lines += [
        f"COPY bundle/ {BUNDLE_PATH}/",
        f"COPY dag.json {BUNDLE_PATH}/dag.json",
        "RUN id -u 10001 >/dev/null 2>&1 || useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin leoflow",
        "USER 10001",
        f"WORKDIR {BUNDLE_PATH}",
        f"ENV LEOFLOW_AGENT_BUNDLE_DIR={BUNDLE_PATH}",
        'ENTRYPOINT ["python", "-m", "leoflow_agent"]',
    ]
    return "\n".join(lines) + "\n"


def image_reference(project: Project, environment_hash: str, bundle_hash: str, image: str | None) -> str:
    """`name:tag`, the tag a digest of the environment and the bundle."""
    if image and ":" in image.rsplit("/", 1)[-1]:
        return image
    if image is None:
        registry = project.registry
        name = (registry.image_name if registry and registry.image_name else f"leoflow/{project.dag_id}")
        if registry and registry.url:
            name = f"{registry.url.rstrip('/')}/{name}"
        image = name
    tag = hashlib.sha256(f"{environment_hash}:{bundle_hash}".encode()).hexdigest()[:16]
    return f"{image}:{tag}"


@dataclass
class BuiltImage:
    reference: str
    digest: str = ""


def find_builder() -> str:
    for name in BUILDERS:
        path = shutil.which(name)
        if path:
            return path
    raise CompileError("--build needs docker, podman or buildah on PATH; none was found", exit_code=EXIT_FAILURE)


def stage_context(context: Path, bundle_dir: Path, dag_json: str, dockerfile: str, agent: AgentSource) -> None:
    """Lay out the build context: bundle/, dag.json, Dockerfile and (from a checkout) the agent source."""
    if context.exists():
        shutil.rmtree(context)
    shutil.copytree(bundle_dir, context / "bundle")
    (context / "dag.json").write_text(dag_json)
    (context / "Dockerfile").write_text(dockerfile)
    if agent.checkout is not None:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", ".venv")
        shutil.copytree(agent.checkout / "libs" / "proto", context / "leoflow-src" / "proto", ignore=ignore)
        shutil.copytree(agent.checkout / "services" / "agent", context / "leoflow-src" / "agent", ignore=ignore)


def build_image(context: Path, reference: str, *, push: bool) -> BuiltImage:
    builder = find_builder()
    name = Path(builder).name
    build = [builder, "bud" if name == "buildah" else "build", "-t", reference, "-f", str(context / "Dockerfile"), str(context)]
    _run(build, "image build")
    built = BuiltImage(reference)
    if push:
        _run([builder, "push", reference], "image push")
        if name != "buildah":
            result = subprocess.run([builder, "image", "inspect", "--format", "{{index .RepoDigests 0}}", reference],
                                    capture_output=True, text=True)
            built.digest = result.stdout.strip().rsplit("@", 1)[-1] if result.returncode == 0 else ""
    return built


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        raise CompileError(f"{what} failed: {lines[-1] if lines else f'exit status {result.returncode}'}",
                           exit_code=EXIT_FAILURE)
