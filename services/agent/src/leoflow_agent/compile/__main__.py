"""`python -m leoflow_agent.compile --dag-dir DIR --dag-file dag.py [--dag-id ID] --out dag.json`

Exit codes: 0 written; 2 the DAG is malformed (one line on stderr: "file:line: message",
and the same as JSON {"message", "file", "line"} in --error-json); 1 anything else.
--overrides takes leoflow.yaml's task settings as JSON (see overrides.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from leoflow_agent.compile import compile_dag_file, spec_to_json
from leoflow_agent.compile.errors import DagCompileError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m leoflow_agent.compile", description=__doc__.splitlines()[0])
    parser.add_argument("--dag-dir", required=True, help="the DAG folder (bundle)")
    parser.add_argument("--dag-file", default="dag.py", help="the DAG file, relative to --dag-dir")
    parser.add_argument("--dag-id", default=None, help="which DAG, when the file defines several")
    parser.add_argument("--out", required=True, help="where to write dag.json")
    parser.add_argument("--overrides", default=None, help="JSON file of leoflow.yaml task settings")
    parser.add_argument("--error-json", default=None, help="where to write a failure as JSON")
    return parser


def _write(path: str, text: str) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        overrides = json.loads(Path(args.overrides).read_text()) if args.overrides else None
        spec = compile_dag_file(args.dag_dir, args.dag_file, args.dag_id, overrides)
        _write(args.out, spec_to_json(spec))
        return 0
    except DagCompileError as err:
        failure, code = err, 2
    except Exception as err:  # noqa: BLE001 - one line, never a traceback, for any failure
        failure, code = DagCompileError(f"internal compiler error: {type(err).__name__}: {err}"), 1
    print(failure.one_line(), file=sys.stderr)
    if args.error_json:
        _write(args.error_json, failure.to_json())
    return code


if __name__ == "__main__":
    sys.exit(main())
