"""Mapped tasks: over an upstream list (partial kwargs, map_index_template, fan-in as a
list in map_index order, and through ti.xcom_pull), expand_kwargs, and a classic
BashOperator mapped over a literal list."""

from airflow.sdk import DAG, get_current_context, task
from airflow.providers.standard.operators.bash import BashOperator


@task
def make_list():
    return [1, 2, 3]


@task(map_index_template="{{ label }}")
def square(x, offset):
    get_current_context()["label"] = f"x={x}"
    return x * x + offset


@task
def total(values):
    return {"values": values, "sum": sum(values)}


@task
def pull_all(ti=None):
    return ti.xcom_pull(task_ids="square")


@task
def configs():
    return [{"a": 1, "b": "one"}, {"a": 2, "b": "two"}]


@task
def use(a, b):
    return f"{b}:{a}"


with DAG("rt_mapping", schedule=None):
    squares = square.partial(offset=100).expand(x=make_list())
    total(squares)
    squares >> pull_all()
    use.expand_kwargs(configs())
    BashOperator.partial(task_id="echo_each").expand(bash_command=["echo one {{ ti.map_index }}", "echo two {{ ti.map_index }}"])
