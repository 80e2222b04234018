"""The shim records what Airflow would build: ids, edges, arguments, defaults, groups, mapping."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest
from google.protobuf import json_format
from leoflow_agent.compile import DagCompileError, compile_dag_file
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dag.v1 import dag_pb2


def compile_source(tmp_path, source: str, dag_id: str | None = None, overrides=None) -> dag_pb2.DagSpec:
    (tmp_path / "dag.py").write_text(textwrap.dedent(source))
    return compile_dag_file(tmp_path, "dag.py", dag_id, overrides)


def tasks(spec: dag_pb2.DagSpec) -> dict[str, dag_pb2.TaskSpec]:
    return {t.task_id: t for t in spec.tasks}


def plain(value: dag_pb2.Value):
    return json_format.MessageToDict(value, preserving_proto_field_name=True)


def test_repeated_calls_get_airflow_ids_and_fan_in_list_keeps_order(tmp_path):
    spec = compile_source(tmp_path, """
        from airflow.sdk import DAG, task

        @task
        def trial(lr: float) -> dict:
            return {"score": lr}

        @task
        def select_best(trials):
            return max(trials, key=lambda r: r["score"])

        with DAG("hparam"):
            select_best([trial(lr) for lr in [0.5, 0.1, 0.01]])
    """)
    by_id = tasks(spec)
    assert list(by_id) == ["select_best", "trial", "trial__1", "trial__2"]
    best = by_id["select_best"]
    assert list(best.upstream_task_ids) == ["trial", "trial__1", "trial__2"]
    assert plain(best.arguments[0].value) == {"list": {"items": [
        {"xcom": {"task_id": "trial", "key": "return_value"}},
        {"xcom": {"task_id": "trial__1", "key": "return_value"}},
        {"xcom": {"task_id": "trial__2", "key": "return_value"}},
    ]}}
    assert by_id["trial__1"].arguments[0].value.literal.number_value == 0.1
    assert by_id["trial"].multiple_outputs  # `-> dict` means multiple_outputs, as in Airflow
    assert by_id["trial"].python.module == "dag" and by_id["trial"].python.qualname == "trial"


def test_dict_fan_in_keyword_literals_and_key_lookup(tmp_path):
    spec = compile_source(tmp_path, """
        from airflow.sdk import DAG, task

        @task(multiple_outputs=True)
        def split():
            return {"a": 1, "b": 2}

        @task
        def combine(parts, scale, label="x", options=None):
            return parts

        with DAG("d"):
            s = split()
            combine({"first": s["a"], "second": s["b"], "const": 3}, scale=2, options={"deep": [1, None, True]})
    """)
    combine = tasks(spec)["combine"]
    assert [(a.name, a.position) for a in combine.arguments] == [("", 0), ("scale", 1), ("options", 2)]
    parts = plain(combine.arguments[0].value)["dict"]["items"]
    assert parts["first"] == {"xcom": {"task_id": "split", "key": "a"}}
    assert parts["const"] == {"literal": 3.0}
    assert plain(combine.arguments[2].value) == {"literal": {"deep": [1.0, None, True]}}
    assert list(combine.upstream_task_ids) == ["split"]


@pytest.mark.parametrize(("literal", "problem"), [
    ("{1, 2}", "a set is not a JSON value"),
    ("datetime.datetime(2024, 1, 1)", "a datetime is not a JSON value"),
    ("float('nan')", "nan is not a JSON number"),
    ("{1: 'a'}", "dict key 1 is not a string"),
])
def test_non_json_literal_is_a_clear_error_at_the_call_line(tmp_path, literal, problem):
    with pytest.raises(DagCompileError) as err:
        compile_source(tmp_path, f"""
            import datetime
            from airflow.sdk import DAG, task

            @task
            def t(x):
                return x

            with DAG("d"):
                t(x={literal})
        """)
    assert err.value.file == "dag.py" and err.value.line == 10
    assert "task 't': argument 'x'" in err.value.message and problem in err.value.message


def test_edges_from_shift_operators_lists_and_chain(tmp_path):
    spec = compile_source(tmp_path, """
        from airflow.sdk import DAG, chain, chain_linear, cross_downstream, Label
        from airflow.providers.standard.operators.empty import EmptyOperator as E

        with DAG("edges"):
            a, b, c, d, e, f, g, h, i, j = [E(task_id=x) for x in "abcdefghij"]
            a >> [b, c]
            [b, c] >> d
            e << d
            chain(e, [f, g], [h, i])
            chain_linear([h, i], j)
            x1, x2, y1, y2 = E(task_id="x1"), E(task_id="x2"), E(task_id="y1"), E(task_id="y2")
            cross_downstream([x1, x2], [y1, y2])
            a >> Label("why") >> x1
    """)
    up = {t.task_id: list(t.upstream_task_ids) for t in spec.tasks}
    assert up["d"] == ["b", "c"] and up["e"] == ["d"]
    assert up["f"] == ["e"] and up["g"] == ["e"]
    assert up["h"] == ["f"] and up["i"] == ["g"]
    assert up["j"] == ["h", "i"]
    assert up["y1"] == ["x1", "x2"] and up["y2"] == ["x1", "x2"]
    assert up["x1"] == ["a"]


def test_default_args_merge_dag_then_group_then_task(tmp_path):
    spec = compile_source(tmp_path, """
        from datetime import timedelta
        from airflow.sdk import DAG, TaskGroup, task
        from airflow.providers.standard.operators.bash import BashOperator

        default_args = {"retries": 3, "retry_delay": timedelta(seconds=10), "owner": "ana",
                        "execution_timeout": timedelta(minutes=5), "pool": "p", "queue": "q",
                        "priority_weight": 7, "retry_exponential_backoff": 2.0,
                        "max_retry_delay": timedelta(minutes=1), "trigger_rule": "all_done"}

        with DAG("defaults", default_args=default_args):
            BashOperator(task_id="plain", bash_command="true")
            BashOperator(task_id="own", bash_command="true", retries=0, trigger_rule="one_failed")
            with TaskGroup("grp", default_args={"retries": 5, "owner": "bob"}):
                @task
                def inner():
                    pass
                inner()
    """)
    by_id = tasks(spec)
    plain_task = by_id["plain"]
    assert plain_task.retries == 3 and plain_task.retry_delay.seconds == 10
    assert plain_task.execution_timeout.seconds == 300 and plain_task.max_retry_delay.seconds == 60
    assert plain_task.retry_exponential_backoff and plain_task.owner == "ana"
    assert (plain_task.pool, plain_task.queue, plain_task.priority_weight) == ("p", "q", 7)
    assert plain_task.trigger_rule == states_pb2.TRIGGER_RULE_ALL_DONE
    assert by_id["own"].retries == 0 and by_id["own"].trigger_rule == states_pb2.TRIGGER_RULE_ONE_FAILED
    grouped = by_id["grp.inner"]
    assert (grouped.retries, grouped.owner, grouped.task_group_id) == (5, "bob", "grp")
    assert spec.default_args.fields["retry_delay"].number_value == 10.0


def test_airflow_defaults_when_nothing_is_set(tmp_path):
    spec = compile_source(tmp_path, """
        from airflow.sdk import DAG
        from airflow.providers.standard.operators.empty import EmptyOperator
        with DAG("plain"):
            EmptyOperator(task_id="e")
    """)
    e = spec.tasks[0]
    assert (e.retries, e.retry_delay.ToTimedelta(), e.owner, e.pool, e.queue) == (0, timedelta(minutes=5), "airflow", "default_pool", "default")
    assert e.kind == dag_pb2.OPERATOR_KIND_EMPTY and e.do_xcom_push and not e.HasField("execution_timeout")
    assert spec.schedule.kind == dag_pb2.SCHEDULE_KIND_NONE and not spec.catchup and spec.timezone == "UTC"


def test_nested_task_groups_and_task_group_decorator(tmp_path):
    spec = compile_source(tmp_path, """
        from airflow.sdk import DAG, TaskGroup, task, task_group
        from airflow.providers.standard.operators.empty import EmptyOperator

        @task
        def step():
            pass

        @task_group
        def section():
            "Tooltip text."
            step() >> step()

        with DAG("groups"):
            start = EmptyOperator(task_id="start")
            with TaskGroup("outer", tooltip="o") as outer:
                with TaskGroup("inner"):
                    step()
            start >> outer
            start >> section()
            section()
    """)
    ids = [t.task_id for t in spec.tasks]
    assert ids == ["outer.inner.step", "section.step", "section.step__1", "section__1.step", "section__1.step__1", "start"]
    groups = {g.group_id: g for g in spec.task_groups}
    assert set(groups) == {"outer", "outer.inner", "section", "section__1"}
    assert groups["outer.inner"].parent_group_id == "outer" and groups["outer.inner"].label == "inner"
    assert groups["section"].tooltip == "Tooltip text."
    up = {t.task_id: list(t.upstream_task_ids) for t in spec.tasks}
    assert up["outer.inner.step"] == ["start"]
    assert up["section.step"] == ["start"]  # only the group's root gets the edge
    assert up["section.step__1"] == ["section.step"]


def test_branch_short_circuit_bash_and_classic_python_kinds(tmp_path):
    spec = compile_source(tmp_path, """
        from airflow.sdk import DAG, task
        from airflow.providers.standard.operators.python import PythonOperator, BranchPythonOperator, ShortCircuitOperator
        from airflow.operators.bash import BashOperator

        def f(x, y=0):
            return x

        @task.branch
        def choose():
            return "a"

        @task.short_circuit
        def gate():
            return True

        @task.bash(env={"K": "v"}, cwd="/tmp")
        def say(word):
            return f"echo {word}"

        with DAG("kinds"):
            classic = PythonOperator(task_id="classic", python_callable=f, op_args=[1], op_kwargs={"y": 2})
            choose() >> [BranchPythonOperator(task_id="b2", python_callable=f, op_args=[0]), ShortCircuitOperator(task_id="s2", python_callable=f, op_args=[0])]
            gate() >> say(classic.output)
            BashOperator(task_id="bash", bash_command="echo {{ ds }}", skip_on_exit_code=None, append_env=True)
    """)
    by_id = tasks(spec)
    assert by_id["choose"].kind == dag_pb2.OPERATOR_KIND_BRANCH_PYTHON
    assert by_id["b2"].kind == dag_pb2.OPERATOR_KIND_BRANCH_PYTHON
    assert by_id["gate"].kind == by_id["s2"].kind == dag_pb2.OPERATOR_KIND_SHORT_CIRCUIT
    say = by_id["say"]
    assert say.kind == dag_pb2.OPERATOR_KIND_BASH and say.python.qualname == "say"
    assert dict(say.bash.env) == {"K": "v"} and say.bash.cwd == "/tmp" and list(say.bash.skip_on_exit_code) == [99]
    assert plain(say.arguments[0].value) == {"xcom": {"task_id": "classic", "key": "return_value"}}
    assert list(say.upstream_task_ids) == ["classic", "gate"]
    assert say.operator_name == "_BashDecoratedOperator"
    bash = by_id["bash"]
    assert bash.bash.bash_command == "echo {{ ds }}" and bash.bash.append_env and list(bash.bash.skip_on_exit_code) == []
    assert list(bash.template_fields) == ["bash_command", "env", "cwd"]
    classic = by_id["classic"]
    assert [(a.name, plain(a.value)) for a in classic.arguments] == [("", {"literal": 1.0}), ("y", {"literal": 2.0})]
    assert classic.python.qualname == "f" and classic.operator_name == "PythonOperator"


def test_mapping_is_recorded(tmp_path):
    spec = compile_source(tmp_path, """
        from airflow.sdk import DAG, task
        from airflow.providers.standard.operators.bash import BashOperator

        @task
        def numbers():
            return [1, 2, 3]

        @task
        def add(x, y):
            return x + y

        with DAG("mapped"):
            add.partial(y=10).expand(x=numbers())
            add.expand_kwargs([{"x": 1, "y": 2}, {"x": 3, "y": 4}])
            BashOperator.partial(task_id="echo", retries=2).expand(bash_command=["echo 1", "echo 2"])
    """)
    by_id = tasks(spec)
    mapped = by_id["add"]
    assert plain(mapped.mapping.expand["x"]) == {"xcom": {"task_id": "numbers", "key": "return_value"}}
    assert [(a.name, plain(a.value)) for a in mapped.arguments] == [("y", {"literal": 10.0})]
    assert list(mapped.upstream_task_ids) == ["numbers"]
    assert plain(by_id["add__1"].mapping.expand_kwargs) == {"literal": [{"x": 1.0, "y": 2.0}, {"x": 3.0, "y": 4.0}]}
    echo = by_id["echo"]
    assert plain(echo.mapping.expand["bash_command"]) == {"literal": ["echo 1", "echo 2"]}
    assert echo.bash.bash_command == "" and echo.retries == 2
    assert not by_id["numbers"].HasField("mapping")


@pytest.mark.parametrize(("schedule", "kind", "expression"), [
    ('"0 5 * * *"', dag_pb2.SCHEDULE_KIND_CRON, "0 5 * * *"),
    ('"@daily"', dag_pb2.SCHEDULE_KIND_CRON, "@daily"),
    ('"@once"', dag_pb2.SCHEDULE_KIND_ONCE, "@once"),
    ('"@continuous"', dag_pb2.SCHEDULE_KIND_CONTINUOUS, "@continuous"),
    ("None", dag_pb2.SCHEDULE_KIND_NONE, ""),
    ("timedelta(hours=6)", dag_pb2.SCHEDULE_KIND_INTERVAL, ""),
])
def test_schedules(tmp_path, schedule, kind, expression):
    spec = compile_source(tmp_path, f"""
        from datetime import timedelta
        from airflow.sdk import DAG
        with DAG("s", schedule={schedule}, max_active_runs=1 if {schedule!r} == '"@continuous"' else None):
            pass
    """)
    assert (spec.schedule.kind, spec.schedule.expression) == (kind, expression)
    if kind == dag_pb2.SCHEDULE_KIND_INTERVAL:
        assert spec.schedule.interval.seconds == 6 * 3600


@pytest.mark.parametrize(("schedule", "problem"), [
    ('"61 * * * *"', "minute value '61' is out of range 0-59"),
    ('"* * *"', "expected 5 fields"),
    ('"@sometimes"', "unknown preset"),
    ('"0 0 * JANUARY *"', "month value 'JANUARY' is out of range"),
])
def test_bad_schedules_fail_at_the_dag_line(tmp_path, schedule, problem):
    with pytest.raises(DagCompileError) as err:
        compile_source(tmp_path, f"""
            from airflow.sdk import DAG
            with DAG("s", schedule={schedule}):
                pass
        """)
    assert err.value.line == 3 and problem in err.value.message


def test_dag_settings_params_and_time_zones(tmp_path):
    spec = compile_source(tmp_path, """
        import pendulum
        from datetime import timedelta
        from airflow.sdk import DAG, Param

        def notify(context):
            pass

        with DAG(
            "settings",
            schedule="@hourly",
            start_date=pendulum.datetime(2024, 3, 1, 6, tz="Europe/Paris"),
            end_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
            catchup=True, max_active_runs=2, max_active_tasks=4, max_consecutive_failed_dag_runs=3,
            tags=["b", "a"], description="desc", doc_md="# Doc", is_paused_upon_creation=False,
            dagrun_timeout=timedelta(hours=1), render_template_as_native_obj=True,
            owner_links={"ana": "mailto:ana@example.com"}, on_failure_callback=notify,
            params={"n": Param(5, type="integer", minimum=1, description="how many"), "name": "x", "req": Param(type="string")},
        ):
            pass
    """)
    assert spec.timezone == "Europe/Paris"
    assert spec.start_date.ToJsonString() == "2024-03-01T05:00:00Z"
    assert spec.end_date.ToJsonString() == "2025-01-01T00:00:00Z"
    assert spec.catchup and (spec.max_active_runs, spec.max_active_tasks, spec.max_consecutive_failed_dag_runs) == (2, 4, 3)
    assert list(spec.tags) == ["a", "b"] and spec.description == "desc" and spec.doc_md == "# Doc"
    assert spec.HasField("is_paused_upon_creation") and not spec.is_paused_upon_creation
    assert spec.dagrun_timeout.seconds == 3600 and spec.render_template_as_native_obj
    assert dict(spec.owner_links) == {"ana": "mailto:ana@example.com"}
    assert spec.callbacks.on_failure and not spec.callbacks.on_success
    n = spec.params["n"]
    assert n.has_default and n.default.number_value == 5 and n.description == "how many"
    assert json_format.MessageToDict(n.schema) == {"type": "integer", "minimum": 1.0}
    assert spec.params["name"].default.string_value == "x"
    assert not spec.params["req"].has_default


def test_dag_decorator_arguments_become_params_and_docstring_doc_md(tmp_path):
    spec = compile_source(tmp_path, """
        from airflow.sdk import dag, task

        @dag(schedule=None, dag_id="decorated")
        def pipeline(limit: int = 10):
            '''Pipeline docs.'''
            @task
            def run():
                '''Task docs.'''
            run()

        pipeline()
    """)
    assert spec.dag_id == "decorated" and spec.doc_md == "Pipeline docs."
    assert spec.params["limit"].default.number_value == 10
    assert spec.tasks[0].doc_md == "Task docs."


def test_task_options_override_and_callbacks(tmp_path):
    spec = compile_source(tmp_path, """
        from datetime import timedelta
        from airflow.sdk import DAG, task
        from airflow.utils.trigger_rule import TriggerRule

        def cb(context):
            pass

        @task(task_id="custom", retries=4, retry_delay=15, trigger_rule=TriggerRule.NONE_FAILED,
              on_success_callback=cb, on_retry_callback=[cb], max_active_tis_per_dag=2, do_xcom_push=False,
              pool_slots=2, task_display_name="Pretty")
        def f():
            pass

        with DAG("opts"):
            f()
            f.override(task_id="other", retries=1)()
    """)
    by_id = tasks(spec)
    custom = by_id["custom"]
    assert (custom.retries, custom.retry_delay.seconds, custom.trigger_rule) == (4, 15, states_pb2.TRIGGER_RULE_NONE_FAILED)
    assert custom.callbacks.on_success and custom.callbacks.on_retry and not custom.callbacks.on_failure
    assert (custom.max_active_tis_per_dag, custom.do_xcom_push, custom.pool_slots, custom.display_name) == (2, False, 2, "Pretty")
    assert by_id["other"].retries == 1


def test_cycle_is_named(tmp_path):
    with pytest.raises(DagCompileError, match=r"has a cycle: a -> b -> c -> a"):
        compile_source(tmp_path, """
            from airflow.sdk import DAG
            from airflow.providers.standard.operators.empty import EmptyOperator as E
            with DAG("cyc"):
                a, b, c = E(task_id="a"), E(task_id="b"), E(task_id="c")
                a >> b >> c >> a
        """)


def test_decorated_call_signature_is_checked(tmp_path):
    with pytest.raises(DagCompileError) as err:
        compile_source(tmp_path, """
            from airflow.sdk import DAG, task

            @task
            def needs(a, b, ti=None):
                pass

            with DAG("sig"):
                needs(1)
        """)
    assert err.value.line == 9 and "task 'needs'" in err.value.message and "'b'" in err.value.message


def test_overrides_respect_author_settings(tmp_path):
    overrides = {"owner": "team", "defaults": {"retries": 5, "execution_timeout_seconds": 60},
                 "tasks": {"pinned": {"retries": 9, "env": {"A": "1"}, "resources": {"requests": {"cpu": "1"}}}}}
    spec = compile_source(tmp_path, """
        from airflow.sdk import DAG, task

        @task
        def free():
            pass

        @task(retries=1, owner="me")
        def mine():
            pass

        @task(retries=1)
        def pinned():
            pass

        with DAG("ov"):
            free(); mine(); pinned()
    """, overrides=overrides)
    by_id = tasks(spec)
    assert (by_id["free"].retries, by_id["free"].execution_timeout.seconds, by_id["free"].owner) == (5, 60, "team")
    assert (by_id["mine"].retries, by_id["mine"].owner) == (1, "me")
    assert by_id["pinned"].retries == 9 and dict(by_id["pinned"].env) == {"A": "1"}
    assert dict(by_id["pinned"].execution.resource_requests) == {"cpu": "1"}


def test_several_dags_need_a_choice(tmp_path):
    source = """
        from airflow.sdk import DAG
        with DAG("one"):
            pass
        with DAG("two"):
            pass
    """
    with pytest.raises(DagCompileError, match="defines 2 DAGs"):
        compile_source(tmp_path, source)
    assert compile_source(tmp_path, source, dag_id="two").dag_id == "two"


# Airflow 3's BaseOperator: depends_on_past False, ignore_first_depends_on_past True,
# wait_for_downstream False; wait_for_downstream=True sets depends_on_past (both from
# the task's arguments or from default_args).
@pytest.mark.parametrize(("arguments", "default_args", "expected"), [
    ("", {}, (False, None, False)),
    ("depends_on_past=True", {}, (True, True, False)),
    ("depends_on_past=True, ignore_first_depends_on_past=False", {}, (True, False, False)),
    ("wait_for_downstream=True", {}, (True, True, True)),
    ("", {"depends_on_past": True, "ignore_first_depends_on_past": False}, (True, False, False)),
    ("depends_on_past=False", {"depends_on_past": True}, (False, None, False)),
])
def test_depends_on_past_and_wait_for_downstream(tmp_path, arguments, default_args, expected):
    spec = compile_source(tmp_path, f"""
        from airflow.sdk import DAG
        from airflow.providers.standard.operators.bash import BashOperator
        with DAG("past", default_args={default_args!r}):
            BashOperator(task_id="t", bash_command="true", {arguments})
    """)
    t = tasks(spec)["t"]
    ignore_first = t.ignore_first_depends_on_past if t.HasField("ignore_first_depends_on_past") else None
    assert (t.depends_on_past, ignore_first, t.wait_for_downstream) == expected
