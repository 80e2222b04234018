"""Variables and connections in the task's process: the environment the agent
builds (AIRFLOW_VAR_* / AIRFLOW_CONN_* in Airflow's formats) and the masking of
secret values in everything it ships (log lines, error messages)."""

from __future__ import annotations

import json

from leoflow_agent.task_secrets import MASK, SecretMasker, build_task_secrets, connection_json
from leoflow_proto.dispatcher.v1 import agent_pb2
from leoflow_proto.scheduler.v1 import metadata_pb2


def delivered() -> agent_pb2.GetTaskSecretsResponse:
    connection = metadata_pb2.TaskConnection(
        connection_id="warehouse", conn_type="postgres", host="db.internal", login="etl", port=5432,
        password="p@ss/word-1", extra=json.dumps({"sslmode": "require", "api_key": "key-123456"}),
        secret_values=["p@ss/word-1", "key-123456"],
    )  # fmt: skip
    return agent_pb2.GetTaskSecretsResponse(
        variables=[
            metadata_pb2.TaskVariable(key="region", value="eu-west-1"),
            metadata_pb2.TaskVariable(key="db_password", value="hunter2!", sensitive=True, secret_values=["hunter2!"]),
            metadata_pb2.TaskVariable(key="bad=key", value="x"),
            metadata_pb2.TaskVariable(key="huge", value="x" * 200_000),
        ],
        connections=[connection],
    )


def test_environment_in_airflows_formats():
    secrets = build_task_secrets(delivered())
    assert secrets.env["AIRFLOW_VAR_REGION"] == "eu-west-1"
    assert secrets.env["AIRFLOW_VAR_DB_PASSWORD"] == "hunter2!"
    assert json.loads(secrets.env["AIRFLOW_CONN_WAREHOUSE"]) == {
        "conn_type": "postgres", "host": "db.internal", "login": "etl", "password": "p@ss/word-1", "port": 5432,
        "extra": {"sslmode": "require", "api_key": "key-123456"},
    }  # fmt: skip
    # No environment can carry these: reported by name, never delivered.
    assert secrets.skipped == ["AIRFLOW_VAR_bad=key", "AIRFLOW_VAR_huge"]
    assert "AIRFLOW_VAR_HUGE" not in secrets.env
    minimal = metadata_pb2.TaskConnection(connection_id="c", conn_type="http")
    assert json.loads(connection_json(minimal)) == {"conn_type": "http"}


def test_masker_hides_every_secret_and_its_uri_form():
    masker = build_task_secrets(delivered()).masker
    line = "connecting with p@ss/word-1 (postgres://etl:p%40ss%2Fword-1@db) key-123456 hunter2! eu-west-1"
    assert masker.mask(line) == f"connecting with {MASK} (postgres://etl:{MASK}@db) {MASK} {MASK} eu-west-1"
    assert masker.mask_value({"a": ["hunter2!", 3], "b": "ok"}) == {"a": [MASK, 3], "b": "ok"}


def test_masker_follows_airflows_limits():
    masker = SecretMasker(["abcd", "airflow", "longer-secret", "longer"])
    # Shorter than 5 characters and the word "airflow" are never masked (as in Airflow);
    # the longest secret wins where two overlap.
    assert masker.mask("abcd airflow longer-secret longer") == f"abcd airflow {MASK} {MASK}"
    assert not SecretMasker([]) and SecretMasker(["12345"])
