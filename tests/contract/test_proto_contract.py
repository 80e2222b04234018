"""The proto contract: lint clean, generated code current, import boundaries kept."""

import filecmp
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "node_modules" / ".bin" / "buf"


def test_buf_lint_passes():
    assert BUF.exists(), "buf is missing: run scripts/bootstrap.sh (npm ci)"
    result = subprocess.run([str(BUF), "lint", "proto"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _tree_diff(a: Path, b: Path) -> list[str]:
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])
    diffs = [f"{cmp.left}/{n}" for n in cmp.left_only + cmp.right_only + cmp.diff_files]
    for sub in cmp.subdirs.values():
        diffs += _tree_diff(Path(sub.left), Path(sub.right))
    return diffs


def test_generated_code_is_current(tmp_path):
    out = tmp_path / "leoflow_proto"
    subprocess.run([sys.executable, "scripts/gen_proto.py", "--out", str(out)], cwd=ROOT, check=True)
    stale = _tree_diff(ROOT / "libs/proto/src/leoflow_proto", out)
    assert not stale, f"libs/proto is stale; run `make proto`: {stale}"


def test_import_boundaries_hold():
    result = subprocess.run([str(Path(sys.executable).parent / "lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
