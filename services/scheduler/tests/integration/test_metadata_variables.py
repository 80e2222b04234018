"""Variables through VariableService against a real scheduler and PostgreSQL:
CRUD with Airflow's errors, encryption at rest (the raw row holds ciphertext bound
to its row), masking of sensitive values, bulk actions, audit records, tenants
and roles."""

from __future__ import annotations

import json

import grpc
import pytest
from leoflow_common.auth import TokenCodec
from leoflow_common.grpc import client_channel, static_token
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.scheduler.v1 import metadata_pb2 as m
from leoflow_proto.scheduler.v1 import metadata_pb2_grpc

SECRET_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


class Meta:
    """A scheduler with LEOFLOW_SECRET_KEY set, and metadata stubs for any caller."""

    def __init__(self, scheduler):
        self.scheduler = scheduler
        security = scheduler.app.settings.security
        self.codec = TokenCodec(security.jwt_secret.get_secret_value())

    def stubs(self, token: str):
        channel = client_channel(f"127.0.0.1:{self.scheduler.app.grpc_port}", static_token(token))
        self.scheduler._channels.append(channel)  # closed with the scheduler
        return metadata_pb2_grpc.VariableServiceStub(channel)

    def user(self, role: str = "Op", *, username: str = "olivia", tenant: str = "default"):
        return self.stubs(self.codec.mint_user(username, tenant, [role]))

    async def raw(self, sql: str, *args):
        async with self.scheduler.app.ctx.pool.acquire() as conn:
            return await conn.fetch(sql, *args)


@pytest.fixture
async def meta(make_scheduler, monkeypatch) -> Meta:
    monkeypatch.setenv("LEOFLOW_SECRET_KEY", SECRET_KEY)
    return Meta(await make_scheduler(listen=False))


def body(key: str, value: str, description: str | None = None) -> m.VariableBody:
    b = m.VariableBody(key=key, value=value)
    if description is not None:
        b.description = description
    return b


async def create(stub, key: str, value: str, description: str | None = None) -> m.Variable:
    return (await stub.CreateVariable(m.CreateVariableRequest(variable=body(key, value, description)))).variable


async def expect_error(call, code: grpc.StatusCode) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await call
    assert exc.value.code() == code, exc.value.details()
    return exc.value.details()


async def test_crud_with_airflows_errors(meta):
    op = meta.user("Op")
    created = await create(op, "region", "eu-west-1", "where to run")
    assert (created.key, created.value, created.description, created.is_encrypted) == ("region", "eu-west-1", "where to run", True)
    assert not created.HasField("team_name")
    detail = await expect_error(create(op, "region", "x"), grpc.StatusCode.ALREADY_EXISTS)
    assert detail == "The Variable with key: `region` already exists"

    got = (await op.GetVariable(m.GetVariableRequest(key="region"))).variable
    assert got == created
    assert await expect_error(op.GetVariable(m.GetVariableRequest(key="nope")), grpc.StatusCode.NOT_FOUND) == (
        "The Variable with key: `nope` was not found"
    )

    # update_mask narrows the write: the description survives a value-only update.
    updated = (
        await op.UpdateVariable(m.UpdateVariableRequest(key="region", variable=body("region", "us-east-1"), update_mask=["value"]))
    ).variable
    assert (updated.value, updated.description) == ("us-east-1", "where to run")
    cleared = (
        await op.UpdateVariable(m.UpdateVariableRequest(key="region", variable=body("region", "us-east-1"), update_mask=["description"]))
    ).variable
    assert not cleared.HasField("description")
    mismatch = m.UpdateVariableRequest(key="region", variable=body("other", "v"))
    assert await expect_error(op.UpdateVariable(mismatch), grpc.StatusCode.INVALID_ARGUMENT) == (
        "Invalid body, key from request body doesn't match uri parameter"
    )
    immutable = m.UpdateVariableRequest(key="region", variable=body("region", "v"), update_mask=["key"])
    assert "immutable" in await expect_error(op.UpdateVariable(immutable), grpc.StatusCode.INVALID_ARGUMENT)
    missing = m.UpdateVariableRequest(key="ghost", variable=body("ghost", "v"))
    await expect_error(op.UpdateVariable(missing), grpc.StatusCode.NOT_FOUND)

    team = body("t", "v")
    team.team_name = "blue"
    assert "multi_team" in await expect_error(op.CreateVariable(m.CreateVariableRequest(variable=team)), grpc.StatusCode.INVALID_ARGUMENT)
    await expect_error(create(op, "k" * 251, "v"), grpc.StatusCode.INVALID_ARGUMENT)

    await op.DeleteVariable(m.DeleteVariableRequest(key="region"))
    await expect_error(op.DeleteVariable(m.DeleteVariableRequest(key="region")), grpc.StatusCode.NOT_FOUND)


async def test_values_are_ciphertext_at_rest_bound_to_their_row(meta):
    op = meta.user("Op")
    await create(op, "plain_setting", "the-value-in-clear")
    await create(op, "second", "another-value")
    rows = await meta.raw("SELECT key, val_enc FROM variables ORDER BY key")
    assert [r["key"] for r in rows] == ["plain_setting", "second"]
    for row in rows:
        assert row["val_enc"].startswith("v1:")
        assert "value" not in row["val_enc"]
    # Two writes of the same text never give the same ciphertext (fresh nonces).
    await op.UpdateVariable(m.UpdateVariableRequest(key="second", variable=body("second", "another-value")))
    again = await meta.raw("SELECT val_enc FROM variables WHERE key = 'second'")
    assert again[0]["val_enc"] != rows[1]["val_enc"]
    # A ciphertext moved to another row does not decrypt there (it is bound to its key).
    async with meta.scheduler.app.ctx.pool.acquire() as conn:
        await conn.execute("UPDATE variables SET val_enc = $1 WHERE key = 'second'", rows[0]["val_enc"])
    detail = await expect_error(op.GetVariable(m.GetVariableRequest(key="second")), grpc.StatusCode.UNAVAILABLE)
    assert "cannot be decrypted" in detail


async def test_sensitive_values_are_masked_on_every_read(meta):
    op = meta.user("Op")
    await create(op, "db_password", "hunter2-hunter2")
    await create(op, "service_config", json.dumps({"url": "https://x", "api_key": "abc123456", "nested": [{"token": 7}]}))
    await create(op, "plain", '{"a": 1}')
    masked = (await op.GetVariable(m.GetVariableRequest(key="db_password"))).variable
    assert masked.value == "***"
    config = json.loads((await op.GetVariable(m.GetVariableRequest(key="service_config"))).variable.value)
    assert config == {"url": "https://x", "api_key": "***", "nested": [{"token": "***"}]}
    # Nothing to hide: the text comes back exactly as written.
    assert (await op.GetVariable(m.GetVariableRequest(key="plain"))).variable.value == '{"a": 1}'
    listed = (await op.ListVariables(m.ListVariablesRequest())).variables
    assert {v.key: v.value for v in listed}["db_password"] == "***"
    # Tasks get the values in clear, with what to mask in their logs.
    codec = meta.codec
    channel = client_channel(f"127.0.0.1:{meta.scheduler.app.grpc_port}", static_token(codec.mint_service("dispatcher")))
    meta.scheduler._channels.append(channel)
    secrets = await metadata_pb2_grpc.TaskSecretsServiceStub(channel).GetTaskSecrets(m.GetTaskSecretsRequest(tenant_id="default"))
    delivered = {v.key: (v.value, v.sensitive, list(v.secret_values)) for v in secrets.variables}
    assert delivered["db_password"] == ("hunter2-hunter2", True, ["hunter2-hunter2"])
    assert delivered["service_config"][1:] == (True, ["abc123456", "7"])
    assert delivered["plain"] == ('{"a": 1}', False, [])
    # The audit log never holds the secret either.
    extras = [r["extra"] for r in await meta.raw("SELECT extra FROM audit_log WHERE event = 'post_variable'")]
    assert len(extras) == 3 and not any("hunter2" in e or "abc123456" in e for e in extras)


async def test_list_filters_order_and_paging(meta):
    op = meta.user("Op")
    for key in ("alpha_one", "alpha_two", "beta", "gamma_ALPHA"):
        await create(op, key, key.upper(), f"about {key}")

    async def keys(**fields) -> tuple[list[str], int]:
        answer = await op.ListVariables(m.ListVariablesRequest(**fields))
        return [v.key for v in answer.variables], answer.total_entries

    assert await keys() == (["alpha_one", "alpha_two", "beta", "gamma_ALPHA"], 4)
    assert await keys(key_pattern="alpha") == (["alpha_one", "alpha_two", "gamma_ALPHA"], 3)
    assert await keys(key_pattern="beta | gamma") == (["beta", "gamma_ALPHA"], 2)
    assert await keys(key_pattern="~") == (["alpha_one", "alpha_two", "beta", "gamma_ALPHA"], 4)
    assert await keys(key_prefix_pattern="alpha_") == (["alpha_one", "alpha_two"], 2)
    assert await keys(key_prefix_pattern="ALPHA") == ([], 0)  # case-sensitive
    assert await keys(page=keys_pb2.PageRequest(order_by=["-key"], limit=2, offset=1)) == (["beta", "alpha_two"], 4)
    assert (await keys(page=keys_pb2.PageRequest(order_by=["description"], limit=1)))[0] == ["alpha_one"]
    detail = await expect_error(op.ListVariables(m.ListVariablesRequest(page=keys_pb2.PageRequest(order_by=["value"]))), grpc.StatusCode.INVALID_ARGUMENT)
    assert detail == "Ordering with 'value' is disallowed or the attribute does not exist on the model"


async def test_bulk_actions_report_each_outcome(meta):
    op = meta.user("Op")
    await create(op, "exists", "old")

    def action(kind, keys, on_conflict=m.BULK_ON_CONFLICT_UNSPECIFIED, masks=None):
        return m.BulkVariableAction(
            kind=kind, entities=[body(k, f"v-{k}") for k in keys], on_conflict=on_conflict,
            update_masks=[m.UpdateMask(fields=f) for f in (masks or [])],
        )  # fmt: skip

    answer = await op.BulkVariables(
        m.BulkVariablesRequest(
            actions=[
                action(m.BULK_ACTION_KIND_CREATE, ["exists", "new1"]),  # fails whole: exists
                action(m.BULK_ACTION_KIND_CREATE, ["exists", "new2"], m.BULK_ON_CONFLICT_SKIP),
                action(m.BULK_ACTION_KIND_CREATE, ["exists"], m.BULK_ON_CONFLICT_OVERWRITE),
                action(m.BULK_ACTION_KIND_UPDATE, ["new2", "ghost"]),  # fails whole: ghost
                action(m.BULK_ACTION_KIND_UPDATE, ["new2", "ghost"], m.BULK_ON_CONFLICT_SKIP, masks=[["value"], ["value"]]),
                action(m.BULK_ACTION_KIND_DELETE, ["exists", "ghost"], m.BULK_ON_CONFLICT_SKIP),
            ]
        )
    )
    outcome = [(list(r.success), [(e.error, e.status_code) for e in r.errors]) for r in answer.results]
    assert outcome == [
        ([], [("The variables with these keys: {'exists'} already exist.", 409)]),
        (["new2"], []),
        (["exists"], []),
        ([], [("The variables with these keys: {'ghost'} were not found.", 404)]),
        (["new2"], []),
        (["exists"], []),
    ]
    listed = {v.key: v.value for v in (await op.ListVariables(m.ListVariablesRequest())).variables}
    assert listed == {"new2": "v-new2"}
    assert [r["event"] for r in await meta.raw("SELECT event FROM audit_log ORDER BY id")][-1] == "bulk_variables"
    overwrite_on_update = m.BulkVariablesRequest(actions=[action(m.BULK_ACTION_KIND_UPDATE, ["new2"], m.BULK_ON_CONFLICT_OVERWRITE)])
    await expect_error(op.BulkVariables(overwrite_on_update), grpc.StatusCode.INVALID_ARGUMENT)


async def test_every_change_is_audited_with_its_user(meta):
    op = meta.user("Op", username="oscar")
    await create(op, "k", "v")
    await op.UpdateVariable(m.UpdateVariableRequest(key="k", variable=body("k", "w")))
    await op.DeleteVariable(m.DeleteVariableRequest(key="k"))
    rows = await meta.raw("SELECT event, owner, extra FROM audit_log WHERE event LIKE '%variable%' ORDER BY id")
    assert [(r["event"], r["owner"]) for r in rows] == [
        ("post_variable", "oscar"), ("patch_variable", "oscar"), ("delete_variable", "oscar"),
    ]  # fmt: skip
    assert json.loads(rows[0]["extra"]) == {"key": "k", "val": "v", "description": None, "method": "POST"}


async def test_tenants_and_roles(meta):
    op = meta.user("Op")
    await create(op, "shared_name", "default's")
    other = meta.user("Op", tenant="other")
    await expect_error(other.GetVariable(m.GetVariableRequest(key="shared_name")), grpc.StatusCode.NOT_FOUND)
    await create(other, "shared_name", "other's")
    assert (await op.GetVariable(m.GetVariableRequest(key="shared_name"))).variable.value == "default's"
    assert [v.value for v in (await other.ListVariables(m.ListVariablesRequest())).variables] == ["other's"]
    # Airflow's simple auth manager: variables are Op's, for reading too.
    for role in ("Viewer", "User"):
        weak = meta.user(role)
        await expect_error(weak.GetVariable(m.GetVariableRequest(key="shared_name")), grpc.StatusCode.PERMISSION_DENIED)
        await expect_error(create(weak, "x", "y"), grpc.StatusCode.PERMISSION_DENIED)
    await create(meta.user("Admin"), "by_admin", "ok")


async def test_without_a_secret_key_nothing_is_stored(make_scheduler, monkeypatch):
    monkeypatch.delenv("LEOFLOW_SECRET_KEY", raising=False)
    meta = Meta(await make_scheduler(listen=False))
    op = meta.user("Op")
    detail = await expect_error(create(op, "k", "v"), grpc.StatusCode.UNAVAILABLE)
    assert "LEOFLOW_SECRET_KEY is not configured" in detail
    assert await meta.raw("SELECT * FROM variables") == []
    assert (await op.ListVariables(m.ListVariablesRequest())).total_entries == 0
