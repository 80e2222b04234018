"""The rejection corpus: DAG folders that must fail `leoflow compile` with one clear line.

Each case is dag_corpus/reject/<case>/{dag.py, leoflow.yaml, expected.txt}; the error's
one line must start with expected.txt (file:line and message), the exit code must be 2
(bad input), and no traceback may leak.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from leoflow.compiler import CompileError, compile_dag

CORPUS = Path(__file__).parent / "dag_corpus" / "reject"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    # Every case has the same (empty) dependencies: one venv serves them all.
    return tmp_path_factory.mktemp("leoflow-home")


def test_corpus_is_not_empty():
    assert len(CASES) >= 8


@pytest.mark.parametrize("case", CASES)
def test_rejected_with_its_clear_message(case, home, tmp_path):
    folder = tmp_path / case
    shutil.copytree(CORPUS / case, folder, ignore=shutil.ignore_patterns("expected.txt"))
    expected = (CORPUS / case / "expected.txt").read_text().strip()
    with pytest.raises(CompileError) as err:
        compile_dag(folder, home=home)
    line = err.value.one_line()
    assert line.startswith(expected), f"{case}: got {line!r}"
    assert err.value.exit_code == 2
    assert "\n" not in line and "Traceback" not in line
    assert not (folder / "dag.json").exists()
