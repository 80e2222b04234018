"""Airflow's generic list filters (FieldFilter in the proto) as SQL conditions.

Each list query declares the fields it filters on as `Column`s (Airflow's field
name -> an SQL expression and its kind); a condition on an undeclared field, or
with an operator its kind does not take, raises `UnknownFilter` before any SQL
is built. Text patterns follow Airflow's `*_pattern` (ILIKE '%term%', `%` and `_`
wildcards kept, `|` alternatives, `~` = any) and `*_prefix_pattern` (a
case-sensitive prefix, wildcards literal, trailing non-alphanumerics dropped,
`|` alternatives, `~` = any) rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ._sql import Filters

Kind = Literal["time", "number", "int", "text", "json"]

_RANGE_SQL = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_OPERATORS: dict[str, frozenset[str]] = {
    "time": frozenset(_RANGE_SQL),
    "number": frozenset({*_RANGE_SQL, "in"}),
    "int": frozenset({*_RANGE_SQL, "in"}),
    "text": frozenset({"in", "pattern", "prefix_pattern"}),
    "json": frozenset({"contains"}),
}


@dataclass(frozen=True)
class Column:
    sql: str
    kind: Kind


@dataclass(frozen=True)
class FieldCondition:
    """One condition: `operator` is gt, gte, lt, lte, in, pattern, prefix_pattern or contains."""

    field: str
    operator: str
    strings: tuple[str, ...] = ()
    numbers: tuple[float, ...] = ()
    time: datetime | None = None


class UnknownFilter(ValueError):
    """A condition the list call cannot apply (names the field)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def check(conditions: list[FieldCondition], columns: dict[str, Column]) -> None:
    """Raise UnknownFilter for a condition `columns` cannot take."""
    for c in conditions:
        column = columns.get(c.field)
        if column is None:
            raise UnknownFilter(c.field, f"cannot filter on '{c.field}' here")
        if c.operator not in _OPERATORS[column.kind]:
            raise UnknownFilter(c.field, f"'{c.field}' cannot be filtered with '{c.operator}'")
        if c.operator in _RANGE_SQL and column.kind == "time" and c.time is None:
            raise UnknownFilter(c.field, f"'{c.field}' {c.operator} needs a time")
        if c.operator in _RANGE_SQL and column.kind != "time" and len(c.numbers) != 1:
            raise UnknownFilter(c.field, f"'{c.field}' {c.operator} needs one number")
        if c.operator in ("pattern", "prefix_pattern", "contains") and len(c.strings) != 1:
            raise UnknownFilter(c.field, f"'{c.field}' {c.operator} needs one string")


def add_conditions(
    f: Filters, conditions: list[FieldCondition], columns: dict[str, Column]
) -> None:
    """Add every condition to `f` (check() first)."""
    check(conditions, columns)
    for c in conditions:
        column = columns[c.field]
        if c.operator in _RANGE_SQL:
            value = c.time if column.kind == "time" else _number(c.numbers[0], column.kind)
            f.add(f"{column.sql} {_RANGE_SQL[c.operator]} ?", value)
        elif c.operator == "in":
            _add_in(f, column, c)
        elif c.operator == "pattern":
            _add_pattern(f, column.sql, c.strings[0])
        elif c.operator == "prefix_pattern":
            _add_prefix_pattern(f, column.sql, c.strings[0])
        else:  # contains
            f.add(f"strpos({column.sql}::text, ?) > 0", c.strings[0])


def _number(value: float, kind: Kind) -> float | int:
    return int(value) if kind == "int" and float(value).is_integer() else value


def _add_in(f: Filters, column: Column, c: FieldCondition) -> None:
    if column.kind == "text":
        f.add(f"{column.sql} = ANY(?::text[])", list(c.strings))
    elif column.kind == "int":
        # A non-integral number can never equal an integer column.
        integers = [int(n) for n in c.numbers if float(n).is_integer() and abs(n) < 2**31]
        f.add(f"{column.sql} = ANY(?::int[])", integers)
    else:
        f.add(f"{column.sql} = ANY(?::float8[])", list(c.numbers))


def _terms(value: str) -> list[str]:
    if "|" in value:
        terms = [term.strip() for term in value.split("|") if term.strip()]
        if terms:
            return terms
    return [value]


def _add_pattern(f: Filters, sql: str, pattern: str) -> None:
    terms = _terms("%" if pattern == "~" else pattern)
    f.add("(" + " OR ".join(f"{sql} ILIKE ?" for _ in terms) + ")", *(f"%{t}%" for t in terms))


def _prefix(term: str) -> str:
    while term and not term[-1].isalnum():
        term = term[:-1]
    return term


def _add_prefix_pattern(f: Filters, sql: str, pattern: str) -> None:
    conditions, values = [], []
    for term in _terms("" if pattern == "~" else pattern):
        prefix = _prefix(term)
        if prefix:
            conditions.append(f"starts_with({sql}, ?)")
            values.append(prefix)
        else:
            conditions.append(f"{sql} IS NOT NULL")
    f.add("(" + " OR ".join(conditions) + ")", *values)
