import time

from airflow.sdk import DAG, task


@task(pool="e2e_one_slot")
def slow(n):
    start = time.time()
    time.sleep(1)
    return n


with DAG("sched_pool", schedule=None):
    for i in range(3):
        slow.override(task_id=f"slow_{i}")(i)
