"""The seed's map-reduce, instrumented: select_best also returns what it received."""
from airflow.sdk import DAG, task

LRS = [0.001, 0.01, 0.05, 0.1, 0.5]


@task
def trial(lr: float) -> dict:
    print(f"training with lr={lr}")
    return {"lr": lr, "score": round(1 - abs(lr - 0.05), 6)}


@task
def select_best(trials: list[dict]) -> dict:
    best = max(trials, key=lambda r: r["score"])
    return {"best": best, "received": trials}


with DAG("e2e_hparam", schedule=None):
    select_best([trial(lr) for lr in LRS])
