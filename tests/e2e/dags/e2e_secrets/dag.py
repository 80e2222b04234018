from airflow.sdk import DAG, Variable, task
from airflow.hooks.base import BaseHook


@task
def use_secrets():
    region = Variable.get("e2e_region")
    conn = BaseHook.get_connection("e2e_warehouse")
    print(f"region={region}")
    print(f"password={conn.password}")
    print(f"host={conn.host} login={conn.login} port={conn.port} sslmode={conn.extra_dejson['sslmode']}")
    return {"region": region, "host": conn.host, "password_length": len(conn.password)}


with DAG("e2e_secrets", schedule=None):
    use_secrets()
