"""End to end: Airflow's runtime semantics in the real agent process against the test
doubles (leoflow_agent.testing) — templates and rendered fields, ti.xcom_push /
xcom_pull, mapped instances, output lengths, task and DAG callbacks."""

from __future__ import annotations

import json
import textwrap

from google.protobuf import json_format
from leoflow_agent.testing import (
    ControlPlaneDoubles,
    build_execution,
    literal,
    run_agent,
    write_dag,
    xcom_ref,
)
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dag.v1 import dag_pb2

HEADER = """
import json, os, pathlib, time
from airflow.sdk import DAG, task, get_current_context
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator
from airflow.exceptions import AirflowFailException

MARKERS = pathlib.Path(os.environ["MARKER_DIR"])

def record(name, **values):
    MARKERS.joinpath(name).write_text(json.dumps(values, default=str))

"""


def write(tmp_path, body: str) -> None:
    write_dag(tmp_path, HEADER + textwrap.dedent(body))
    (tmp_path / "markers").mkdir(exist_ok=True)


def marker(tmp_path, name: str) -> dict | None:
    path = tmp_path / "markers" / name
    return json.loads(path.read_text()) if path.exists() else None


def rendered(report) -> dict:
    return json_format.MessageToDict(report.rendered_fields)


async def run(cp, tmp_path):
    result = await run_agent(cp, tmp_path, MARKER_DIR=str(tmp_path / "markers"))
    assert result.returncode == 0, result.stderr
    return cp.dispatcher.terminal


# -- templates and rendered fields ---------------------------------------------------------


async def test_python_operator_templates_render_literals_but_never_upstream_values(tmp_path):
    write(tmp_path, """
        def show(day, data, templates_dict, params, **context):
            return {"day": day, "data": data, "query": templates_dict["query"], "who": params["who"]}

        with DAG("demo", params={"who": "default"}):
            PythonOperator(
                task_id="task", python_callable=show,
                op_kwargs={"day": "{{ ds }}/{{ dag_run.conf.region }}", "data": "placeholder"},
                templates_dict={"query": "select * from t where d = '{{ ds_nodash }}'"},
            )
    """)
    execution = build_execution(
        dag_id="demo", arguments=[literal("day", value="{{ ds }}/{{ dag_run.conf.region }}"), dag_pb2.Argument(name="data", value=xcom_ref("up"))],
        params={"who": "ops"}, conf={"region": "eu"},
    )
    async with ControlPlaneDoubles(execution) as cp:
        cp.xcom.upstream[("up", "return_value")] = "{{ not a template }}"
        terminal = await run(cp, tmp_path)
    assert terminal.state == states_pb2.TASK_INSTANCE_STATE_SUCCESS, terminal.error_message
    assert cp.xcom.pushed()["return_value"] == {
        "day": "2024-01-02/eu", "data": "{{ not a template }}", "query": "select * from t where d = '20240102'", "who": "ops",
    }
    assert rendered(terminal) == {
        "templates_dict": {"query": "select * from t where d = '20240102'"},
        "op_args": [],
        "op_kwargs": {"data": "{{ not a template }}", "day": "2024-01-02/eu"},
    }


async def test_bash_templates_from_params_conf_and_a_template_file(tmp_path):
    write(tmp_path, """
        with DAG("demo"):
            BashOperator(task_id="task", bash_command="placeholder")
    """)
    (tmp_path / "report.sh").write_text('echo "{{ params.x }} {{ dag_run.conf.y }} {{ ds }}"\n')
    execution = build_execution(
        dag_id="demo", kind=dag_pb2.OPERATOR_KIND_BASH, bash=dag_pb2.BashCommand(bash_command="report.sh", env={"WHO": "{{ params.x }}"}),
        params={"x": 42}, conf={"y": "why"},
    )
    async with ControlPlaneDoubles(execution) as cp:
        terminal = await run(cp, tmp_path)
    assert terminal.state == states_pb2.TASK_INSTANCE_STATE_SUCCESS, terminal.error_message
    assert cp.xcom.pushed()["return_value"] == "42 why 2024-01-02"
    assert rendered(terminal) == {"bash_command": 'echo "42 why 2024-01-02"', "env": {"WHO": "42"}, "cwd": None}


async def test_a_bash_command_without_templates_needs_no_runner_and_still_reports_its_fields(tmp_path):
    write(tmp_path, """
        with DAG("demo"):
            BashOperator(task_id="task", bash_command="echo plain")
    """)
    execution = build_execution(dag_id="demo", kind=dag_pb2.OPERATOR_KIND_BASH, bash=dag_pb2.BashCommand(bash_command="echo plain"))
    async with ControlPlaneDoubles(execution) as cp:
        terminal = await run(cp, tmp_path)
    assert cp.xcom.pushed()["return_value"] == "plain"
    assert rendered(terminal) == {"bash_command": "echo plain", "env": None, "cwd": None}


async def test_a_template_error_fails_the_task_with_jinjas_message(tmp_path):
    write(tmp_path, """
        with DAG("demo"):
            BashOperator(task_id="task", bash_command="echo {{ params.missing.deeper }}")
    """)
    execution = build_execution(dag_id="demo", kind=dag_pb2.OPERATOR_KIND_BASH, bash=dag_pb2.BashCommand(bash_command="echo {{ params.missing.deeper }}"))
    async with ControlPlaneDoubles(execution) as cp:
        terminal = await run(cp, tmp_path)
    assert terminal.state == states_pb2.TASK_INSTANCE_STATE_FAILED
    assert terminal.failure_kind == states_pb2.FAILURE_KIND_USER_ERROR
    assert "UndefinedError" in terminal.error_message and "missing" in terminal.error_message
    assert "UndefinedError" in cp.logs.text()


async def test_a_custom_operators_template_fields_render_and_resolve_xcom_args(tmp_path):
    write(tmp_path, """
        from airflow.sdk import BaseOperator

        class Query(BaseOperator):
            template_fields = ("sql", "rows")

            def __init__(self, *, sql, rows, **kwargs):
                super().__init__(**kwargs)
                self.sql, self.rows = sql, rows

            def execute(self, context):
                return {"sql": self.sql, "rows": self.rows}

        with DAG("demo", params={"table": "sales"}):
            @task
            def extract():
                return [1, 2]
            Query(task_id="task", sql="select * from {{ params.table }} where d = '{{ ds }}'", rows=extract())
    """)
    async with ControlPlaneDoubles(build_execution(dag_id="demo", params={"table": "sales"})) as cp:
        cp.xcom.upstream[("extract", "return_value")] = [1, 2]
        terminal = await run(cp, tmp_path)
    assert cp.xcom.pushed()["return_value"] == {"sql": "select * from sales where d = '2024-01-02'", "rows": [1, 2]}, terminal.error_message
    assert rendered(terminal) == {"sql": "select * from sales where d = '2024-01-02'", "rows": [1, 2]}


# -- ti.xcom_push / ti.xcom_pull --------------------------------------------------------------


async def test_xcom_push_and_pull_inside_a_task(tmp_path):
    write(tmp_path, """
        with DAG("demo"):
            @task
            def task(ti=None):
                ti.xcom_push(key="stats", value={"rows": 7})
                return {
                    "own": ti.xcom_pull(key="stats"),
                    "plain": ti.xcom_pull(task_ids="extract"),
                    "custom": ti.xcom_pull(task_ids="extract", key="meta"),
                    "mapped": ti.xcom_pull(task_ids="square"),
                    "one": ti.xcom_pull(task_ids="square", map_indexes=1),
                    "several": ti.xcom_pull(task_ids=["extract", "nothing"]),
                    "missing": ti.xcom_pull(task_ids="nothing", map_indexes=-1, default="dflt"),
                    "current": get_current_context()["ti"].xcom_pull(task_ids="extract"),
                }
            task()
    """)
    execution = build_execution(dag_id="demo")
    async with ControlPlaneDoubles(execution) as cp:
        cp.xcom.upstream.update({("extract", "return_value"): [1, 2], ("extract", "meta"): "m"})
        cp.xcom.mapped_upstream[("square", "return_value")] = [0, 1, 4]
        terminal = await run(cp, tmp_path)
    assert terminal.state == states_pb2.TASK_INSTANCE_STATE_SUCCESS, terminal.error_message
    assert cp.xcom.pushed() == {
        "stats": {"rows": 7},
        "return_value": {
            "own": {"rows": 7}, "plain": [1, 2], "custom": "m", "mapped": [0, 1, 4], "one": 1,
            "several": [[1, 2], None], "missing": "dflt", "current": [1, 2],
        },
    }
    assert "Pushed XCom 'stats'" in cp.logs.text()


async def test_pulling_a_wide_mapped_task_reads_every_page(tmp_path):
    write(tmp_path, """
        with DAG("demo"):
            @task
            def task(ti=None):
                values = ti.xcom_pull(task_ids="wide")
                return [len(values), values[0], values[-1]]
            task()
    """)
    async with ControlPlaneDoubles(build_execution(dag_id="demo")) as cp:
        cp.xcom.mapped_upstream[("wide", "return_value")] = list(range(2500))
        terminal = await run(cp, tmp_path)
    assert cp.xcom.pushed()["return_value"] == [2500, 0, 2499], terminal.error_message
    assert cp.xcom.calls.count("ListXComs") == 3


async def test_a_refused_pull_fails_the_task_with_the_services_reason(tmp_path):
    write(tmp_path, """
        with DAG("demo"):
            @task
            def task(ti=None):
                return ti.xcom_pull(task_ids="secret")
            task()
    """)
    async with ControlPlaneDoubles(build_execution(dag_id="demo")) as cp:
        cp.xcom.forbidden.add("secret")
        terminal = await run(cp, tmp_path)
    assert terminal.state == states_pb2.TASK_INSTANCE_STATE_FAILED
    assert "AirflowException" in terminal.error_message and "PERMISSION_DENIED" in terminal.error_message


async def test_xcom_pull_in_a_bash_template(tmp_path):
    write(tmp_path, """
        with DAG("demo"):
            BashOperator(task_id="task", bash_command="placeholder")
    """)
    command = "echo {{ ti.xcom_pull(task_ids='extract')['rows'] }}"
    execution = build_execution(dag_id="demo", kind=dag_pb2.OPERATOR_KIND_BASH, bash=dag_pb2.BashCommand(bash_command=command))
    async with ControlPlaneDoubles(execution) as cp:
        cp.xcom.upstream[("extract", "return_value")] = {"rows": 12}
        terminal = await run(cp, tmp_path)
    assert cp.xcom.pushed()["return_value"] == "12", terminal.error_message


# -- mapped instances --------------------------------------------------------------------------


async def test_a_mapped_instance_gets_its_element_renders_its_label_and_reports_lengths(tmp_path):
    write(tmp_path, """
        with DAG("demo"):
            @task(map_index_template="{{ task.task_id }}-{{ label }}")
            def task(x, scale):
                get_current_context()["label"] = f"item {x}"  # Airflow's documented pattern
                return [x * scale] * x
            task.partial(scale=10).expand(x=[1, 2, 3])
    """)
    mapping = dag_pb2.MappingSpec(expand_keys=["x"])
    json_format.ParseDict([1, 2, 3], mapping.expand["x"].literal)
    execution = build_execution(
        dag_id="demo", map_index=1, mapping=mapping, arguments=[literal("scale", value=10)],
        map_index_template="{{ task.task_id }}-{{ label }}",
    )
    execution.report_output_length = True
    async with ControlPlaneDoubles(execution) as cp:
        terminal = await run(cp, tmp_path)
    assert terminal.state == states_pb2.TASK_INSTANCE_STATE_SUCCESS, terminal.error_message
    assert cp.xcom.pushes[0].key.map_index == 1  # the instance's own XCom
    assert cp.xcom.pushed()["return_value"] == [20, 20]
    assert terminal.rendered_map_index == "task-item 2"
    assert dict(terminal.mapped_lengths) == {"return_value": 2}
    assert cp.xcom.resolve_requests[0].map_index == 1 and cp.xcom.resolve_requests[0].HasField("mapping")


async def test_a_classic_mapped_bash_operator_runs_its_element(tmp_path):
    write(tmp_path, """
        with DAG("demo"):
            BashOperator.partial(task_id="task").expand(bash_command=["echo a {{ ds }}", "echo b {{ ds }}"])
    """)
    mapping = dag_pb2.MappingSpec(expand_keys=["bash_command"])
    json_format.ParseDict(["echo a {{ ds }}", "echo b {{ ds }}"], mapping.expand["bash_command"].literal)
    execution = build_execution(dag_id="demo", kind=dag_pb2.OPERATOR_KIND_BASH, bash=dag_pb2.BashCommand(), map_index=1, mapping=mapping)
    async with ControlPlaneDoubles(execution) as cp:
        terminal = await run(cp, tmp_path)
    assert cp.xcom.pushed()["return_value"] == "b 2024-01-02", terminal.error_message


async def test_an_output_a_downstream_cannot_map_over_fails_the_task(tmp_path):
    write(tmp_path, """
        with DAG("demo"):
            @task
            def task():
                return 5
            task()
    """)
    execution = build_execution(dag_id="demo")
    execution.report_output_length = True
    async with ControlPlaneDoubles(execution) as cp:
        terminal = await run(cp, tmp_path)
    assert terminal.state == states_pb2.TASK_INSTANCE_STATE_FAILED
    assert terminal.error_message == "UnmappableXComTypePushed: unmappable return type 'int'"


# -- callbacks ---------------------------------------------------------------------------------

CALLBACK_DAG = """
    def on_failure(context):
        exc = context["exception"]
        record("failure", exc_type=type(exc).__name__, message=str(exc), ti=context["ti"].task_id, try_number=context["ti"].try_number)

    def on_retry(context):
        record("retry", exc_type=type(context["exception"]).__name__)

    def on_success(context):
        record("success", ds=context["ds"], value=context["ti"].xcom_pull())

    def broken(context):
        raise RuntimeError("callback bug")

    with DAG("demo"):
        @task(on_failure_callback=[broken, on_failure], on_retry_callback=on_retry, on_success_callback=on_success)
        def task(mode):
            if mode == "fail":
                raise KeyError("missing")
            if mode == "fail_now":
                raise AirflowFailException("stop")
            if mode == "slow":
                time.sleep(30)
            return "done"
        task("ok")
"""

CALLBACKS = dag_pb2.TaskCallbacks(on_success=True, on_failure=True, on_retry=True)


async def _callback_run(tmp_path, mode: str, *, try_number=1, retries=0, timeout_seconds=None):
    write(tmp_path, CALLBACK_DAG)
    execution = build_execution(
        dag_id="demo", arguments=[literal("mode", value=mode)], try_number=try_number, max_tries=retries,
        retries=retries, callbacks=CALLBACKS, execution_timeout_seconds=timeout_seconds,
    )
    async with ControlPlaneDoubles(execution) as cp:
        terminal = await run(cp, tmp_path)
    return cp, terminal


async def test_failure_callback_runs_with_the_exception_and_a_broken_one_changes_nothing(tmp_path):
    cp, terminal = await _callback_run(tmp_path, "fail")
    assert terminal.state == states_pb2.TASK_INSTANCE_STATE_FAILED and "KeyError" in terminal.error_message
    assert marker(tmp_path, "failure") == {"exc_type": "KeyError", "message": "'missing'", "ti": "task", "try_number": 1}
    assert marker(tmp_path, "retry") is None
    log = cp.logs.text()
    assert "Running on_failure_callback" in log and "on_failure_callback failed: RuntimeError: callback bug" in log


async def test_a_failure_that_will_be_retried_runs_the_retry_callback(tmp_path):
    _, terminal = await _callback_run(tmp_path, "fail", try_number=1, retries=1)
    assert terminal.state == states_pb2.TASK_INSTANCE_STATE_FAILED
    assert marker(tmp_path, "retry") == {"exc_type": "KeyError"} and marker(tmp_path, "failure") is None


async def test_airflow_fail_exception_skips_retries_and_runs_the_failure_callback(tmp_path):
    _, terminal = await _callback_run(tmp_path, "fail_now", try_number=1, retries=3)
    assert terminal.failure_kind == states_pb2.FAILURE_KIND_FAIL_NO_RETRY
    assert marker(tmp_path, "failure")["exc_type"] == "AirflowFailException" and marker(tmp_path, "retry") is None


async def test_success_callback_sees_the_pushed_value(tmp_path):
    _, terminal = await _callback_run(tmp_path, "ok")
    assert terminal.state == states_pb2.TASK_INSTANCE_STATE_SUCCESS
    assert marker(tmp_path, "success") == {"ds": "2024-01-02", "value": "done"}


async def test_a_timed_out_task_still_runs_its_failure_callback(tmp_path):
    _, terminal = await _callback_run(tmp_path, "slow", timeout_seconds=1.5)
    assert terminal.failure_kind == states_pb2.FAILURE_KIND_TIMEOUT
    assert marker(tmp_path, "failure")["exc_type"] == "AirflowTaskTimeout"


async def test_on_execute_callback_runs_before_python_and_bash_tasks(tmp_path):
    write(tmp_path, """
        def started(context):
            record("execute-" + context["ti"].task_id, rendered=context["task"].bash_command if hasattr(context["task"], "bash_command") else None)

        with DAG("demo", default_args={"on_execute_callback": started}):
            @task
            def task():
                return MARKERS.joinpath("execute-task").exists()  # the callback ran first
            task()
            BashOperator(task_id="shell", bash_command="echo plain")
    """)
    callbacks = dag_pb2.TaskCallbacks(on_execute=True)
    async with ControlPlaneDoubles(build_execution(dag_id="demo", callbacks=callbacks)) as cp:
        await run(cp, tmp_path)
    assert cp.xcom.pushed()["return_value"] is True
    bash = build_execution(
        dag_id="demo", task_id="shell", kind=dag_pb2.OPERATOR_KIND_BASH, bash=dag_pb2.BashCommand(bash_command="echo plain"), callbacks=callbacks,
    )
    async with ControlPlaneDoubles(bash) as cp:
        await run(cp, tmp_path)
    assert cp.xcom.pushed()["return_value"] == "plain"
    assert marker(tmp_path, "execute-shell") == {"rendered": "echo plain"}


async def test_dag_callback_runs_the_dags_callback_with_the_reason(tmp_path):
    write(tmp_path, """
        def on_dag_failure(context):
            record("dag_failure", reason=context["reason"], dag=context["dag"].dag_id, run_id=context["run_id"], has_ti="ti" in context)

        with DAG("demo", on_failure_callback=on_dag_failure):
            BashOperator(task_id="task", bash_command="exit 1")
    """)
    execution = build_execution(dag_id="demo", task_id="__dag_callback__", kind=dag_pb2.OPERATOR_KIND_UNSPECIFIED)
    execution.dag_callback.kind = "on_failure_callback"
    execution.dag_callback.reason = "task_failure"
    execution.dag_callback.run_state = states_pb2.DAG_RUN_STATE_FAILED
    async with ControlPlaneDoubles(execution) as cp:
        terminal = await run(cp, tmp_path)
    assert cp.dispatcher.states() == ["running", "success"], terminal.error_message
    assert marker(tmp_path, "dag_failure") == {"reason": "task_failure", "dag": "demo", "run_id": execution.key.run_id, "has_ti": False}


async def test_a_failing_dag_callback_reports_failure(tmp_path):
    write(tmp_path, """
        def boom(context):
            raise ValueError("dag callback broke")

        with DAG("demo", on_success_callback=boom):
            BashOperator(task_id="task", bash_command="true")
    """)
    execution = build_execution(dag_id="demo", task_id="__dag_callback__", kind=dag_pb2.OPERATOR_KIND_UNSPECIFIED)
    execution.dag_callback.kind = "on_success_callback"
    async with ControlPlaneDoubles(execution) as cp:
        terminal = await run(cp, tmp_path)
    assert terminal.state == states_pb2.TASK_INSTANCE_STATE_FAILED
    assert "dag callback broke" in terminal.error_message
