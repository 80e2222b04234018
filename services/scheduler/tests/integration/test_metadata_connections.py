"""Connections through ConnectionService and TaskSecretsService against a real
scheduler and PostgreSQL: secrets encrypted at rest and never returned, "***"
sent back keeps them, reads work without the key while writes refuse, bulk, audit
masking, tenants and roles, and the decrypted delivery for tasks (services only)."""

from __future__ import annotations

import json

import grpc
import pytest
from leoflow_common.auth import TokenCodec
from leoflow_common.grpc import client_channel, static_token
from leoflow_proto.scheduler.v1 import metadata_pb2 as m
from leoflow_proto.scheduler.v1 import metadata_pb2_grpc

SECRET_KEY = "ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8="  # base64 of 32 bytes


class Meta:
    def __init__(self, scheduler):
        self.scheduler = scheduler
        self.codec = TokenCodec(scheduler.app.settings.security.jwt_secret.get_secret_value())

    def _channel(self, token: str):
        channel = client_channel(f"127.0.0.1:{self.scheduler.app.grpc_port}", static_token(token))
        self.scheduler._channels.append(channel)
        return channel

    def user(self, role: str = "Op", *, username: str = "olivia", tenant: str = "default"):
        return metadata_pb2_grpc.ConnectionServiceStub(self._channel(self.codec.mint_user(username, tenant, [role])))

    def task_secrets(self, token: str):
        return metadata_pb2_grpc.TaskSecretsServiceStub(self._channel(token))

    async def raw(self, sql: str, *args):
        async with self.scheduler.app.ctx.pool.acquire() as conn:
            return await conn.fetch(sql, *args)


@pytest.fixture
async def meta(make_scheduler, monkeypatch) -> Meta:
    monkeypatch.setenv("LEOFLOW_SECRET_KEY", SECRET_KEY)
    return Meta(await make_scheduler(listen=False))


def conn_body(connection_id: str = "warehouse", **fields) -> m.ConnectionBody:
    values = {"conn_type": "postgres", "host": "db.internal", "login": "etl", "port": 5432,
              "password": "s3cr3t-pass", "extra": json.dumps({"sslmode": "require", "private_key": "PEM-DATA"})}  # fmt: skip
    values.update(fields)
    return m.ConnectionBody(connection_id=connection_id, **{k: v for k, v in values.items() if v is not None})


async def expect_error(call, code: grpc.StatusCode) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await call
    assert exc.value.code() == code, exc.value.details()
    return exc.value.details()


async def test_secrets_are_encrypted_and_never_read_back(meta):
    op = meta.user()
    created = (await op.CreateConnection(m.CreateConnectionRequest(connection=conn_body()))).connection
    assert (created.connection_id, created.conn_type, created.host, created.login, created.port) == (
        "warehouse", "postgres", "db.internal", "etl", 5432,
    )  # fmt: skip
    assert created.password == "***"
    assert json.loads(created.extra) == {"sslmode": "require", "private_key": "***"}
    assert not created.HasField("schema") and not created.HasField("description")
    row = (await meta.raw("SELECT * FROM connections"))[0]
    assert row["password_enc"].startswith("v1:") and row["extra_enc"].startswith("v1:")
    flat = json.dumps({k: str(v) for k, v in dict(row).items()})
    assert "s3cr3t-pass" not in flat and "PEM-DATA" not in flat
    got = (await op.GetConnection(m.GetConnectionRequest(connection_id="warehouse"))).connection
    assert got == created
    listed = (await op.ListConnections(m.ListConnectionsRequest())).connections
    assert list(listed) == [created]
    assert await expect_error(op.CreateConnection(m.CreateConnectionRequest(connection=conn_body())), grpc.StatusCode.ALREADY_EXISTS) == (
        "The Connection with connection_id: `warehouse` already exists"
    )
    audit = [r["extra"] for r in await meta.raw("SELECT extra FROM audit_log WHERE event = 'post_connection'")]
    assert len(audit) == 1 and "s3cr3t-pass" not in audit[0] and "PEM-DATA" not in audit[0]


async def test_masked_values_sent_back_keep_the_stored_secrets(meta):
    op = meta.user()
    await op.CreateConnection(m.CreateConnectionRequest(connection=conn_body()))
    # What the UI does: read (masked), edit the host, send everything back.
    edited = conn_body(host="db2.internal", password="***", extra=json.dumps({"sslmode": "verify-full", "private_key": "***"}))
    await op.UpdateConnection(m.UpdateConnectionRequest(connection_id="warehouse", connection=edited))
    # Leaving the password out (update_mask without it) keeps it too.
    await op.UpdateConnection(
        m.UpdateConnectionRequest(connection_id="warehouse", connection=conn_body(port=6543), update_mask=["port"])
    )
    secrets = await meta.task_secrets(meta.codec.mint_service("dispatcher")).GetTaskSecrets(m.GetTaskSecretsRequest(tenant_id="default"))
    (conn,) = secrets.connections
    assert (conn.host, conn.port, conn.password) == ("db2.internal", 6543, "s3cr3t-pass")
    assert json.loads(conn.extra) == {"sslmode": "verify-full", "private_key": "PEM-DATA"}
    assert sorted(conn.secret_values) == ["PEM-DATA", "s3cr3t-pass"]
    # A new password replaces it; null (unset, named in the mask) removes it.
    await op.UpdateConnection(m.UpdateConnectionRequest(connection_id="warehouse", connection=conn_body(password="n3w-pass")))
    secrets = await meta.task_secrets(meta.codec.mint_service("dispatcher")).GetTaskSecrets(m.GetTaskSecretsRequest(tenant_id="default"))
    assert secrets.connections[0].password == "n3w-pass"
    cleared = (
        await op.UpdateConnection(
            m.UpdateConnectionRequest(connection_id="warehouse", connection=conn_body(password=None), update_mask=["password"])
        )
    ).connection
    assert not cleared.HasField("password")
    mismatch = m.UpdateConnectionRequest(connection_id="warehouse", connection=conn_body("elsewhere"))
    assert await expect_error(op.UpdateConnection(mismatch), grpc.StatusCode.INVALID_ARGUMENT) == (
        "The connection_id in the request body does not match the URL parameter"
    )
    missing = m.UpdateConnectionRequest(connection_id="ghost", connection=conn_body("ghost"))
    assert "was not found" in await expect_error(op.UpdateConnection(missing), grpc.StatusCode.NOT_FOUND)


async def test_bad_input_is_refused_with_the_field(meta):
    op = meta.user()
    for body, expected in (
        (conn_body("bad id!"), "connection_id must be"),
        (conn_body(extra="not json"), "must be a valid JSON object"),
        (conn_body(extra="[1, 2]"), "must be a valid JSON object"),
        (conn_body(team_name="blue"), "multi_team"),
    ):
        assert expected in await expect_error(op.CreateConnection(m.CreateConnectionRequest(connection=body)), grpc.StatusCode.INVALID_ARGUMENT)
    empty_extra = (await op.CreateConnection(m.CreateConnectionRequest(connection=conn_body("e", extra="")))).connection
    assert empty_extra.extra == "{}"  # Airflow treats "" as {}


async def test_bulk_and_delete(meta):
    op = meta.user()
    answer = await op.BulkConnections(
        m.BulkConnectionsRequest(
            actions=[
                m.BulkConnectionAction(kind=m.BULK_ACTION_KIND_CREATE, entities=[conn_body("a"), conn_body("b")]),
                m.BulkConnectionAction(kind=m.BULK_ACTION_KIND_CREATE, entities=[conn_body("a")]),
                m.BulkConnectionAction(
                    kind=m.BULK_ACTION_KIND_UPDATE, entities=[conn_body("a", host="new-host", password="***")],
                    update_masks=[m.UpdateMask(fields=["host", "password"])],
                ),
                m.BulkConnectionAction(kind=m.BULK_ACTION_KIND_DELETE, entities=[m.ConnectionBody(connection_id="b"), m.ConnectionBody(connection_id="zz")]),
            ]
        )
    )  # fmt: skip
    outcome = [(list(r.success), [(e.error, e.status_code) for e in r.errors]) for r in answer.results]
    assert outcome == [
        (["a", "b"], []),
        ([], [("The connections with these connection_ids: {'a'} already exist.", 409)]),
        (["a"], []),
        ([], [("The connections with these connection_ids: {'zz'} were not found.", 404)]),
    ]
    ids = [c.connection_id for c in (await op.ListConnections(m.ListConnectionsRequest())).connections]
    assert ids == ["a", "b"]
    service = meta.task_secrets(meta.codec.mint_service("dispatcher"))
    by_id = {c.connection_id: c for c in (await service.GetTaskSecrets(m.GetTaskSecretsRequest(tenant_id="default"))).connections}
    assert (by_id["a"].host, by_id["a"].password) == ("new-host", "s3cr3t-pass")
    await op.DeleteConnection(m.DeleteConnectionRequest(connection_id="b"))
    await expect_error(op.DeleteConnection(m.DeleteConnectionRequest(connection_id="b")), grpc.StatusCode.NOT_FOUND)
    events = [r["event"] for r in await meta.raw("SELECT event FROM audit_log ORDER BY id")]
    assert events == ["bulk_connections", "delete_connection"]


async def test_task_secrets_are_for_services_only_and_per_tenant(meta):
    op = meta.user()
    await op.CreateConnection(m.CreateConnectionRequest(connection=conn_body()))
    await meta.user(tenant="other").CreateConnection(m.CreateConnectionRequest(connection=conn_body("theirs")))
    for role in ("Admin", "Op"):
        stub = meta.task_secrets(meta.codec.mint_user("root", "default", [role]))
        await expect_error(stub.GetTaskSecrets(m.GetTaskSecretsRequest(tenant_id="default")), grpc.StatusCode.PERMISSION_DENIED)
    service = meta.task_secrets(meta.codec.mint_service("dispatcher"))
    mine = await service.GetTaskSecrets(m.GetTaskSecretsRequest(tenant_id="default"))
    theirs = await service.GetTaskSecrets(m.GetTaskSecretsRequest(tenant_id="other"))
    assert [c.connection_id for c in mine.connections] == ["warehouse"]
    assert [c.connection_id for c in theirs.connections] == ["theirs"]
    await expect_error(service.GetTaskSecrets(m.GetTaskSecretsRequest()), grpc.StatusCode.INVALID_ARGUMENT)
    await expect_error(op.GetConnection(m.GetConnectionRequest(connection_id="theirs")), grpc.StatusCode.NOT_FOUND)
    for role in ("Viewer", "User"):
        await expect_error(meta.user(role).ListConnections(m.ListConnectionsRequest()), grpc.StatusCode.PERMISSION_DENIED)


async def test_reads_work_without_the_key_writes_do_not(make_scheduler, monkeypatch):
    monkeypatch.setenv("LEOFLOW_SECRET_KEY", SECRET_KEY)
    keyed = Meta(await make_scheduler(listen=False))
    await keyed.user().CreateConnection(m.CreateConnectionRequest(connection=conn_body()))
    monkeypatch.delenv("LEOFLOW_SECRET_KEY")
    keyless = Meta(await make_scheduler(listen=False, lead=False))
    op = keyless.user()
    got = (await op.GetConnection(m.GetConnectionRequest(connection_id="warehouse"))).connection
    assert (got.host, got.password, json.loads(got.extra)["private_key"]) == ("db.internal", "***", "***")
    for call in (
        op.CreateConnection(m.CreateConnectionRequest(connection=conn_body("new"))),
        op.UpdateConnection(m.UpdateConnectionRequest(connection_id="warehouse", connection=conn_body())),
    ):
        assert "LEOFLOW_SECRET_KEY is not configured" in await expect_error(call, grpc.StatusCode.UNAVAILABLE)
    service = keyless.task_secrets(keyless.codec.mint_service("dispatcher"))
    await expect_error(service.GetTaskSecrets(m.GetTaskSecretsRequest(tenant_id="default")), grpc.StatusCode.UNAVAILABLE)
    await op.DeleteConnection(m.DeleteConnectionRequest(connection_id="warehouse"))
