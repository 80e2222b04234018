"""Templating with Airflow's context: bash and python template fields, params,
dag_run.conf, user-defined macros, native rendering and a template file."""

from airflow.sdk import DAG, get_current_context, task
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.python import PythonOperator


def report(day, label, templates_dict, params, **context):
    return {"day": day, "label": label, "query": templates_dict["query"], "x": params["x"]}


@task
def context_view(**context):
    current = get_current_context()
    return {
        "same_ti": current["ti"] is context["ti"],
        "ds": context["ds"],
        "ts_nodash": context["ts_nodash"],
        "run_id": context["run_id"] == context["dag_run"].run_id,
        "conf": context["dag_run"].conf,
        "params": dict(context["params"]),
        "macro": context["macros"].ds_add(context["ds"], 1),
        "logical_date_year": context["logical_date"].year,
    }


with DAG(
    "rt_templating",
    schedule=None,
    params={"x": 7, "label": "default label"},
    user_defined_macros={"team": "data-eng"},
):
    bash = BashOperator(
        task_id="bash_templated",
        bash_command="echo {{ ds }} {{ params.x }} {{ dag_run.conf.get('who', 'nobody') }} {{ team }} $RUN_ID_ENV",
        env={"RUN_ID_ENV": "{{ run_id }}"},
        append_env=True,
    )
    from_file = BashOperator(task_id="bash_from_file", bash_command="scripts/report.sh")
    python = PythonOperator(
        task_id="python_templated",
        python_callable=report,
        op_kwargs={"day": "{{ ds_nodash }}", "label": "{{ params.label }}"},
        templates_dict={"query": "select * from t where x = {{ params.x }}"},
    )
    bash >> from_file >> python >> context_view()
