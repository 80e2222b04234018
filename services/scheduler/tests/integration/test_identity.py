"""Users: the bootstrap admin, AuthenticateUser, GetUser, SetUserPassword."""

import grpc
import pytest
from leoflow_common.errors import FIELD_METADATA_KEY
from leoflow_proto.scheduler.v1 import identity_pb2


async def test_bootstrap_admin_and_authentication(make_scheduler):
    scheduler = await make_scheduler(bootstrap_admin_password="s3cret!")
    user = (
        await scheduler.identity.AuthenticateUser(
            identity_pb2.AuthenticateUserRequest(username="admin", password="s3cret!")
        )
    ).user
    assert (user.username, list(user.roles), user.tenant_id, user.active) == (
        "admin",
        ["Admin"],
        "default",
        True,
    )
    for username, password in (("admin", "wrong"), ("nobody", "s3cret!"), ("admin", "")):
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await scheduler.identity.AuthenticateUser(
                identity_pb2.AuthenticateUserRequest(username=username, password=password)
            )
        assert (
            exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
            and exc.value.details() == "Invalid credentials"
        )
    # Another tenant has no such user.
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await scheduler.identity.AuthenticateUser(
            identity_pb2.AuthenticateUserRequest(
                tenant_id="elsewhere", username="admin", password="s3cret!"
            )
        )
    assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # A second start (or replica) does not create it again or reset its password.
    again = await make_scheduler(bootstrap_admin_password="other", lead=False, listen=False)
    await again.identity.AuthenticateUser(
        identity_pb2.AuthenticateUserRequest(username="admin", password="s3cret!")
    )


async def test_set_password_creates_and_updates_users(scheduler):
    created = (
        await scheduler.identity.SetUserPassword(
            identity_pb2.SetUserPasswordRequest(username="ann", password="pw1", roles=["op"])
        )
    ).user
    assert list(created.roles) == ["Op"]
    updated = (
        await scheduler.identity.SetUserPassword(
            identity_pb2.SetUserPasswordRequest(username="ann", password="pw2")
        )
    ).user
    assert list(updated.roles) == ["Op"]  # roles kept when none are given
    with pytest.raises(grpc.aio.AioRpcError):
        await scheduler.identity.AuthenticateUser(
            identity_pb2.AuthenticateUserRequest(username="ann", password="pw1")
        )
    await scheduler.identity.AuthenticateUser(
        identity_pb2.AuthenticateUserRequest(username="ann", password="pw2")
    )
    viewer = (
        await scheduler.identity.SetUserPassword(
            identity_pb2.SetUserPasswordRequest(username="vera", password="pw")
        )
    ).user
    assert list(viewer.roles) == ["Viewer"]

    for request, field in (
        (
            identity_pb2.SetUserPasswordRequest(username="x", password="pw", roles=["Superuser"]),
            "roles",
        ),
        (identity_pb2.SetUserPasswordRequest(username="x", password=""), "password"),
        (identity_pb2.SetUserPasswordRequest(username="", password="pw"), "username"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await scheduler.identity.SetUserPassword(request)
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert dict(exc.value.trailing_metadata())[FIELD_METADATA_KEY] == field


async def test_user_reads_and_admin_only_calls(scheduler):
    await scheduler.identity.SetUserPassword(
        identity_pb2.SetUserPasswordRequest(username="ann", password="pw", roles=["User"])
    )
    *_, ann = scheduler.as_user("ann", "default", ["User"])
    assert (await ann.GetUser(identity_pb2.GetUserRequest(username="ann"))).user.username == "ann"
    for call, request in (
        (ann.GetUser, identity_pb2.GetUserRequest(username="admin")),
        (ann.SetUserPassword, identity_pb2.SetUserPasswordRequest(username="ann", password="new")),
        (ann.AuthenticateUser, identity_pb2.AuthenticateUserRequest(username="ann", password="pw")),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await call(request)
        assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await scheduler.identity.GetUser(identity_pb2.GetUserRequest(username="ghost"))
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
