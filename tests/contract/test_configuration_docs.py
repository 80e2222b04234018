"""docs/configuration.md lists exactly what the services' settings read."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_docs_are_current():
    result = subprocess.run([sys.executable, "scripts/gen_config_docs.py", "--check"], cwd=ROOT)
    assert result.returncode == 0, "docs/configuration.md is stale: run `uv run python scripts/gen_config_docs.py`"
