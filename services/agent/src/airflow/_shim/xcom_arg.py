"""XComArg: the value a task will return, as a reference other tasks can take as input.

Calling a task inside a DAG returns an XComArg; passing it to another task records an
XCom reference plus an upstream edge. `xcom["key"]` refers to one key of a task with
multiple outputs. `map`, `zip` and `concat` build derived references Leoflow cannot
represent yet, so they fail at once with a clear message.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from airflow._shim.node import DependencyMixin

if TYPE_CHECKING:
    from airflow._shim.baseoperator import BaseOperator

XCOM_RETURN_KEY = "return_value"


class XComArg(DependencyMixin):
    """Reference to an XCom pushed by `operator` under `key`."""

    def __new__(cls, *args, **kwargs):
        if cls is XComArg:
            return super().__new__(PlainXComArg)
        return super().__new__(cls)

    @staticmethod
    def iter_xcom_references(value: Any) -> Iterator[tuple[BaseOperator, str]]:
        """Every (operator, key) referenced anywhere inside `value` (lists, dicts, tuples, sets)."""
        if isinstance(value, PlainXComArg):
            yield value.operator, value.key
        elif isinstance(value, (list, tuple, set, frozenset)):
            for item in value:
                yield from XComArg.iter_xcom_references(item)
        elif isinstance(value, dict):
            for item in value.values():
                yield from XComArg.iter_xcom_references(item)

    @staticmethod
    def apply_upstream_relationship(task: BaseOperator, value: Any) -> None:
        """Make every operator referenced inside `value` an upstream of `task`."""
        for operator, _ in XComArg.iter_xcom_references(value):
            operator.add_downstream_task(task)

    def map(self, f):
        raise NotImplementedError("XComArg.map() is not supported by Leoflow yet")

    def zip(self, *others, fillvalue=None):
        raise NotImplementedError("XComArg.zip() is not supported by Leoflow yet")

    def concat(self, *others):
        raise NotImplementedError("XComArg.concat() is not supported by Leoflow yet")


class PlainXComArg(XComArg):
    """One XCom of one task."""

    def __init__(self, operator: BaseOperator, key: str = XCOM_RETURN_KEY):
        self.operator = operator
        self.key = key

    @property
    def roots(self) -> list:
        return [self.operator]

    @property
    def leaves(self) -> list:
        return [self.operator]

    def resolve(self, context: dict) -> Any:
        """The referenced value at run time, pulled through the context's task instance
        (a mapped upstream gives the list of its instances' values)."""
        return context["ti"].xcom_pull(task_ids=self.operator.task_id, key=self.key)

    def __getitem__(self, item: str) -> PlainXComArg:
        if not isinstance(item, str):
            raise ValueError(f"XComArg only supports str lookup, received {type(item).__name__}")
        return PlainXComArg(self.operator, item)

    def __iter__(self):
        # Without this, Python would iterate via __getitem__(0), (1), ... forever.
        raise TypeError("'XComArg' object is not iterable")

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, PlainXComArg):
            return NotImplemented
        return self.operator is other.operator and self.key == other.key

    def __hash__(self) -> int:
        return hash((id(self.operator), self.key))

    def __repr__(self) -> str:
        if self.key == XCOM_RETURN_KEY:
            return f"XComArg(<Task({self.operator.task_id})>)"
        return f"XComArg(<Task({self.operator.task_id})>, {self.key!r})"

    def __str__(self) -> str:
        # Airflow's classic-operator compatibility: an f-string embeds a Jinja pull.
        dag_id = self.operator.dag.dag_id if self.operator.dag else ""
        return (
            f"{{{{ task_instance.xcom_pull(task_ids='{self.operator.task_id}', "
            f"dag_id='{dag_id}', key='{self.key}') }}}}"
        )

    def as_setup(self):
        raise NotImplementedError("setup/teardown tasks are not supported by Leoflow yet")

    def as_teardown(self, *args, **kwargs):
        raise NotImplementedError("setup/teardown tasks are not supported by Leoflow yet")

    def __enter__(self):
        raise NotImplementedError("setup/teardown tasks are not supported by Leoflow yet")

    def __exit__(self, *exc):
        return False
