"""The classic operators Leoflow runs: Python, BranchPython, ShortCircuit, Bash, Empty.

Each records its arguments; the agent runs them. `leoflow_kind` tells the compiler which
OperatorKind a class is; subclasses written by authors keep their parent's kind.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Container, Mapping, Sequence
from typing import Any, ClassVar

from airflow._shim.baseoperator import BaseOperator
from airflow._shim.exceptions import AirflowException


class PythonOperator(BaseOperator):
    """Runs `python_callable(*op_args, **op_kwargs)`; its return value is the XCom."""

    template_fields: ClassVar[Sequence[str]] = ("templates_dict", "op_args", "op_kwargs")
    template_fields_renderers: ClassVar[dict[str, str]] = {"templates_dict": "json", "op_args": "py", "op_kwargs": "py"}
    ui_color: ClassVar[str] = "#ffefeb"
    leoflow_kind: ClassVar[str] = "python"

    def __init__(
        self,
        *,
        python_callable: Callable,
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: dict[str, Any] | None = None,
        templates_exts: Sequence[str] | None = None,
        show_return_value_in_logs: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(python_callable):
            raise AirflowException(f"`python_callable` of task '{self.task_id}' must be callable")
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        self.templates_dict = templates_dict
        self.templates_exts = templates_exts
        self.show_return_value_in_logs = show_return_value_in_logs


class BranchPythonOperator(PythonOperator):
    """Runs a callable returning the task id(s) to follow; other direct downstreams are skipped."""

    leoflow_kind: ClassVar[str] = "branch"


class ShortCircuitOperator(PythonOperator):
    """Runs a callable; a falsy result skips everything downstream."""

    ui_color: ClassVar[str] = "#e8f7e4"
    leoflow_kind: ClassVar[str] = "short_circuit"

    def __init__(self, *, ignore_downstream_trigger_rules: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules


class BashOperator(BaseOperator):
    """Runs `bash -c bash_command`; the last line of stdout is the XCom."""

    template_fields: ClassVar[Sequence[str]] = ("bash_command", "env", "cwd")
    template_fields_renderers: ClassVar[dict[str, str]] = {"bash_command": "bash", "env": "json"}
    template_ext: ClassVar[Sequence[str]] = (".sh", ".bash")
    ui_color: ClassVar[str] = "#f0ede4"
    leoflow_kind: ClassVar[str] = "bash"

    def __init__(
        self,
        *,
        bash_command: Any,
        env: dict[str, str] | None = None,
        append_env: bool = False,
        output_encoding: str = "utf-8",
        skip_on_exit_code: int | Container[int] | None = 99,
        cwd: str | None = None,
        output_processor: Callable[[str], Any] = lambda result: result,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bash_command = bash_command
        self.env = env
        self.append_env = append_env
        self.output_encoding = output_encoding
        if skip_on_exit_code is None:
            self.skip_on_exit_code: list[int] = []
        elif isinstance(skip_on_exit_code, int):
            self.skip_on_exit_code = [skip_on_exit_code]
        else:
            self.skip_on_exit_code = list(skip_on_exit_code)
        self.cwd = cwd
        self.output_processor = output_processor


class EmptyOperator(BaseOperator):
    """Does nothing: never dispatched, succeeds when its trigger rule is met."""

    ui_color: ClassVar[str] = "#e8f7e4"
    leoflow_kind: ClassVar[str] = "empty"

    def execute(self, context: Any) -> None:
        return None
