"""The child runner: `python -P -m leoflow_agent.runner --control-in R --control-out W`.

The agent starts it in the bundle directory, in its own process group, with stdout
and stderr on their own pipes (they are the task's log) and the control pipe pair
on file descriptors R and W. Protocol (frames.py, control_channel.py): optionally
one "prepare" frame (the work frame's DAG file, DAG, task and context, no
arguments), then one work frame ("run", "render", "callback" or "dag_callback";
runner_tasks.py), send any number of requests while user code runs
(runner_comms.py: ti.xcom_pull, ...), write exactly one "result" or "error" frame,
exit.

"prepare" lets the runner load the DAG file while the agent still resolves the
arguments and waits for RUNNING to be acknowledged; the task's callable, its
templates and callbacks run only once the work frame arrives, which the agent
sends only after RUNNING was acknowledged. A failed load is kept and reported as
the work frame's error, exactly as a load at work time would be.

Invariants:
- The agent learns the outcome only from the frame. Exit code 0 follows a "result",
  1 an "error", 3 a broken control channel; an exit without a frame (os._exit, a
  signal, a crash of the interpreter) is a failure the agent reports as such.
- The user's traceback goes to stderr, so it lands in the task log where it
  happened; the error frame carries it too, with the exception's type and module
  (a failure callback rebuilds context["exception"] from them).
- Templates are rendered here, in the task's process, with the DAG's own Jinja
  environment; the reply carries the rendered fields and the mapped instance's
  rendered map index, also when the task failed after rendering.
- After the frame is written the process ends with os._exit, as Airflow's forked
  task runner does: a stray non-daemon thread must not keep a finished task alive.

`-P` keeps the working directory off sys.path while this module and its imports
load, so a bundle file named like a stdlib module (json.py) cannot hijack them; the
bundle directory is put at sys.path[0] just before the DAG file runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from typing import Any, NoReturn

from . import spine_trace
from .frames import FrameError, encode_frame, read_frame
from .jsonvalues import NotJSONSerializable, to_plain
from .runner_comms import AgentComms, FrameXComTransport

EXIT_RESULT = 0
EXIT_ERROR = 1
EXIT_BROKEN_CHANNEL = 3

WORK_FRAMES = frozenset({"run", "render", "callback", "dag_callback"})
PREPARE_FRAME = "prepare"
# What a prepared _Work must share with the work frame to stand for it.
_PREPARED_FIELDS = ("work", "bundle_dir", "dag_file", "dag_id", "task_id", "context")

# The agent maps these to SKIPPED and to a failure that is never retried. Matched by
# class name along the MRO, so the shim's classes and real Airflow's both count.
_SKIP_EXCEPTIONS = frozenset({"AirflowSkipException"})
_NO_RETRY_EXCEPTIONS = frozenset({"AirflowFailException", "AirflowSensorTimeout"})


def error_kind(exc: BaseException) -> str:
    """"skip", "fail_no_retry" or "user_error" for an exception from user code."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & _SKIP_EXCEPTIONS:
        return "skip"
    if names & _NO_RETRY_EXCEPTIONS:
        return "fail_no_retry"
    return "user_error"


def error_frame(exc: BaseException, *, kind: str | None = None, print_traceback: bool = True) -> dict[str, Any]:
    """The "error" frame for `exc`; prints the traceback to stderr (the task log)."""
    text = "".join(traceback.format_exception(exc))
    kind = kind or error_kind(exc)
    if print_traceback and kind != "skip":
        sys.stderr.write(text)
    elif kind == "skip":
        print(f"Skipping task: {exc}", file=sys.stderr)
    frame = {
        "type": "error",
        "kind": kind,
        "exc_type": type(exc).__qualname__,
        "exc_module": type(exc).__module__,
        "message": str(exc),
        "traceback": text,
    }
    try:  # the constructor's arguments, so a failure callback gets an equal exception back
        frame["exc_args"] = to_plain(list(exc.args))
    except (TypeError, NotJSONSerializable):
        pass
    return frame


def call_kwargs(func: Any, args: list[Any], kwargs: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments Airflow would pass: context merged under the call's own.

    As Airflow's KeywordParameters.determine: a callable with **kwargs gets the whole
    context; otherwise only the names its signature asks for. A positional argument
    whose parameter name is also a context/keyword name is an error (Airflow's rule).
    """
    import inspect

    merged = {**context, **kwargs}
    parameters = inspect.signature(func).parameters
    for name in list(parameters)[: len(args)]:
        if name in merged:
            raise ValueError(f"The key {name!r} in args is a part of kwargs and therefore reserved.")
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return merged
    return {name: merged[name] for name in parameters if name in merged}


def check_multiple_outputs(value: Any) -> None:
    """Airflow's rule: multiple_outputs needs a dict with string keys (None is fine)."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise TypeError(f"Returned output was type {type(value)} expected dictionary for multiple_outputs")
    for key in value:
        if not isinstance(key, str):
            raise TypeError(
                f"Returned dictionary keys must be strings when using multiple_outputs, found {key} ({type(key)}) instead"
            )


class _Work:
    """One work frame's task, context and the fields it rendered."""

    def __init__(self, message: dict[str, Any], comms: AgentComms | None):
        from airflow._shim.context import build_context

        from .dagfile import load_dag

        sys.path.insert(0, message["bundle_dir"])
        self.message = message
        self.dag = load_dag(message["bundle_dir"], message["dag_file"], message["dag_id"])
        self.task: Any = None
        if message["type"] != "dag_callback":
            task_id = message["task_id"]
            if task_id not in self.dag.task_dict:
                raise LookupError(f"DAG '{message['dag_id']}' has no task '{task_id}'")
            self.task = self.dag.task_dict[task_id]
        transport = FrameXComTransport(comms) if comms is not None else None
        self.context = build_context(message["context"], task=self.task, dag=self.dag, xcom=transport)
        self.rendered_fields: dict[str, Any] | None = None
        self.rendered_map_index: str | None = None

    def call(self, prepared: Any) -> Any:
        """Call a prepared callable inside the task's context (get_current_context)."""
        from airflow._shim.runtime import task_context

        kwargs = call_kwargs(prepared.func, prepared.args, prepared.kwargs, self.context)
        with task_context(self.context):
            return prepared.func(*prepared.args, **kwargs)

    def render_map_index(self, *, quiet: bool) -> None:
        """Render map_index_template; after a failure its own errors are swallowed (Airflow)."""
        from airflow._shim.templater import Templater

        from .runner_tasks import render_map_index

        try:
            self.rendered_map_index = render_map_index(self.context, Templater(self.context, task=self.task))
        except Exception:
            if not quiet:
                raise

    def extras(self) -> dict[str, Any]:
        extras: dict[str, Any] = {}
        if self.rendered_fields is not None:
            extras["rendered_fields"] = self.rendered_fields
        if self.rendered_map_index is not None:
            extras["rendered_map_index"] = self.rendered_map_index
        return extras


def _on_execute(work: _Work) -> None:
    """Airflow's on_execute_callback: after rendering, right before the task executes."""
    from .runner_tasks import callbacks_of, run_callbacks

    callbacks = callbacks_of(work.task, "on_execute_callback")
    if callbacks:
        run_callbacks(callbacks, "on_execute_callback", work.context)


def _run(work: _Work) -> Any:
    from .runner_tasks import prepare_python

    prepared = prepare_python(work.task, work.message, work.context)
    work.rendered_fields = prepared.rendered_fields
    _on_execute(work)
    value = work.call(prepared)
    if work.message.get("multiple_outputs"):
        check_multiple_outputs(value)
    return value


def _render(work: _Work) -> Any:
    from .runner_tasks import render_bash

    value, work.rendered_fields = render_bash(work.task, work.message, work.context, work.call, before_execute=lambda: _on_execute(work))
    return value


def _callback(work: _Work) -> Any:
    from .runner_tasks import callbacks_of, rebuild_exception, run_callbacks

    kind = work.message["kind"]
    if work.message.get("error"):
        work.context["exception"] = rebuild_exception(work.message["error"])
    return run_callbacks(callbacks_of(work.task, kind), kind, work.context)


def _dag_callback(work: _Work) -> Any:
    from .runner_tasks import callbacks_of, run_callbacks

    kind = work.message["kind"]
    for name in ("ti", "task_instance", "task"):  # no task instance stands behind a DAG callback
        work.context.pop(name, None)
    work.context["reason"] = work.message.get("reason", "")
    outcome = run_callbacks(callbacks_of(work.dag, kind), kind, work.context)
    if outcome["failed"]:
        raise RuntimeError(f"{len(outcome['failed'])} of {outcome['callbacks']} DAG {kind}(s) failed: {'; '.join(outcome['failed'])}")
    return outcome


_HANDLERS = {"run": _run, "render": _render, "callback": _callback, "dag_callback": _dag_callback}


class Prepared:
    """The _Work a "prepare" frame loaded ahead (or the exception loading it raised)."""

    def __init__(self, message: dict[str, Any], comms: AgentComms | None):
        # Taken before loading: building the context must not change what is compared.
        self._identity = _identity(message)
        self.work: _Work | None = None
        self.error: BaseException | None = None
        try:
            self.work = _Work({**message, "type": message.get("work")}, comms)
        except BaseException as exc:  # noqa: BLE001 - reported when the work frame comes, as a load then would be
            self.error = exc

    def matches(self, message: dict[str, Any]) -> bool:
        """It was prepared for exactly the work `message` asks for."""
        return self._identity == _identity({**message, "work": message.get("type")})

    def take(self, message: dict[str, Any]) -> _Work:
        """The loaded _Work, now doing `message`; raises what loading raised."""
        if self.error is not None:
            raise self.error
        assert self.work is not None
        self.work.message = message
        return self.work


def _identity(message: dict[str, Any]) -> str:
    return json.dumps([message.get(name) for name in _PREPARED_FIELDS], sort_keys=True, default=str)


def handle(message: dict[str, Any], comms: AgentComms | None = None, prepared: Prepared | None = None) -> dict[str, Any]:
    """Do the work `message` asks for (with what `prepared` loaded ahead, when it was
    prepared for exactly this work); return the reply frame."""
    work: _Work | None = None
    try:
        if prepared is not None and prepared.matches(message):
            work = prepared.take(message)
        else:
            work = _Work(message, comms)
        value = _HANDLERS[message["type"]](work)
    except SystemExit as exc:
        # Airflow: sys.exit() / sys.exit(0) ends the task successfully with no value.
        if exc.code not in (None, 0):
            return error_frame(exc, kind="user_error") | {"message": f"Task failed due to SystemExit({exc.code})"} | _extras(work, failed=True)
        value = None
    except BaseException as exc:  # noqa: BLE001 — every failure of user code is reported, KeyboardInterrupt included
        return error_frame(exc) | _extras(work, failed=True)
    extras: dict[str, Any] = {}
    try:
        if work is not None and work.task is not None and message["type"] != "callback":
            work.render_map_index(quiet=False)
        extras = work.extras() if work is not None else {}
        plain = to_plain(value)
    except (TypeError, NotJSONSerializable) as exc:
        failure = TypeError(str(exc))
        print(f"TypeError: {failure}", file=sys.stderr)
        return error_frame(failure, kind="user_error", print_traceback=False) | extras
    except Exception as exc:  # map_index_template failed to render: the task fails with that
        return error_frame(exc) | (work.extras() if work is not None else {})
    return {"type": "result", "value": plain} | extras


def _extras(work: _Work | None, *, failed: bool) -> dict[str, Any]:
    if work is None:
        return {}
    if work.task is not None and work.message["type"] != "callback":
        work.render_map_index(quiet=failed)
    return work.extras()


def _reply(comms: AgentComms, reply: dict[str, Any]) -> None:
    try:
        encode_frame(reply)
    except (FrameError, ValueError, TypeError) as exc:
        failure = ValueError(f"return value too large to hand to the agent: {exc}")
        print(f"ValueError: {failure}", file=sys.stderr)
        reply = error_frame(failure, kind="user_error", print_traceback=False)
    comms.send(reply)


def _exit(code: int) -> NoReturn:
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # the user closed or broke the stream; nothing left to save
    os._exit(code)


def _read_control(control_in: Any) -> dict[str, Any] | None:
    """The next frame from the agent (None: end of file); a broken one ends the runner."""
    try:
        return read_frame(control_in)
    except FrameError as exc:
        print(f"leoflow runner: broken control channel: {exc}", file=sys.stderr)
        _exit(EXIT_BROKEN_CHANNEL)


def main(argv: list[str] | None = None) -> NoReturn:
    parser = argparse.ArgumentParser(prog="python -m leoflow_agent.runner")
    parser.add_argument("--control-in", type=int, required=True, help="fd the work frame and responses arrive on")
    parser.add_argument("--control-out", type=int, required=True, help="fd requests and the reply go to")
    options = parser.parse_args(argv)
    control_in = os.fdopen(options.control_in, "rb")
    control_out = os.fdopen(options.control_out, "wb")
    comms = AgentComms(control_in, control_out)
    prepared: Prepared | None = None
    message = _read_control(control_in)
    if message is not None and message["type"] == PREPARE_FRAME:
        spine_trace.key = str(message.get("task_id", ""))
        prepared = Prepared(message, comms)
        spine_trace.mark("runner.prepared")
        message = _read_control(control_in)
    if message is None or message["type"] not in WORK_FRAMES:
        print(f"leoflow runner: expected a work frame, got {message and message['type']!r}", file=sys.stderr)
        _exit(EXIT_BROKEN_CHANNEL)
    spine_trace.key = str(message.get("task_id", ""))
    spine_trace.mark("runner.frame")
    reply = handle(message, comms, prepared)
    try:
        _reply(comms, reply)
    except OSError as exc:
        print(f"leoflow runner: cannot send the result to the agent: {exc}", file=sys.stderr)
        _exit(EXIT_BROKEN_CHANNEL)
    _exit(EXIT_RESULT if reply["type"] == "result" else EXIT_ERROR)


if __name__ == "__main__":
    main()
