"""Variables and connections, end to end in Lite and in the stack: created through
the REST API (stored encrypted, read back masked), delivered to a task's process
by the agent, readable there with Airflow's Variable.get and
BaseHook.get_connection, and masked in the task's log."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.e2e.driver import LEOFLOW_CLI

pytestmark = pytest.mark.e2e

PASSWORD = "e2e-Pa55word-never-logged"


async def test_a_task_reads_a_variable_and_a_connection_and_its_log_masks_the_password(deployment, compiled):
    # Given a variable and a connection created through the REST API
    await deployment.request("DELETE", "/api/v2/variables/e2e_region", expect=(204, 404))
    await deployment.request("DELETE", "/api/v2/connections/e2e_warehouse", expect=(204, 404))
    await deployment.request("POST", "/api/v2/variables", json={"key": "e2e_region", "value": "eu-west-1"}, expect=201)
    connection = {
        "connection_id": "e2e_warehouse", "conn_type": "postgres", "host": "db.internal", "login": "etl",
        "port": 5432, "password": PASSWORD, "extra": json.dumps({"sslmode": "require"}),
    }  # fmt: skip
    created = (await deployment.request("POST", "/api/v2/connections", json=connection, expect=201)).json()
    assert created["password"] == "***"
    read_back = (await deployment.request("GET", "/api/v2/connections/e2e_warehouse")).json()
    assert read_back["password"] == "***" and PASSWORD not in json.dumps(read_back)

    # When a DAG's task reads them
    run, states = await deployment.run_dag(compiled("e2e_secrets"))

    # Then the run succeeds, the task saw the real values, and its log shows the
    # variable but never the password
    log = "\n".join(await deployment.log_events("e2e_secrets", run["dag_run_id"], "use_secrets"))
    assert run["state"] == "success", (states, log)
    result = await deployment.xcom("e2e_secrets", run["dag_run_id"], "use_secrets")
    assert result == {"region": "eu-west-1", "host": "db.internal", "password_length": len(PASSWORD)}
    assert "region=eu-west-1" in log
    assert "password=***" in log
    assert "host=db.internal login=etl port=5432 sslmode=require" in log
    assert PASSWORD not in log

    # And the event log recorded who created them, without the secret
    events = (await deployment.request("GET", "/api/v2/eventLogs", params={"event_pattern": "_connection|_variable", "order_by": "-when"})).json()
    recorded = {e["event"] for e in events["event_logs"]}
    assert {"post_variable", "post_connection"} <= recorded
    assert all(e["owner"] == "admin" for e in events["event_logs"] if e["event"] in ("post_variable", "post_connection"))
    assert PASSWORD not in json.dumps(events)


def cli(deployment, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "LEOFLOW_SERVER": deployment.base_url, "LEOFLOW_TOKEN": deployment.token}
    return subprocess.run([str(LEOFLOW_CLI), *args], env=env, input=stdin, capture_output=True, text=True, timeout=60)


async def test_the_cli_manages_variables_and_connections(deployment, tmp_path):
    # Variables: set (create, then update), get, list, import, delete.
    assert cli(deployment, "variables", "set", "cli_var", "one", "--description", "from the CLI").returncode == 0
    assert cli(deployment, "variables", "set", "cli_var", "two").returncode == 0
    assert cli(deployment, "variables", "get", "cli_var").stdout.strip() == "two"
    assert cli(deployment, "variables", "set", "cli_token", PASSWORD).returncode == 0
    assert cli(deployment, "variables", "get", "cli_token").stdout.strip() == "***"
    (tmp_path / "vars.json").write_text(json.dumps({"cli_a": "x", "cli_b": {"nested": True}}))
    imported = cli(deployment, "variables", "import", str(tmp_path / "vars.json"))
    assert imported.returncode == 0 and "imported 2 of 2" in imported.stdout
    listed = json.loads(cli(deployment, "variables", "list", "--pattern", "cli_", "--json").stdout)
    assert {v["key"]: v["value"] for v in listed["variables"]} == {
        "cli_a": "x", "cli_b": '{"nested": true}', "cli_token": "***", "cli_var": "two",
    }  # fmt: skip
    assert cli(deployment, "variables", "delete", "cli_a").returncode == 0
    missing = cli(deployment, "variables", "get", "cli_a")
    assert missing.returncode == 2 and "404" in missing.stderr

    # Connections: add from a URI with the password on stdin, get (masked), delete.
    uri = "postgres://etl@db.internal:5432/warehouse?sslmode=require"
    added = cli(deployment, "connections", "add", "cli_conn", "--conn-uri", uri, "--conn-password", "-", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    shown = json.loads(cli(deployment, "connections", "get", "cli_conn").stdout)
    assert (shown["conn_type"], shown["host"], shown["login"], shown["port"], shown["schema"]) == (
        "postgres", "db.internal", "etl", 5432, "warehouse",
    )  # fmt: skip
    assert shown["password"] == "***" and json.loads(shown["extra"]) == {"sslmode": "require"}
    duplicate = cli(deployment, "connections", "add", "cli_conn", "--conn-type", "http")
    assert duplicate.returncode == 2 and "409" in duplicate.stderr
    assert cli(deployment, "connections", "delete", "cli_conn").returncode == 0
    for key in ("cli_var", "cli_token", "cli_b"):
        cli(deployment, "variables", "delete", key)
