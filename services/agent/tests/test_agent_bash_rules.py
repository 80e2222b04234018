"""BashOperator's environment, working directory and XCom rules (pure parts)."""

from __future__ import annotations

import pytest
from leoflow_agent.bash_task import bash_env, bash_xcom, resolve_cwd

SYSTEM = {"PATH": "/bin", "HOME": "/root"}
CTX = {"AIRFLOW_CTX_TASK_ID": "t"}


@pytest.mark.parametrize(
    "task_env, append_env, expected",
    [
        ({}, False, {"PATH": "/bin", "HOME": "/root", "AIRFLOW_CTX_TASK_ID": "t"}),
        ({}, True, {"PATH": "/bin", "HOME": "/root", "AIRFLOW_CTX_TASK_ID": "t"}),
        ({"A": "1"}, False, {"A": "1", "AIRFLOW_CTX_TASK_ID": "t"}),
        ({"A": "1", "HOME": "/tmp"}, True, {"PATH": "/bin", "HOME": "/tmp", "A": "1", "AIRFLOW_CTX_TASK_ID": "t"}),
    ],
)
def test_bash_env(task_env, append_env, expected):
    assert bash_env(SYSTEM, task_env, append_env, CTX) == expected


def test_resolve_cwd(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "file").write_text("")
    assert resolve_cwd("sub", tmp_path) == tmp_path / "sub"
    assert resolve_cwd(str(tmp_path), tmp_path / "elsewhere") == tmp_path
    with pytest.raises(FileNotFoundError, match="Can not find the cwd: missing"):
        resolve_cwd("missing", tmp_path)
    with pytest.raises(NotADirectoryError, match="must be a directory"):
        resolve_cwd("file", tmp_path)


@pytest.mark.parametrize("line, value", [("result  \t", "result"), ("", ""), ("  keep leading", "  keep leading")])
def test_bash_xcom_is_the_right_stripped_last_line(line, value):
    assert bash_xcom(line) == value
