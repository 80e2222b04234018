from airflow.sdk import DAG, Param, task


@task
def greet(params=None):
    return f"hello {params['name']} x{params['times']}"


with DAG(
    "sched_params",
    schedule=None,
    params={"name": Param("world", type="string"), "times": Param(1, type="integer", minimum=1)},
):
    greet()
