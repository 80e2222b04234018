"""Import paths authors write, unsupported modules, custom operators and runtime-only APIs."""

from __future__ import annotations

import importlib
import textwrap

import pytest
from leoflow_agent import dagfile
from leoflow_agent.compile import compile_dag_file

IMPORTS = [
    ("airflow.sdk", ["DAG", "dag", "task", "chain", "chain_linear", "cross_downstream", "Param", "TaskGroup",
                     "task_group", "BaseOperator", "get_current_context", "Variable", "Connection", "BaseHook",
                     "Label", "XComArg", "timezone", "TriggerRule"]),
    ("airflow.sdk.timezone", ["utc", "utcnow", "datetime", "parse", "convert_to_utc"]),
    ("airflow.decorators", ["dag", "task", "task_group"]),
    ("airflow.models", ["DAG", "BaseOperator", "Variable", "Param"]),
    ("airflow.models.dag", ["DAG"]),
    ("airflow.models.baseoperator", ["chain", "BaseOperator", "cross_downstream"]),
    ("airflow.providers.standard.operators.python", ["PythonOperator", "BranchPythonOperator", "ShortCircuitOperator"]),
    ("airflow.providers.standard.operators.bash", ["BashOperator"]),
    ("airflow.providers.standard.operators.empty", ["EmptyOperator"]),
    ("airflow.operators.python", ["PythonOperator", "BranchPythonOperator", "ShortCircuitOperator"]),
    ("airflow.operators.bash", ["BashOperator"]),
    ("airflow.operators.empty", ["EmptyOperator"]),
    ("airflow.exceptions", ["AirflowException", "AirflowSkipException", "AirflowFailException"]),
    ("airflow.utils.trigger_rule", ["TriggerRule"]),
    ("airflow.utils.task_group", ["TaskGroup"]),
    ("airflow.utils.edgemodifier", ["Label"]),
    ("airflow.hooks.base", ["BaseHook"]),
]


@pytest.mark.parametrize(("module", "names"), IMPORTS)
def test_supported_import_paths(module, names):
    imported = importlib.import_module(module)
    assert [n for n in names if not hasattr(imported, n)] == []


@pytest.mark.parametrize("module", ["airflow.providers.amazon.aws.hooks.s3", "airflow.sensors.external_task",
                                    "airflow.providers.standard.sensors.time"])
def test_unsupported_module_names_itself(module):
    with pytest.raises(ModuleNotFoundError, match=r"is not supported by Leoflow") as err:
        importlib.import_module(module)
    assert module.startswith(err.value.name)


def test_skip_and_fail_exceptions_are_airflow_exceptions():
    from airflow.exceptions import AirflowException, AirflowFailException, AirflowSkipException
    from airflow.sdk.exceptions import AirflowSkipException as SdkSkip

    assert issubclass(AirflowSkipException, AirflowException) and issubclass(AirflowFailException, AirflowException)
    assert SdkSkip is AirflowSkipException


def test_custom_operator_records_and_runs_execute(tmp_path):
    (tmp_path / "dag.py").write_text(textwrap.dedent("""
        from airflow.sdk import DAG, BaseOperator

        class Greet(BaseOperator):
            template_fields = ("name",)

            def __init__(self, *, name, **kwargs):
                super().__init__(**kwargs)
                self.name = name

            def execute(self, context):
                return f"hello {self.name} on {context['ds']}"

        with DAG("custom", default_args={"name": "from-defaults", "retries": 2}):
            Greet(task_id="greet")
    """))
    spec = compile_dag_file(tmp_path, "dag.py")
    greet = spec.tasks[0]
    assert greet.operator_name == "Greet" and greet.python.qualname == "Greet.execute" and greet.retries == 2
    assert list(greet.template_fields) == ["name"]
    run = dagfile.load_task_callable(tmp_path, "dag.py", "custom", "greet")
    assert run(ds="2024-01-01") == "hello from-defaults on 2024-01-01"


def test_operator_rejects_positional_and_unknown_arguments(tmp_path):
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG

    with DAG("args"):
        with pytest.raises(TypeError, match="keyword arguments"):
            EmptyOperator("x")
        with pytest.raises(TypeError, match=r"Invalid arguments were passed to EmptyOperator .*: colour"):
            EmptyOperator(task_id="y", colour="red")


def test_variables_and_connections_come_from_the_environment(monkeypatch):
    from airflow.sdk import BaseHook, Connection, Variable

    monkeypatch.setenv("AIRFLOW_VAR_REGION", "eu")
    monkeypatch.setenv("AIRFLOW_VAR_LIMITS", '{"max": 3}')
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", "postgres://user:p%40ss@db.local:5432/sales?sslmode=require")
    assert Variable.get("region") == "eu"
    assert Variable.get("limits", deserialize_json=True) == {"max": 3}
    assert Variable.get("absent", default="d") == "d"
    with pytest.raises(KeyError, match="only available while a task runs"):
        Variable.get("absent")
    conn = Connection.get("warehouse")
    assert (conn.conn_type, conn.host, conn.login, conn.password, conn.port, conn.schema) == (
        "postgres", "db.local", "user", "p@ss", 5432, "sales")
    assert conn.extra_dejson == {"sslmode": "require"}
    assert BaseHook.get_connection("warehouse").host == "db.local"


def test_get_current_context_only_inside_a_task():
    from airflow.sdk import get_current_context

    with pytest.raises(RuntimeError, match="only works while a task is running"):
        get_current_context()
    with dagfile.task_context({"ds": "2024-01-01"}):
        assert get_current_context()["ds"] == "2024-01-01"


def test_timezone_helpers():
    from airflow.sdk import timezone

    moment = timezone.datetime(2024, 1, 1, 12)
    assert moment.tzinfo is timezone.utc
    assert timezone.parse("2024-01-01T12:00:00+02:00").hour == 12
    assert timezone.convert_to_utc(timezone.parse("2024-01-01T12:00:00+02:00")).hour == 10
