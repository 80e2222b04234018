"""`airflow.macros`: the template macros (ds_add, ds_format, ...); json, time, uuid
and dateutil load on first use, as the context's `macros` does."""

from typing import Any

from airflow._shim import macros as _macros
from airflow._shim.macros import (  # noqa: F401
    datetime,
    datetime_diff_for_humans,
    ds_add,
    ds_format,
    ds_format_locale,
    random,
    timedelta,
)


def __getattr__(name: str) -> Any:
    return getattr(_macros, name)
