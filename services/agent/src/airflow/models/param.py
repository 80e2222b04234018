"""`airflow.models.param`."""

from airflow._shim.params import Param, ParamsDict  # noqa: F401
