"""dagfile: the compile-time/run-time contract (load_task, load_task_callable, errors)."""

from __future__ import annotations

import textwrap

import pytest
from leoflow_agent import dagfile


def write_dag(tmp_path, source: str, name: str = "dag.py"):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return tmp_path


def test_load_task_callable_returns_closure_inside_dag_body(tmp_path):
    bundle = write_dag(tmp_path, """
        from airflow.sdk import dag, task

        @dag(schedule=None)
        def closures():
            multiplier = 7

            @task
            def make() -> int:
                return 6 * multiplier

            make()

        closures()
    """)
    fn = dagfile.load_task_callable(bundle, "dag.py", "closures", "make")
    assert fn.__name__ == "make"
    assert fn() == 42


def test_load_task_returns_recorded_bash_task(tmp_path):
    bundle = write_dag(tmp_path, """
        from airflow.sdk import DAG
        from airflow.providers.standard.operators.bash import BashOperator

        with DAG("b"):
            BashOperator(task_id="hello", bash_command="echo hi", env={"A": "1"}, append_env=True, cwd="/tmp")
    """)
    task = dagfile.load_task(bundle, "dag.py", "b", "hello")
    assert (task.leoflow_kind, task.bash_command, task.env, task.append_env, task.cwd) == (
        "bash", "echo hi", {"A": "1"}, True, "/tmp")
    assert task.template_fields == ("bash_command", "env", "cwd")
    with pytest.raises(TypeError, match="runs no Python callable"):
        dagfile.load_task_callable(bundle, "dag.py", "b", "hello")


def test_missing_task_and_dag_are_lookup_errors(tmp_path):
    bundle = write_dag(tmp_path, """
        from airflow.sdk import DAG
        from airflow.providers.standard.operators.empty import EmptyOperator
        with DAG("only"):
            EmptyOperator(task_id="a")
    """)
    with pytest.raises(LookupError, match="DAG 'only' has no task 'b'"):
        dagfile.load_task(bundle, "dag.py", "only", "b")
    with pytest.raises(LookupError, match="DAG 'other' not found in dag.py"):
        dagfile.load_task(bundle, "dag.py", "other", "a")


def test_resolve_arguments_keeps_python_literals_and_resolves_xcoms(tmp_path):
    bundle = write_dag(tmp_path, """
        from airflow.sdk import DAG, task

        @task
        def up() -> int:
            return 1

        @task
        def down(a, n, items):
            return a

        with DAG("r"):
            down(up(), n=3, items=[up(), 2])
    """)
    task = dagfile.load_task(bundle, "dag.py", "r", "down")
    args, kwargs = dagfile.resolve_arguments(task, lambda task_id, key: f"<{task_id}:{key}>")
    assert args == ["<up:return_value>"]
    assert kwargs == {"n": 3, "items": ["<up__1:return_value>", 2]}
    assert isinstance(kwargs["n"], int)


def test_user_error_becomes_one_line_with_file_and_line(tmp_path):
    bundle = write_dag(tmp_path, """
        from airflow.sdk import DAG
        x = 1
        raise ValueError("boom")
    """)
    with pytest.raises(dagfile.DagFileError) as err:
        dagfile.load_dag_file(bundle, "dag.py")
    assert (err.value.file, err.value.line, err.value.message) == ("dag.py", 4, "ValueError: boom")


def test_error_inside_helper_module_points_at_helper(tmp_path):
    write_dag(tmp_path, "def build():\n    return 1 / 0\n", name="helpers/util.py")
    bundle = write_dag(tmp_path, """
        from helpers.util import build
        build()
    """)
    with pytest.raises(dagfile.DagFileError) as err:
        dagfile.load_dag_file(bundle, "dag.py")
    assert (err.value.file, err.value.line) == ("helpers/util.py", 2)


def test_uncalled_dag_function_is_named(tmp_path):
    bundle = write_dag(tmp_path, """
        from airflow.sdk import dag

        @dag
        def forgotten():
            pass
    """)
    with pytest.raises(dagfile.DagFileError, match="'forgotten' is never called"):
        dagfile.load_dag_file(bundle, "dag.py")


def test_same_file_loads_identically_twice(tmp_path):
    bundle = write_dag(tmp_path, """
        from airflow.sdk import DAG, task

        @task
        def t(i):
            return i

        with DAG("twice"):
            [t(i) for i in range(3)]
    """)
    first = dagfile.load_dag(bundle, "dag.py", "twice").task_ids
    second = dagfile.load_dag(bundle, "dag.py", "twice").task_ids
    assert first == second == ["t", "t__1", "t__2"]
