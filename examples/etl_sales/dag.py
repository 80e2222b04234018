"""Daily sales ETL: the seed post's example, without the network call.

fetch() generates the day's orders deterministically (seeded by the run's logical date),
transform() adds 10% tax, load() reports the total.
"""

from airflow.sdk import DAG, task


@task
def fetch(ds=None) -> list[dict]:
    import random

    rng = random.Random(ds or "no-date")
    return [{"id": i, "amount": round(rng.uniform(5, 500), 2)} for i in range(1, 21)]


@task
def transform(orders: list[dict]) -> list[dict]:
    return [{"id": o["id"], "value": round(o["amount"] * 1.1, 2)} for o in orders]


@task
def load(rows: list[dict]) -> float:
    total = round(sum(r["value"] for r in rows), 2)
    print(f"loaded {len(rows)} orders, total {total}")
    return total


with DAG("etl_sales", schedule="0 5 * * *", catchup=False):
    load(transform(fetch()))
