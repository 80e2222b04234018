"""The CLI side of `leoflow compile`: leoflow.yaml, environments, bundles, images.

Public API (used by the CLI, Lite and tests):
    compile_dag(dag_dir, *, home=None, out=None, build=False, push=False, image=None,
                progress=None) -> CompileResult
    CompileError(message, file, line, exit_code)
"""

from leoflow.compiler.errors import CompileError
from leoflow.compiler.pipeline import CompileResult, compile_dag, default_home, spec_to_json

__all__ = ["CompileError", "CompileResult", "compile_dag", "default_home", "spec_to_json"]
