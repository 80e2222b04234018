from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG
from airflow.providers.standard.operators.bash import BashOperator

# Three days back at midnight UTC (fixed when the DAG is compiled): with catchup
# the scheduler creates one run per day since then, today's included.
START = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)

with DAG("sched_cron", schedule="@daily", start_date=START, catchup=True, max_active_runs=2):
    BashOperator(task_id="hello", bash_command="echo {{ ds }}")
