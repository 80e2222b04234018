"""Bash tasks (BashOperator, @task.bash): `bash -c <bash_command>` is the child itself.

BashOperator's rules, kept:
- template fields bash_command, env and cwd are rendered against the context, in
  a runner ("render" work frame) with the DAG's Jinja environment; a command
  ending in .sh/.bash is a template file. A task with nothing to render (no
  markup, no template file, not mapped, no @task.bash function) skips the runner;
- environment: the system environment when the task sets no env; with env, only
  that env unless append_env; AIRFLOW_CTX_* always added;
- working directory: cwd if given (relative to the bundle), else a fresh temporary
  directory removed afterwards; a missing cwd fails the task;
- `@task.bash`: the function runs first (in the runner) and returns the command,
  which must be a non-empty string and is then rendered;
- exit code 0 -> success, skip_on_exit_code (default [99]) -> skipped, else failed;
- XCom: the last line of stdout, right-stripped, as "return_value" when
  do_xcom_push (stderr is its own stream here, so it never becomes the XCom).
Rendering and the command share the task's execution_timeout.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .child_process import ChildProcess
from .outcome import Outcome, bash_outcome, exit_status, failed
from .python_task import call_runner, is_mapped_instance
from .rendered_fields import serialize_field
from .task_run import TaskRun

# Logged commands are cut: a generated script can be huge.
_LOGGED_COMMAND_LIMIT = 64 * 1024
_MARKERS = ("{{", "{%", "{#")
_TEMPLATE_EXTENSIONS = (".sh", ".bash")


def has_callable(spec: object) -> bool:
    """`@task.bash`: a Python function computes the command at run time."""
    python = spec.python  # type: ignore[attr-defined]
    return bool(python.module or python.qualname)


def bash_env(system_env: Mapping[str, str], task_env: Mapping[str, str], append_env: bool, ctx_env: Mapping[str, str]) -> dict[str, str]:
    """BashOperator.get_env: which environment `bash -c` sees."""
    if not task_env:
        env = dict(system_env)
    elif append_env:
        env = {**system_env, **task_env}
    else:
        env = dict(task_env)
    env.update(ctx_env)
    return env


def resolve_cwd(cwd: str, bundle_dir: Path) -> Path:
    """The directory the command runs in; raise FileNotFoundError as Airflow would."""
    path = Path(cwd)
    if not path.is_absolute():
        path = bundle_dir / path
    if not path.exists():
        raise FileNotFoundError(f"Can not find the cwd: {cwd}")
    if not path.is_dir():
        raise NotADirectoryError(f"The cwd {cwd} must be a directory")
    return path


def bash_xcom(last_stdout_line: str) -> str:
    """The XCom a BashOperator pushes: the last stdout line without trailing space."""
    return last_stdout_line.rstrip()


def needs_rendering(run: TaskRun) -> bool:
    """Whether the command needs a runner: markup, a template file, mapping, a callable,
    an on_execute_callback, or a map_index_template to render."""
    bash = run.spec.bash
    texts = [bash.bash_command, bash.cwd, *bash.env.values()]
    return (
        has_callable(run.spec)
        or run.spec.callbacks.on_execute  # on_execute_callback runs in the runner
        or is_mapped_instance(run)
        or bool(run.spec.map_index_template and run.execution.key.map_index >= 0)
        or bash.bash_command.endswith(_TEMPLATE_EXTENSIONS)
        or any(marker in text for text in texts for marker in _MARKERS)
    )


async def _command(run: TaskRun) -> tuple[Outcome | None, str, dict[str, str], str]:
    """(failure, command, task env, cwd): rendered by a runner when needed."""
    bash = run.spec.bash
    if needs_rendering(run):
        authored = {"bash_command": bash.bash_command, "env": dict(bash.env) or None, "cwd": bash.cwd or None}
        rendered = await call_runner(run, "render", bash=authored)  # reports RUNNING
        if not rendered.succeeded:
            return rendered, "", {}, ""
        value = rendered.value or {}
        return None, value.get("bash_command") or "", dict(value.get("env") or {}), value.get("cwd") or ""
    refusal = await run.report_running()
    if refusal is not None:
        return failed(refusal.message, kind=refusal.failure_kind), "", {}, ""
    run.rendered_fields = {
        "bash_command": serialize_field(bash.bash_command),
        "env": serialize_field(dict(bash.env) or None),
        "cwd": serialize_field(bash.cwd or None),
    }
    return None, bash.bash_command, dict(bash.env), bash.cwd


async def run_bash_task(run: TaskRun) -> Outcome:
    """Run a bash task to its outcome (before XCom pushes)."""
    bash = run.spec.bash
    failure, command, task_env, cwd_text = await _command(run)
    if failure is not None:
        return failure
    if not command.strip():
        return failed("AirflowException: The bash_command is empty after rendering")
    env = bash_env(run.system_env(), task_env, bash.append_env, run.airflow_ctx_env())
    bash_path = shutil.which("bash", path=run.system_env().get("PATH")) or "/bin/bash"
    with tempfile.TemporaryDirectory(prefix="airflowtmp") as scratch:
        try:
            cwd = resolve_cwd(cwd_text, run.bundle_dir) if cwd_text else Path(scratch)
        except OSError as exc:
            return failed(f"AirflowException: {exc}")
        run.agent_log("info", f"Running command: {command[:_LOGGED_COMMAND_LIMIT]}")
        run.forget_stdout()  # the XCom is the command's output, not the renderer's
        child = await ChildProcess.start([bash_path, "-c", command], cwd=str(cwd), env=env, on_line=run.on_line)
        child_exit, termination = await run.supervise(child)
    run.log_exit(child_exit.returncode)
    if termination is not None:
        return failed(termination.message, kind=termination.failure_kind, exit_code=exit_status(child_exit.returncode)[0])
    outcome = bash_outcome(child_exit.returncode, list(bash.skip_on_exit_code))
    if outcome.succeeded:
        return Outcome(outcome.state, value=bash_xcom(run.last_stdout_line))
    return outcome
