"""Airflow's template macros: `{{ macros.ds_add(ds, 1) }}`, `macros.datetime`, ...

The names and behaviour are Airflow 3's (execution_time/macros.py): date-string
helpers plus the modules Airflow exposes (datetime, timedelta, dateutil, json,
time, uuid) and `random` (the function random.random). Modules that cost import
time load only when a template or task touches them (`macros.json`).
"""

from __future__ import annotations

import importlib
from datetime import datetime, timedelta
from typing import Any

__all__ = ["datetime", "datetime_diff_for_humans", "ds_add", "ds_format", "ds_format_locale", "timedelta"]

_LAZY_MODULES = ("json", "time", "uuid")


def ds_add(ds: str, days: int) -> str:
    """`ds` ("YYYY-MM-DD") shifted by `days` days: ds_add("2015-01-01", 5) == "2015-01-06"."""
    if not days:
        return str(ds)
    return (datetime.strptime(str(ds), "%Y-%m-%d") + timedelta(days=days)).strftime("%Y-%m-%d")


def ds_format(ds: str, input_format: str, output_format: str) -> str:
    """Re-format a date string: ds_format("2015-01-01", "%Y-%m-%d", "%m-%d-%y") == "01-01-15"."""
    return datetime.strptime(str(ds), input_format).strftime(output_format)


def datetime_diff_for_humans(dt: Any, since: Any = None) -> str:
    """A human reading of the difference between `dt` and `since` (now by default)."""
    import pendulum

    return pendulum.instance(dt).diff_for_humans(since)


def ds_format_locale(ds: str, input_format: str, output_format: str, locale: Any = None) -> str:
    """Like ds_format with a Babel output format and locale (needs `babel` in the DAG's env)."""
    try:
        from babel import Locale
        from babel.dates import LC_TIME, format_datetime
    except ImportError:
        raise ImportError("macros.ds_format_locale needs the 'babel' package: add it to dependencies in leoflow.yaml") from None
    return format_datetime(datetime.strptime(str(ds), input_format), format=output_format, locale=locale or LC_TIME or Locale("en_US"))


def random() -> float:
    """Airflow's `macros.random` is random.random."""
    import random as _random

    return _random.random()


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(name)
    if name == "dateutil":
        # Airflow imports the package; templates reach for its submodules.
        for submodule in ("dateutil.relativedelta", "dateutil.parser", "dateutil.tz"):
            importlib.import_module(submodule)
        return importlib.import_module("dateutil")
    raise AttributeError(f"macros has no attribute {name!r}")


class MacrosAccessor:
    """The context's `macros`: attribute access to this module's names."""

    def __getattr__(self, name: str) -> Any:
        import airflow._shim.macros as module

        return getattr(module, name)

    def __repr__(self) -> str:
        return "<MacrosAccessor (dynamic access to macros)>"
