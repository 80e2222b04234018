"""Template rendering with the DAG's Jinja environment (airflow._shim.templater), as
tables of Airflow 3.2's rules: what is rendered, against which context, with which
environment settings, and which values never are (upstream XCom data)."""

from __future__ import annotations

import jinja2
import pytest
from airflow._shim.context import build_context
from airflow._shim.dag import DAG
from airflow._shim.operators import BashOperator, PythonOperator
from airflow._shim.templater import Templater, literal_mask, render_by_mask
from airflow._shim.xcom_arg import XComArg
from leoflow_agent.context import context_document
from leoflow_agent.testing import build_execution


def context_for(task=None, **execution_options):
    execution = build_execution(params={"who": "ops", "n": 3}, conf={"region": "eu"}, **execution_options)
    return build_context(context_document(execution), task=task)


def make_task(**dag_options):
    with DAG("demo", **dag_options):
        return BashOperator(task_id="task", bash_command="echo")


@pytest.mark.parametrize(
    "template, expected",
    [
        ("plain text, no markup", "plain text, no markup"),
        ("{{ ds }}/{{ params.who }}", "2024-01-02/ops"),
        ("{{ dag_run.conf['region'] }} {{ dag_run.conf.region }}", "eu eu"),
        ("{{ ti.task_id }} {{ task_instance.try_number }} {{ run_id }}", "task 1 manual__2024-01-02T03:04:05+00:00"),
        ("{{ task.task_id }} {{ dag.dag_id }}", "task demo"),
        ("{{ ts_nodash }} {{ logical_date.year }} {{ data_interval_end is none }}", "20240102T030405 2024 True"),
        ("{% for i in range(3) %}{{ i }}{% endfor %}", "012"),
        ("{% set xs = [] %}{% do xs.append(1) %}{{ xs }}", "[1]"),  # jinja2.ext.do, as Airflow enables
        ("{{ macros.ds_format(ds, '%Y-%m-%d', '%d/%m/%Y') }} {{ macros.ds_add(ds, -2) }}", "02/01/2024 2023-12-31"),
        ("{{ (macros.datetime(2024, 1, 1) + macros.timedelta(days=1)).day }}", "2"),
        ("{{ params.n * 2 }}", "6"),
    ],
)
def test_strings_render_against_airflows_context(template, expected):
    task = make_task()
    assert Templater(context_for(task), task=task).render(template) == expected


def test_containers_render_inside_and_keep_their_shape():
    task = make_task()
    templater = Templater(context_for(task), task=task)
    value = {"day": "{{ ds }}", "list": ["{{ params.who }}", 1, None], "tuple": ("{{ ds_nodash }}",), "set": {"{{ params.n }}"}}
    assert templater.render(value) == {"day": "2024-01-02", "list": ["ops", 1, None], "tuple": ("20240102",), "set": {"3"}}


def test_native_rendering_keeps_python_types():
    """render_template_as_native_obj (DAG, or the task's own setting, which wins)."""
    native = make_task(render_template_as_native_obj=True)
    assert Templater(context_for(native), task=native).render("{{ params.n }}") == 3
    assert Templater(context_for(native), task=native).render("{{ [params.n, params.who] }}") == [3, "ops"]
    plain = make_task()
    assert Templater(context_for(plain), task=plain).render("{{ params.n }}") == "3"
    with DAG("demo2", render_template_as_native_obj=True):
        overridden = BashOperator(task_id="task", bash_command="echo", render_template_as_native_obj=False)
    assert Templater(context_for(overridden), task=overridden).render("{{ params.n }}") == "3"


def test_undefined_names_fail_by_default_and_render_empty_with_jinja2_undefined():
    strict = make_task()
    with pytest.raises(jinja2.UndefinedError, match="'nope' is undefined"):
        Templater(context_for(strict), task=strict).render("{{ nope }}")
    lenient = make_task(template_undefined=jinja2.Undefined)
    assert Templater(context_for(lenient), task=lenient).render("[{{ nope }}]") == "[]"


def test_user_defined_macros_filters_and_environment_options():
    task = make_task(
        user_defined_macros={"team": "data", "shout": lambda s: s.upper()},
        user_defined_filters={"twice": lambda s: s * 2},
        jinja_environment_kwargs={"trim_blocks": True},
    )
    templater = Templater(context_for(task), task=task)
    assert templater.render("{{ team }} {{ shout('hi') }} {{ 'ab' | twice }}") == "data HI abab"
    assert templater.render("{% if true %}\nyes{% endif %}") == "yes"


def test_template_files_are_found_next_to_the_dag_and_on_template_searchpath(tmp_path):
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "run.sh").write_text("echo {{ params.who }} {% include 'common.sh' %}")
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "common.sh").write_text("shared {{ ds }}")
    task = make_task(template_searchpath=[str(tmp_path / "extra")])
    task.dag.fileloc = str(tmp_path / "dag.py")
    templater = Templater(context_for(task), task=task)
    assert templater.render("scripts/run.sh") == "echo ops shared 2024-01-02"
    with pytest.raises(jinja2.TemplateNotFound):
        templater.render("scripts/missing.sh")
    # Only the operator's template_ext make a string a file name.
    assert templater.render("scripts/run.py") == "scripts/run.py"


def test_objects_with_template_fields_render_in_place():
    class Query:
        template_fields = ("sql",)

        def __init__(self, sql):
            self.sql = sql

    task = make_task()
    query = Query("select '{{ ds }}'")
    assert Templater(context_for(task), task=task).render([query])[0].sql == "select '2024-01-02'"


def test_render_fields_skips_falsy_values_and_the_fields_it_is_told_to():
    task = make_task()
    task.bash_command, task.env, task.cwd = "echo {{ ds }}", {"A": "{{ params.who }}"}, ""
    Templater(context_for(task), task=task).render_fields(task, task.template_fields, skip=lambda name: name == "env")
    assert (task.bash_command, task.env, task.cwd) == ("echo 2024-01-02", {"A": "{{ params.who }}"}, "")


def test_resolved_arguments_render_only_where_the_mask_says_the_author_wrote_literals():
    task = make_task()
    templater = Templater(context_for(task), task=task)
    resolved = ["{{ ds }}", "{{ from upstream }}", {"day": "{{ ds }}", "data": {"raw": "{{ x }}"}}, ["{{ params.who }}"]]
    mask = [True, False, {"day": True, "data": False}, [True]]
    assert render_by_mask(resolved, mask, templater) == [
        "2024-01-02",
        "{{ from upstream }}",  # upstream data is never a template
        {"day": "2024-01-02", "data": {"raw": "{{ x }}"}},
        ["ops"],
    ]
    # a value whose shape does not match its mask is left alone
    assert render_by_mask(["{{ ds }}"], [True, True], templater) == ["{{ ds }}"]


def test_the_mask_of_an_authored_argument():
    with DAG("demo"):
        upstream = PythonOperator(task_id="up", python_callable=lambda: None)
    assert literal_mask(["{{ ds }}", XComArg(upstream), {"a": XComArg(upstream), "b": 1}, ("x",)]) == [
        True, False, {"a": False, "b": True}, [True],
    ]


def test_xcom_args_in_template_fields_are_resolved_through_the_task_instance():
    class Transport:
        def get_all(self, task_id, key):
            return [{"task": task_id, "key": key}]

    with DAG("demo"):
        upstream = PythonOperator(task_id="up", python_callable=lambda: None)
    task = make_task()
    context = build_context(context_document(build_execution()), task=task, xcom=Transport())
    assert Templater(context, task=task).render({"v": XComArg(upstream)["rows"]}) == {"v": {"task": "up", "key": "rows"}}
