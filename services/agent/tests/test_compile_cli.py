"""The CLI side of `leoflow compile`: leoflow.yaml validation, venvs with uv, bundles, outputs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from leoflow.compiler import CompileError, compile_dag
from leoflow.compiler.bundle import snapshot
from leoflow.compiler.environment import environment_hash

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    # One LEOFLOW_HOME for the module: venvs are built once and reused across tests.
    return tmp_path_factory.mktemp("leoflow-home")


def make_dag(root: Path, yaml_text: str, dag_text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "leoflow.yaml").write_text(textwrap.dedent(yaml_text))
    (root / "dag.py").write_text(textwrap.dedent(dag_text))
    return root


def copy_example(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("dag.json", "Dockerfile*", "__pycache__"))
    return target


def test_hparam_search_example_compiles_to_the_seed_shape(home, tmp_path):
    result = compile_dag(copy_example("hparam_search", tmp_path), home=home)
    spec = result.spec
    assert spec.dag_id == "hparam_search" and spec.schema_version == "1"
    assert [t.task_id for t in spec.tasks] == ["select_best", "trial", "trial__1", "trial__2", "trial__3", "trial__4"]
    lrs = [t.arguments[0].value.literal.number_value for t in spec.tasks[1:]]
    assert lrs == [0.001, 0.01, 0.05, 0.1, 0.5]
    fan_in = spec.tasks[0].arguments[0].value.list.items
    assert [item.xcom.task_id for item in fan_in] == ["trial", "trial__1", "trial__2", "trial__3", "trial__4"]
    env = spec.environment
    assert env.python_version == "3.11" and env.environment_hash == result.environment_hash
    assert env.bundle_uri == result.bundle_dir.as_uri() and (result.bundle_dir / "dag.py").is_file()
    assert spec.source.relative_fileloc == "dag.py" and "select_best" in spec.source.content
    on_disk = json.loads(result.spec_json_path.read_text())
    assert on_disk["dag_id"] == "hparam_search" and result.spec_json_path.parent.name == "hparam_search"


def test_etl_example_applies_leoflow_yaml_and_runs(home, tmp_path):
    result = compile_dag(copy_example("etl_sales", tmp_path), home=home)
    spec = result.spec
    by_id = {t.task_id: t for t in spec.tasks}
    assert list(by_id["transform"].upstream_task_ids) == ["fetch"] and list(by_id["load"].upstream_task_ids) == ["transform"]
    assert all(t.retries == 2 and t.retry_delay.seconds == 30 and t.owner == "data-team" for t in spec.tasks)
    assert by_id["load"].execution_timeout.seconds == 120 and not by_id["fetch"].HasField("execution_timeout")
    assert spec.schedule.expression == "0 5 * * *" and not spec.catchup
    assert list(spec.tags) == ["etl", "example"] and spec.description.startswith("Daily sales ETL")
    # The callables found through the dagfile contract, in the DAG's own venv, really work.
    probe = (
        "from leoflow_agent.dagfile import load_task_callable as f\n"
        f"b = {str(result.bundle_dir)!r}\n"
        "orders = f(b, 'dag.py', 'etl_sales', 'fetch')(ds='2024-01-01')\n"
        "rows = f(b, 'dag.py', 'etl_sales', 'transform')(orders)\n"
        "print(len(orders), f(b, 'dag.py', 'etl_sales', 'load')(rows))\n"
    )
    out = subprocess.run([str(result.venv_dir / "bin" / "python"), "-c", probe], capture_output=True, text=True, check=True)
    count, total = out.stdout.strip().splitlines()[-1].split()
    assert count == "20" and float(total) > 0


def test_compiling_twice_gives_identical_bytes(home, tmp_path):
    folder = copy_example("hparam_search", tmp_path)
    first = compile_dag(folder, home=home).spec_json_path.read_bytes()
    (folder / "__pycache__").mkdir(exist_ok=True)  # debris is not part of the bundle
    second = compile_dag(folder, home=home).spec_json_path.read_bytes()
    assert first == second


def test_editing_the_dag_makes_a_new_bundle_and_keeps_the_old(home, tmp_path):
    folder = copy_example("hparam_search", tmp_path)
    before = compile_dag(folder, home=home)
    (folder / "dag.py").write_text((folder / "dag.py").read_text() + "\n# edited\n")
    after = compile_dag(folder, home=home)
    assert after.bundle_hash != before.bundle_hash and before.bundle_dir.is_dir()
    assert after.environment_hash == before.environment_hash


def test_two_dags_pinning_different_versions_get_different_venvs(home, tmp_path):
    dag = """
        from airflow.sdk import DAG, task

        @task
        def version():
            import six
            return six.__version__

        with DAG("{dag_id}"):
            version()
    """
    old = make_dag(tmp_path / "old", "dag_id: pin_old\ndependencies: ['six==1.16.0']\n", dag.format(dag_id="pin_old"))
    new = make_dag(tmp_path / "new", "dag_id: pin_new\ndependencies: ['six==1.17.0']\n", dag.format(dag_id="pin_new"))
    messages: list[str] = []
    first_old = compile_dag(old, home=home, progress=messages.append)
    first_new = compile_dag(new, home=home)
    assert first_old.environment_hash != first_new.environment_hash
    assert first_old.venv_dir != first_new.venv_dir
    for result, expected in ((first_old, "1.16.0"), (first_new, "1.17.0")):
        out = subprocess.run([str(result.venv_dir / "bin" / "python"), "-c", "import six; print(six.__version__)"],
                             capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected
        assert list(result.spec.environment.dependencies) == [f"six=={expected}"]
    assert any("creating virtualenv" in m for m in messages)

    marker = first_old.venv_dir / ".leoflow-complete"
    built_at = marker.stat().st_mtime_ns
    again: list[str] = []
    second_old = compile_dag(old, home=home, progress=again.append)
    assert second_old.venv_dir == first_old.venv_dir and marker.stat().st_mtime_ns == built_at
    assert not any("creating virtualenv" in m for m in again)


def test_incomplete_venv_is_rebuilt(home, tmp_path):
    folder = copy_example("hparam_search", tmp_path)
    result = compile_dag(folder, home=home)
    (result.venv_dir / ".leoflow-complete").unlink()
    messages: list[str] = []
    compile_dag(folder, home=home, progress=messages.append)
    assert any("creating virtualenv" in m for m in messages)
    assert (result.venv_dir / ".leoflow-complete").is_file()


def test_environment_hash_ignores_dependency_order():
    assert environment_hash("3.11", ["a==1", "b==2"], "0.1.0") == environment_hash("3.11", ["b==2", "a==1"], "0.1.0")
    assert environment_hash("3.11", ["a==1"], "0.1.0") != environment_hash("3.12", ["a==1"], "0.1.0")
    assert environment_hash("3.11", ["a==1"], "0.1.0") != environment_hash("3.11", ["a==1"], "0.2.0")


def test_bundle_ignores_debris_and_generated_outputs(tmp_path):
    folder = make_dag(tmp_path / "b", "dag_id: b\n", "x = 1\n")
    (folder / "helpers").mkdir()
    (folder / "helpers" / "util.py").write_text("y = 2\n")
    for debris in (".git/config", "__pycache__/dag.cpython-311.pyc", ".venv/bin/python", "dag.json"):
        (folder / debris).parent.mkdir(parents=True, exist_ok=True)
        (folder / debris).write_text("debris")
    (folder / "Dockerfile").write_text("# Generated by `leoflow compile` for DAG 'b'.\n")
    bundle_dir, content_hash = snapshot(folder, tmp_path / "home", "b")
    files = sorted(p.relative_to(bundle_dir).as_posix() for p in bundle_dir.rglob("*") if p.is_file())
    assert files == ["dag.py", "helpers/util.py", "leoflow.yaml"]
    assert bundle_dir.name == content_hash
    assert snapshot(folder, tmp_path / "home", "b") == (bundle_dir, content_hash)


@pytest.mark.parametrize(("yaml_text", "expected"), [
    ("python_version: '3.11'\n", "leoflow.yaml:1: dag_id: Field required"),
    ("dag_id: x\nretries: 3\n", "leoflow.yaml:2: retries: unknown setting"),
    ("dag_id: x\ndefaults:\n  retries: -1\n", "leoflow.yaml:3: defaults.retries: Input should be greater than or equal to 0"),
    ("dag_id: x\npython_version: 'three'\n", "leoflow.yaml:2: python_version: Value error, must look like '3.11'"),
    ("dag_id: 'bad id'\n", "leoflow.yaml:1: dag_id: Value error"),
    ("dag_id: x\ntasks:\n  a:\n    retrys: 1\n", "leoflow.yaml:4: tasks.a.retrys: unknown setting"),
    ("dag_id: [unclosed\n", "leoflow.yaml:2: invalid YAML"),
    ("- just\n- a list\n", "leoflow.yaml:1: must be a mapping"),
])
def test_leoflow_yaml_errors_are_one_line_with_the_line(tmp_path, yaml_text, expected):
    folder = make_dag(tmp_path / "y", yaml_text, "x = 1\n")
    with pytest.raises(CompileError) as err:
        compile_dag(folder, home=tmp_path / "home")
    assert err.value.one_line().startswith(expected)
    assert err.value.exit_code == 2 and "\n" not in err.value.one_line()


def test_unknown_dependency_is_bad_input(home, tmp_path):
    folder = make_dag(tmp_path / "dep", "dag_id: dep\ndependencies: ['leoflow-no-such-package-xyz==1.0']\n", "x = 1\n")
    with pytest.raises(CompileError) as err:
        compile_dag(folder, home=home)
    assert err.value.exit_code == 2 and "leoflow-no-such-package-xyz" in err.value.message


def test_dockerfile_and_custom_out(home, tmp_path):
    folder = copy_example("etl_sales", tmp_path)
    (folder / "leoflow.yaml").write_text((folder / "leoflow.yaml").read_text() + "system_packages: [curl]\n")
    out = tmp_path / "build" / "etl.json"
    result = compile_dag(folder, home=home, out=out)
    assert result.spec_json_path == out and out.is_file() and not (folder / "dag.json").exists()
    dockerfile = result.dockerfile_path.read_text()
    assert result.dockerfile_path.parent == out.parent
    assert "FROM python:3.11-slim" in dockerfile and "apt-get install -y --no-install-recommends curl" in dockerfile
    assert "COPY dag.json /opt/leoflow/bundle/dag.json" in dockerfile and "USER 10001" in dockerfile
    assert 'ENTRYPOINT ["python", "-m", "leoflow_agent"]' in dockerfile
    assert list(result.spec.environment.system_packages) == ["curl"]


def test_build_without_any_builder_is_a_clear_error(home, tmp_path, monkeypatch):
    folder = copy_example("hparam_search", tmp_path)
    compile_dag(folder, home=home)  # venv ready before PATH is emptied
    monkeypatch.setattr("leoflow.compiler.image.shutil.which", lambda name: None)
    with pytest.raises(CompileError, match="needs docker, podman or buildah"):
        compile_dag(folder, home=home, build=True)


def test_cli_compile_exit_codes(home, tmp_path):
    folder = copy_example("hparam_search", tmp_path)
    env = {"LEOFLOW_HOME": str(home), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    cli = [str(Path(sys.executable).parent / "leoflow")]
    ok = subprocess.run([*cli, "compile", str(folder)], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads((folder / "dag.json").read_text())["dag_id"] == "hparam_search"
    (folder / "dag.py").write_text("from airflow.providers.amazon.aws.hooks.s3 import S3Hook\n")
    bad = subprocess.run([*cli, "compile", str(folder)], capture_output=True, text=True, env=env)
    assert bad.returncode == 2
    assert "dag.py:1: module 'airflow.providers.amazon' is not supported by Leoflow" in bad.stderr
    assert "Traceback" not in bad.stderr
