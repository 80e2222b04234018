"""BaseOperator: one recorded task, with Airflow's default_args merging and defaults.

Invariants kept here, as in Airflow's BaseOperatorMeta:
- operators take keyword arguments only; unknown ones are an error naming the operator;
- DAG default_args, then TaskGroup default_args, then the task's own default_args fill
  every constructor parameter the author left out (closest scope wins);
- after the outermost __init__ returns, XComArgs found in the template fields become
  upstream edges;
- `_leoflow_explicit` remembers which settings the author chose (directly or through
  default_args), so leoflow.yaml defaults override only what the author left alone.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

from airflow._shim import state
from airflow._shim.node import DependencyMixin, validate_key
from airflow._shim.params import ParamsDict
from airflow._shim.trigger_rule import TriggerRule
from airflow._shim.xcom_arg import XComArg

DEFAULT_RETRY_DELAY = timedelta(seconds=300)


def merged_default_args(dag: Any, group: Any, task_default_args: dict | None) -> dict[str, Any]:
    """DAG default_args, overridden by the group's, overridden by the task's own."""
    merged: dict[str, Any] = dict(dag.default_args) if dag is not None else {}
    if group is not None:
        merged.update(group.default_args)
    if task_default_args:
        if not isinstance(task_default_args, dict):
            raise TypeError(f"default_args must be a mapping, got {type(task_default_args).__name__}")
        merged.update(task_default_args)
    return merged


def _apply_defaults(func: Callable) -> Callable:
    signature = inspect.signature(func)
    names = {
        name
        for name, p in signature.parameters.items()
        if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    passes_default_args = "default_args" in names or any(
        p.kind == p.VAR_KEYWORD for p in signature.parameters.values()
    )

    @functools.wraps(func)
    def apply_defaults(self: BaseOperator, *args: Any, **kwargs: Any) -> None:
        if args:
            raise TypeError(f"Use keyword arguments when initializing {type(self).__name__}")
        depth = self.__dict__.get("_leoflow_init_depth", 0)
        self.__dict__["_leoflow_init_depth"] = depth + 1
        try:
            dag = kwargs.get("dag") or state.current_dag()
            if dag is not None:
                kwargs["dag"] = dag
            group = kwargs.get("task_group") or state.current_group(dag)
            if group is not None:
                kwargs["task_group"] = group
            default_args = merged_default_args(dag, group, kwargs.pop("default_args", None))
            if depth == 0:
                self.__dict__["_leoflow_explicit"] = (set(kwargs) | set(default_args)) - {"dag", "task_group"}
            for name in names:
                if name not in kwargs and name in default_args:
                    kwargs[name] = default_args[name]
            if passes_default_args:
                kwargs["default_args"] = default_args
            func(self, **kwargs)
            if depth == 0:
                self._leoflow_after_init()
        finally:
            self.__dict__["_leoflow_init_depth"] = depth

    return apply_defaults


def _as_timedelta(value: Any, what: str) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    raise TypeError(f"{what} must be a timedelta or a number of seconds, got {type(value).__name__}")


def _as_retries(value: Any) -> int:
    if value is None:
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TypeError(f"'retries' type must be int, not {type(value).__name__}") from None


def _as_callbacks(value: Any) -> list[Callable]:
    if not value:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


class BaseOperator(DependencyMixin):
    """A task. Subclasses set `leoflow_kind` to say what runs: python, bash, empty, ..."""

    template_fields: ClassVar[Sequence[str]] = ()
    template_ext: ClassVar[Sequence[str]] = ()
    template_fields_renderers: ClassVar[dict[str, str]] = {}
    ui_color: ClassVar[str] = "#fff"
    ui_fgcolor: ClassVar[str] = "#000"
    custom_operator_name: ClassVar[str | None] = None
    leoflow_kind: ClassVar[str] = "custom"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _apply_defaults(cls.__dict__["__init__"])  # type: ignore[method-assign]

    def __init__(
        self,
        *,
        task_id: str,
        owner: str = "airflow",
        email: Any = None,
        email_on_retry: bool = True,
        email_on_failure: bool = True,
        retries: int | None = 0,
        retry_delay: timedelta | float = DEFAULT_RETRY_DELAY,
        retry_exponential_backoff: float = 0,
        max_retry_delay: timedelta | float | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        depends_on_past: bool = False,
        ignore_first_depends_on_past: bool = True,
        wait_for_past_depends_before_skipping: bool = False,
        wait_for_downstream: bool = False,
        dag: Any = None,
        params: dict | None = None,
        default_args: dict | None = None,
        priority_weight: int = 1,
        weight_rule: str = "downstream",
        queue: str = "default",
        pool: str | None = None,
        pool_slots: int = 1,
        sla: Any = None,
        execution_timeout: timedelta | float | None = None,
        on_execute_callback: Any = None,
        on_failure_callback: Any = None,
        on_success_callback: Any = None,
        on_retry_callback: Any = None,
        on_skipped_callback: Any = None,
        pre_execute: Any = None,
        post_execute: Any = None,
        trigger_rule: str = TriggerRule.ALL_SUCCESS,
        resources: dict | None = None,
        run_as_user: str | None = None,
        map_index_template: str | None = None,
        max_active_tis_per_dag: int | None = None,
        max_active_tis_per_dagrun: int | None = None,
        executor: str | None = None,
        executor_config: dict | None = None,
        do_xcom_push: bool = True,
        multiple_outputs: bool = False,
        inlets: Any = None,
        outlets: Any = None,
        task_group: Any = None,
        doc: str | None = None,
        doc_md: str | None = None,
        doc_json: str | None = None,
        doc_yaml: str | None = None,
        doc_rst: str | None = None,
        task_display_name: str | None = None,
        logger_name: str | None = None,
        allow_nested_operators: bool = True,
        render_template_as_native_obj: bool | None = None,
        retry_policy: Any = None,
        **kwargs: Any,
    ):
        if kwargs:
            raise TypeError(
                f"Invalid arguments were passed to {type(self).__name__} (task_id: {task_id}). "
                f"Invalid arguments were: {', '.join(sorted(kwargs))}"
            )
        validate_key(task_id, what="task_id")
        trigger_rule = str(trigger_rule.value if isinstance(trigger_rule, TriggerRule) else trigger_rule)
        if not TriggerRule.is_valid(trigger_rule):
            raise ValueError(
                f"The trigger_rule of task '{task_id}' must be one of "
                f"{sorted(TriggerRule.all_triggers())}; received '{trigger_rule}'"
            )
        if pool_slots < 1:
            raise ValueError(f"pool slots for {task_id} cannot be less than 1")
        self.task_group = task_group
        self.task_id = task_group.child_id(task_id) if task_group is not None else task_id
        self.owner = owner
        self.email = email
        self.retries = _as_retries(retries)
        self.retry_delay = _as_timedelta(retry_delay, "retry_delay") or DEFAULT_RETRY_DELAY
        self.retry_exponential_backoff = retry_exponential_backoff
        self.max_retry_delay = _as_timedelta(max_retry_delay, "max_retry_delay")
        self.execution_timeout = _as_timedelta(execution_timeout, "execution_timeout")
        self.start_date = start_date
        self.end_date = end_date
        self.depends_on_past = depends_on_past or wait_for_downstream
        self.wait_for_downstream = wait_for_downstream
        self.ignore_first_depends_on_past = ignore_first_depends_on_past
        self.priority_weight = priority_weight
        self.weight_rule = weight_rule
        self.queue = queue
        self.pool = pool or "default_pool"
        self.pool_slots = pool_slots
        self.trigger_rule = trigger_rule
        self.resources = resources
        self.run_as_user = run_as_user
        self.map_index_template = map_index_template
        self.max_active_tis_per_dag = max_active_tis_per_dag
        self.max_active_tis_per_dagrun = max_active_tis_per_dagrun
        self.executor_config = executor_config or {}
        self.do_xcom_push = do_xcom_push
        self.multiple_outputs = multiple_outputs
        self.on_execute_callback = _as_callbacks(on_execute_callback)
        self.on_failure_callback = _as_callbacks(on_failure_callback)
        self.on_success_callback = _as_callbacks(on_success_callback)
        self.on_retry_callback = _as_callbacks(on_retry_callback)
        self.on_skipped_callback = _as_callbacks(on_skipped_callback)
        self.pre_execute_hook = pre_execute
        self.post_execute_hook = post_execute
        self.inlets = inlets or []
        self.outlets = outlets or []
        self.doc, self.doc_md, self.doc_json, self.doc_yaml, self.doc_rst = doc, doc_md, doc_json, doc_yaml, doc_rst
        self.task_display_name = task_display_name or self.task_id
        self.render_template_as_native_obj = render_template_as_native_obj
        self.upstream_task_ids: set[str] = set()
        self.downstream_task_ids: set[str] = set()
        self.mapping: Any = None
        self.is_setup = self.is_teardown = False
        self.log = logging.getLogger(logger_name or f"airflow.task.operators.{type(self).__name__}")
        self.fileloc, self.lineno = state.caller_site()
        self.dag = dag
        self.params = ParamsDict(dag.params if dag is not None else {})
        self.params.update(params or {})
        if dag is not None:
            dag.add_task(self)
            if task_group is not None:
                task_group.children[self.task_id] = self

    def _leoflow_after_init(self) -> None:
        for field in self.template_fields:
            XComArg.apply_upstream_relationship(self, getattr(self, field, None))

    # -- graph -----------------------------------------------------------------------
    @property
    def roots(self) -> list:
        return [self]

    @property
    def leaves(self) -> list:
        return [self]

    def add_downstream_task(self, other: BaseOperator) -> None:
        """Record the edge self -> other; both must belong to the same DAG."""
        if self.dag is None or other.dag is None:
            raise ValueError(
                "Tried to create relationships between tasks that don't have DAGs yet: "
                f"'{self.task_id}' and '{other.task_id}' (create them inside `with DAG(...)`)"
            )
        if self.dag is not other.dag:
            raise ValueError(
                f"Tried to set relationships between tasks in more than one DAG: "
                f"'{self.task_id}' ({self.dag.dag_id}) and '{other.task_id}' ({other.dag.dag_id})"
            )
        self.downstream_task_ids.add(other.task_id)
        other.upstream_task_ids.add(self.task_id)

    @property
    def upstream_list(self) -> list[BaseOperator]:
        return [self.dag.task_dict[t] for t in sorted(self.upstream_task_ids)]

    @property
    def downstream_list(self) -> list[BaseOperator]:
        return [self.dag.task_dict[t] for t in sorted(self.downstream_task_ids)]

    @property
    def output(self) -> XComArg:
        """The task's return value, as a reference for other tasks."""
        return XComArg(self)

    @property
    def operator_name(self) -> str:
        return self.custom_operator_name or type(self).__name__

    @property
    def task_type(self) -> str:
        return type(self).__name__

    @property
    def dag_id(self) -> str | None:
        return self.dag.dag_id if self.dag is not None else None

    @property
    def is_mapped(self) -> bool:
        return self.mapping is not None

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        """Start a mapped task: `Op.partial(task_id=..., ...).expand(arg=[...])`."""
        from airflow._shim.mapping import OperatorPartial

        return OperatorPartial(cls, kwargs)

    def execute(self, context: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement execute(context)")

    def as_setup(self) -> Any:
        raise NotImplementedError("setup/teardown tasks are not supported by Leoflow yet")

    def as_teardown(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("setup/teardown tasks are not supported by Leoflow yet")

    def __repr__(self) -> str:
        return f"<Task({type(self).__name__}): {getattr(self, 'task_id', '?')}>"


BaseOperator.__init__ = _apply_defaults(BaseOperator.__init__)  # type: ignore[method-assign]
