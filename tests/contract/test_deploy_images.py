"""Image definitions, parsed: each service's services/<svc>/Dockerfile, the agent's
base runtime image, and the Dockerfile `leoflow compile` generates for the example
DAGs (FROM pinned by the DAG's python version, dependencies and the agent
installed, the DAG folder and dag.json at /opt/leoflow/bundle, a non-root USER,
the agent as ENTRYPOINT)."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

import pytest

from leoflow.compiler.environment import agent_source
from leoflow.compiler.image import render_dockerfile
from leoflow.compiler.project import load_project
from tests.contract.test_deploy_kustomize import REPO, SERVICE_SETTINGS

BUNDLE = "/opt/leoflow/bundle"
EXAMPLES = ("etl_sales", "hparam_search")
SERVICE_PORTS = {
    "scheduler": 50051,
    "dispatcher": 50052,
    "xcom": 50054,
    "logs": 50055,
    "api-gateway": 8080,
}


@dataclass
class Instruction:
    keyword: str
    argument: str


def parse(text: str) -> list[Instruction]:
    """Dockerfile instructions (continuations joined, comments dropped)."""
    instructions, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        line, pending = pending + line, ""
        keyword, _, argument = line.partition(" ")
        instructions.append(Instruction(keyword.upper(), argument.strip()))
    return instructions


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    starts = [i for i, ins in enumerate(instructions) if ins.keyword == "FROM"]
    return instructions[starts[-1] :]


def last(instructions: list[Instruction], keyword: str) -> str:
    return [i.argument for i in instructions if i.keyword == keyword][-1]


def assert_non_root(stage: list[Instruction]) -> None:
    user = last(stage, "USER")
    assert user.isdigit() and int(user) > 0, f"USER {user} is not a numeric non-root uid"


@pytest.mark.parametrize("service", sorted(SERVICE_SETTINGS))
def test_each_service_image_holds_its_own_distribution_and_runs_non_root(service):
    instructions = parse((REPO / "services" / service / "Dockerfile").read_text())
    stage = final_stage(instructions)
    module = "leoflow_" + service.replace("-", "_")

    assert json.loads(last(stage, "ENTRYPOINT")) == ["python", "-m", module]
    assert_non_root(stage)
    copied = {
        i.argument.split()[0]
        for i in instructions
        if i.keyword == "COPY" and "--from" not in i.argument
    }
    services = {c.split("/")[1] for c in copied if c.startswith("services/")}
    assert services == {service}, f"{service}'s image copies {services}"
    assert str(SERVICE_PORTS[service]) in last(stage, "EXPOSE").split()
    assert all(
        i.argument.startswith("python:${PYTHON_VERSION}-slim")
        for i in instructions
        if i.keyword == "FROM"
    )


def test_the_runtime_image_holds_the_agent_and_runs_it_as_non_root():
    instructions = parse((REPO / "deploy" / "images" / "python-runtime" / "Dockerfile").read_text())

    assert json.loads(last(instructions, "ENTRYPOINT")) == ["python", "-m", "leoflow_agent"]
    assert_non_root(instructions)
    assert last(instructions, "WORKDIR") == BUNDLE
    copied = {i.argument.split()[0] for i in instructions if i.keyword == "COPY"}
    assert copied == {"libs/proto", "services/agent"}
    assert "pip install" in " ".join(i.argument for i in instructions if i.keyword == "RUN")


@pytest.mark.parametrize("example", EXAMPLES)
def test_compile_generates_a_correct_dockerfile_for_the_example(example):
    project, _ = load_project(REPO / "examples" / example)
    instructions = parse(render_dockerfile(project, agent_source()))

    assert instructions[0] == Instruction("FROM", f"python:{project.python_version}-slim")
    runs = [shlex.split(i.argument) for i in instructions if i.keyword == "RUN"]
    installs = [r for r in runs if r[:2] == ["pip", "install"]]
    assert any("leoflow-agent" in " ".join(r) or r[-1].endswith("/agent") for r in installs)
    copies = {tuple(i.argument.split()) for i in instructions if i.keyword == "COPY"}
    assert ("bundle/", f"{BUNDLE}/") in copies and ("dag.json", f"{BUNDLE}/dag.json") in copies
    assert_non_root(instructions)
    assert json.loads(last(instructions, "ENTRYPOINT")) == ["python", "-m", "leoflow_agent"]
    env = " ".join(i.argument for i in instructions if i.keyword == "ENV")
    assert f"LEOFLOW_AGENT_BUNDLE_DIR={BUNDLE}" in env  # the name the agent reads


def test_dependencies_and_system_packages_are_installed(tmp_path):
    folder = tmp_path / "dag"
    folder.mkdir()
    (folder / "dag.py").write_text("x = 1\n")
    (folder / "leoflow.yaml").write_text(
        "dag_id: deps\npython_version: '3.12'\ndependencies: ['pandas==2.2.3', 'requests>=2']\n"
        "system_packages: [libpq5]\n"
    )
    project, _ = load_project(folder)
    instructions = parse(render_dockerfile(project, agent_source()))
    runs = [i.argument for i in instructions if i.keyword == "RUN"]

    assert instructions[0].argument == "python:3.12-slim"
    assert any("apt-get install" in r and "libpq5" in r for r in runs)
    assert any(
        shlex.split(r)[:2] == ["pip", "install"] and "pandas==2.2.3" in shlex.split(r) for r in runs
    )
    # Installing happens as root, before the switch to the non-root user.
    user_at = max(i for i, ins in enumerate(instructions) if ins.keyword == "USER")
    assert all(instructions.index(ins) < user_at for ins in instructions if ins.keyword == "RUN")


def test_a_base_image_that_ends_non_root_still_builds(tmp_path):
    folder = tmp_path / "dag"
    folder.mkdir()
    (folder / "dag.py").write_text("x = 1\n")
    (folder / "leoflow.yaml").write_text("dag_id: rt\nbase_image: leoflow/python-runtime:3.11\n")
    project, _ = load_project(folder)
    instructions = parse(render_dockerfile(project, agent_source()))

    assert instructions[0].argument == "leoflow/python-runtime:3.11"
    assert instructions[1] == Instruction("USER", "root")  # pip and useradd need root


def test_parse_joins_continuations():
    assert parse("FROM a\nRUN x \\\n  && y\n# c\nUSER 1\n") == [
        Instruction("FROM", "a"),
        Instruction("RUN", "x && y"),
        Instruction("USER", "1"),
    ]
