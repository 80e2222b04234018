echo "file says {{ params.x * 2 }} for {{ dag_run.conf.who }}"
