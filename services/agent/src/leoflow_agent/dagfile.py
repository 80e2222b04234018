"""Run a DAG file under the `airflow` shim and find its DAGs and tasks.

This is the one contract between compile time and run time: the compiler records a DAG
with `load_dag_file`, and the agent later calls `load_task` / `load_task_callable` on the
same bundle to get a task's callable. Both run the file the same way (bundle directory
first on sys.path, module named after the file's path, every DAG constructed while it
runs collected), so task ids, closures inside @dag bodies and helper imports resolve
identically.

Failures of the author's code become `DagFileError(message, file, line)` with the file
relative to the bundle; a DAG or task that does not exist is a `LookupError`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from airflow._shim import state
from airflow._shim.baseoperator import BaseOperator
from airflow._shim.dag import DAG
from airflow._shim.finder import UnsupportedAirflowModule
from airflow._shim.mapping import MAPPED
from airflow._shim.runtime import task_context
from airflow._shim.xcom_arg import PlainXComArg

# The object load_task returns: an operator of the shim (PythonOperator, BashOperator,
# a @task's decorated operator, ...). Useful attributes: task_id, leoflow_kind,
# python_callable, op_args, op_kwargs, templates_dict, bash_command, env, append_env,
# cwd, skip_on_exit_code, multiple_outputs, do_xcom_push, template_fields, params,
# on_success_callback / on_failure_callback / on_retry_callback (lists), mapping.
ShimTask = BaseOperator

__all__ = [
    "DagFileError", "LoadedDagFile", "ShimTask", "load_dag", "load_dag_file", "load_task",
    "load_task_callable", "module_name_for", "resolve_arguments", "resolve_value", "task_context",
]

_loaded_bundle_dirs: set[str] = set()


class DagFileError(Exception):
    """The DAG file failed while it ran: `message` says what, `file`:`line` where."""

    def __init__(self, message: str, file: str = "", line: int = 0):
        super().__init__(f"{file}:{line}: {message}" if file and line else (f"{file}: {message}" if file else message))
        self.message = message
        self.file = file
        self.line = line


@dataclass
class LoadedDagFile:
    """A DAG file after it ran: its module and the DAGs it built, by id, in creation order."""

    bundle_dir: Path
    dag_file: str
    module_name: str
    source: str
    module: ModuleType | None = None
    dags: dict[str, DAG] = field(default_factory=dict)


def module_name_for(dag_file: str) -> str:
    """"dag.py" -> "dag"; "pipelines/etl.py" -> "pipelines.etl"."""
    return Path(dag_file).with_suffix("").as_posix().replace("/", ".")


def load_dag_file(bundle_dir: str | os.PathLike, dag_file: str) -> LoadedDagFile:
    """Execute `bundle_dir/dag_file` under the shim and collect the DAGs it builds."""
    bundle = Path(bundle_dir).resolve()
    path = bundle / dag_file
    if not path.is_file():
        raise DagFileError("DAG file not found", dag_file)
    source = path.read_text(encoding="utf-8")
    name = module_name_for(dag_file)
    _prepare_import_state(bundle, name)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise DagFileError("cannot be imported as a Python module", dag_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    with state.collecting() as created:
        try:
            spec.loader.exec_module(module)
        except SyntaxError as exc:
            raise DagFileError(f"syntax error: {exc.msg}", _relative(exc.filename, bundle, dag_file), exc.lineno or 0) from exc
        except (Exception, SystemExit) as exc:
            file, line = _user_location(exc, bundle, dag_file)
            raise DagFileError(_describe(exc), file, line) from exc
    loaded = LoadedDagFile(bundle, dag_file, name, source, module)
    for dag in created:
        if dag.dag_id in loaded.dags:
            raise DagFileError(f"DAG id '{dag.dag_id}' is defined twice", _relative(dag.fileloc, bundle, dag_file), dag.lineno)
        loaded.dags[dag.dag_id] = dag
    if not loaded.dags:
        raise DagFileError(_no_dag_message(module), dag_file)
    return loaded


def load_dag(bundle_dir: str | os.PathLike, dag_file: str, dag_id: str) -> DAG:
    """The DAG `dag_id` of the file, or LookupError naming the DAGs that do exist."""
    loaded = load_dag_file(bundle_dir, dag_file)
    if dag_id not in loaded.dags:
        raise LookupError(f"DAG '{dag_id}' not found in {dag_file} (found: {', '.join(loaded.dags)})")
    return loaded.dags[dag_id]


def load_task(bundle_dir: str | os.PathLike, dag_file: str, dag_id: str, task_id: str) -> ShimTask:
    """The recorded task `task_id` of DAG `dag_id`, or LookupError("DAG 'x' has no task 'y'")."""
    dag = load_dag(bundle_dir, dag_file, dag_id)
    if task_id not in dag.task_dict:
        raise LookupError(f"DAG '{dag_id}' has no task '{task_id}'")
    return dag.task_dict[task_id]


def load_task_callable(bundle_dir: str | os.PathLike, dag_file: str, dag_id: str, task_id: str) -> Callable:
    """The Python code a task runs.

    @task / PythonOperator / branch / short-circuit / @task.bash: the author's undecorated
    function (closures included). A custom BaseOperator subclass: a function taking the
    context as keyword arguments and calling `execute(context)`. Bash and Empty operators
    run no Python: TypeError.
    """
    task = load_task(bundle_dir, dag_file, dag_id, task_id)
    python_callable = getattr(task, "python_callable", None)
    if callable(python_callable):
        return python_callable
    if task.leoflow_kind == "custom":
        def execute(**context: Any) -> Any:
            return task.execute(context)

        execute.__qualname__ = f"{type(task).__qualname__}.execute"
        return execute
    raise TypeError(f"task '{task_id}' is a {type(task).__name__}: it runs no Python callable")


def resolve_value(value: Any, resolve_xcom: Callable[[str, str], Any]) -> Any:
    """`value` with every XComArg inside (lists, tuples, dicts) replaced by resolve_xcom(task_id, key)."""
    if isinstance(value, PlainXComArg):
        return resolve_xcom(value.operator.task_id, value.key)
    if isinstance(value, list):
        return [resolve_value(v, resolve_xcom) for v in value]
    if isinstance(value, tuple):
        return tuple(resolve_value(v, resolve_xcom) for v in value)
    if isinstance(value, dict):
        return {k: resolve_value(v, resolve_xcom) for k, v in value.items()}
    return value


def resolve_arguments(task: ShimTask, resolve_xcom: Callable[[str, str], Any]) -> tuple[list[Any], dict[str, Any]]:
    """The task's authored (op_args, op_kwargs) with XComArgs resolved.

    Literals keep their Python types (an int stays an int, unlike the JSON in dag.json).
    Mapped arguments are left out of op_kwargs: the caller adds each expansion's values.
    """
    args = [resolve_value(v, resolve_xcom) for v in getattr(task, "op_args", [])]
    kwargs = {k: resolve_value(v, resolve_xcom) for k, v in getattr(task, "op_kwargs", {}).items() if v is not MAPPED}
    return args, kwargs


# -- internals ------------------------------------------------------------------------

def _prepare_import_state(bundle: Path, module_name: str) -> None:
    """Put the bundle first on sys.path and forget modules imported from earlier bundles."""
    bundle_str = str(bundle)
    if bundle_str in sys.path:
        sys.path.remove(bundle_str)
    sys.path.insert(0, bundle_str)
    _loaded_bundle_dirs.add(bundle_str)
    prefixes = tuple(d + os.sep for d in _loaded_bundle_dirs)
    for name, module in list(sys.modules.items()):
        # From the module's dict: getattr() would call a lazy module's __getattr__.
        file = getattr(module, "__dict__", {}).get("__file__") or ""
        # Module files are absolute but for rare cases: abspath() (a syscall-free but
        # slow normalisation) only for those, not for the hundreds a runner has loaded.
        if file and not os.path.isabs(file):
            file = os.path.abspath(file)
        if name == module_name or (file and file.startswith(prefixes)):
            del sys.modules[name]
    importlib.invalidate_caches()


def _relative(filename: str | None, bundle: Path, default: str) -> str:
    if not filename:
        return default
    try:
        return Path(filename).resolve().relative_to(bundle).as_posix()
    except ValueError:
        return default


def _user_location(exc: BaseException, bundle: Path, dag_file: str) -> tuple[str, int]:
    """The innermost traceback frame inside the bundle: the author's line that failed."""
    location = (dag_file, 0)
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            relative = Path(frame.filename).resolve().relative_to(bundle).as_posix()
        except ValueError:
            continue
        location = (relative, frame.lineno or 0)
    return location


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UnsupportedAirflowModule):
        return str(exc).split(" (supported:")[0]
    if isinstance(exc, ModuleNotFoundError):
        return f"{exc} (add it to dependencies in leoflow.yaml)"
    if isinstance(exc, SystemExit):
        return f"the DAG file called exit({exc.code})"
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, NotImplementedError) else f"{type(exc).__name__}: {text}"


def _no_dag_message(module: ModuleType) -> str:
    factories = [
        name for name, value in vars(module).items()
        if callable(value) and getattr(value, "__leoflow_dag_factory__", False)
    ]
    if factories:
        return f"no DAG found: the @dag function '{factories[0]}' is never called (add `{factories[0]}()` at the end of the file)"
    return "no DAG found (build one with `with DAG(...):` or a @dag function that is called)"
