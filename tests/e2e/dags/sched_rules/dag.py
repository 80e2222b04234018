from airflow.sdk import DAG, task
from airflow.providers.standard.operators.empty import EmptyOperator


@task
def ok():
    return "ok"


@task
def boom():
    raise ValueError("boom")


@task.branch
def pick():
    return "taken"


@task(trigger_rule="one_failed")
def alert():
    return "alerted"


@task(trigger_rule="all_done")
def cleanup():
    return "cleaned"


@task(trigger_rule="none_failed_min_one_success")
def join():
    return "joined"


with DAG("sched_rules", schedule=None, default_args={"retries": 0}):
    good, bad = ok(), boom()
    [good, bad] >> alert()
    [good, bad] >> cleanup()
    chosen = pick()
    taken, not_taken = EmptyOperator(task_id="taken"), EmptyOperator(task_id="not_taken")
    chosen >> [taken, not_taken] >> join()
