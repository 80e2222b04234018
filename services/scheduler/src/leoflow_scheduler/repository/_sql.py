"""A tiny builder for dynamic WHERE clauses with numbered asyncpg parameters."""

from __future__ import annotations

from typing import Any


class Filters:
    """Collects conditions; `?` in a condition becomes the next $n parameter."""

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.params: list[Any] = []

    def param(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    def add(self, condition: str, *values: Any) -> None:
        for value in values:
            condition = condition.replace("?", self.param(value), 1)
        self.conditions.append(condition)

    def where(self) -> str:
        return " WHERE " + " AND ".join(self.conditions) if self.conditions else ""


def like_escape(text: str) -> str:
    """Escape LIKE wildcards so `text` matches literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def order_clause(
    order_by: list[str], columns: dict[str, str], default: list[str], tiebreak: str
) -> str:
    """ORDER BY for Airflow-style names ("-" prefix = descending; NULLs last either
    way, as Airflow's SortParam orders). Unknown names raise KeyError with the
    name; the caller turns it into InvalidArgument."""
    parts = []
    for name in order_by or default:
        descending = name.startswith("-")
        key = name[1:] if descending else name
        column = columns[key]
        parts.append(f"{column} {'DESC' if descending else 'ASC'} NULLS LAST")
    parts.append(tiebreak)
    return " ORDER BY " + ", ".join(parts)
