"""The browser test's DAG: a bash task, then a task group where three tasks double
a number each and a last one adds them up (a fan-in list), so the grid and graph
show a group, and the XCom and log tabs have something to show."""

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, TaskGroup, task


@task
def double(x: int) -> int:
    return 2 * x


@task
def total(values: list[int]) -> int:
    result = sum(values)
    print(f"total of the doubled numbers: {result}")
    return result


with DAG("e2e_ui", schedule=None, params={"count": 3}, tags=["e2e", "ui"]):
    hello = BashOperator(task_id="hello", bash_command="echo 'hello from the UI test'")
    with TaskGroup("stats") as stats:
        total([double(x) for x in (1, 2, 3)])
    hello >> stats
