"""Airflow's text filters on list endpoints, as SQL conditions on a Filters builder.

- `*_pattern`: a SQL LIKE expression matched case-insensitively anywhere in the
  value (ILIKE '%term%'; `%` and `_` stay wildcards); `|` separates alternatives;
  `~` matches everything.
- `*_prefix_pattern`: a case-sensitive prefix (wildcards are literal); `|` separates
  alternatives; `~` matches everything; trailing non-alphanumeric characters are
  dropped first, as Airflow documents (`test_` matches values starting with `test`).
"""

from __future__ import annotations

from ._sql import Filters


def _terms(value: str) -> list[str]:
    if "|" in value:
        terms = [term.strip() for term in value.split("|") if term.strip()]
        if terms:
            return terms
    return [value]


def add_pattern(f: Filters, column: str, pattern: str) -> None:
    """Restrict `column` by an Airflow *_pattern value (empty: no restriction)."""
    if not pattern:
        return
    if pattern == "~":
        pattern = "%"
    terms = _terms(pattern)
    f.add("(" + " OR ".join(f"{column} ILIKE ?" for _ in terms) + ")", *(f"%{t}%" for t in terms))


def _prefix(term: str) -> str:
    while term and not term[-1].isalnum():
        term = term[:-1]
    return term


def add_prefix_pattern(f: Filters, column: str, pattern: str) -> None:
    """Restrict `column` by an Airflow *_prefix_pattern value (empty: no restriction)."""
    if not pattern:
        return
    if pattern == "~":
        pattern = ""
    conditions, values = [], []
    for term in _terms(pattern):
        prefix = _prefix(term)
        if prefix:
            conditions.append(f"starts_with({column}, ?)")
            values.append(prefix)
        else:
            conditions.append(f"{column} IS NOT NULL")
    f.add("(" + " OR ".join(conditions) + ")", *values)
