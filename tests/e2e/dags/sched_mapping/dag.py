from airflow.sdk import DAG, task


@task
def numbers():
    return [1, 2, 3, 4]


@task
def double(x):
    return 2 * x


@task
def shout(word):
    return word.upper()


@task
def total(values):
    return sum(values)


@task
def join(words):
    return "-".join(words)


with DAG("sched_mapping", schedule=None):
    total(double.expand(x=numbers()))
    join(shout.expand(word=["a", "b", "c"]))
