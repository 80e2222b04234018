"""Branching, short-circuiting and the skip / fail exceptions, end to end."""

from datetime import timedelta

from airflow.sdk import DAG, task
from airflow.exceptions import AirflowFailException, AirflowSkipException
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import BranchPythonOperator


@task.branch
def pick():
    return "chosen"


@task
def chosen():
    return "ran"


@task
def not_chosen():
    return "should not run"


@task.short_circuit
def gate_closed():
    return False


@task.short_circuit(ignore_downstream_trigger_rules=False)
def soft_gate():
    return 0


@task
def skip_me():
    raise AirflowSkipException("nothing to do today")


@task(retries=2, retry_delay=timedelta(seconds=0))
def fail_hard():
    raise AirflowFailException("bad input: never retried")


with DAG("rt_branching", schedule=None):
    join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
    pick() >> [chosen(), not_chosen()] >> join

    many = BranchPythonOperator(task_id="pick_many", python_callable=lambda: ["b1", "b2"])
    many >> [EmptyOperator(task_id="b1"), EmptyOperator(task_id="b2"), EmptyOperator(task_id="b3")]

    gate_closed() >> EmptyOperator(task_id="after_gate") >> EmptyOperator(task_id="after_after_gate", trigger_rule="all_done")

    soft_gate() >> EmptyOperator(task_id="soft_direct") >> EmptyOperator(task_id="soft_all_done", trigger_rule="all_done")

    skip_me() >> EmptyOperator(task_id="after_skip")

    fail_hard()
