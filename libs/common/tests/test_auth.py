import time

import jwt
import pytest

from leoflow_common.auth import Capability, Principal, TaskScope, TokenCodec, require
from leoflow_common.errors import PermissionDenied, Unauthenticated

CODEC = TokenCodec("user-secret", "agent-secret")
SCOPE = TaskScope("d", "r", "t", -1, 2, "exec-1", frozenset({"up"}))


def test_user_token_round_trip_carries_tenant_and_roles():
    p = CODEC.verify(CODEC.mint_user("alice", "acme", ["Viewer"]))
    assert (p.kind, p.subject, p.tenant_id, p.roles) == ("user", "alice", "acme", ("Viewer",))
    assert p.can(Capability.READ) and not p.can(Capability.EXECUTE)


def test_agent_token_is_scoped_to_one_try():
    p = CODEC.verify(CODEC.mint_agent("acme", SCOPE))
    assert p.kind == "agent" and p.task == SCOPE
    # An agent holds no user capability at all.
    with pytest.raises(PermissionDenied):
        require(p, Capability.READ)


def test_agent_token_signed_with_user_secret_is_refused():
    forged = TokenCodec("agent-secret-wrong", "user-secret").mint_agent("acme", SCOPE)
    with pytest.raises(PermissionDenied, match="Invalid JWT token"):
        CODEC.verify(forged)


def test_expired_token_is_unauthenticated():
    token = jwt.encode(
        {"kind": "user", "sub": "a", "tenant": "t", "roles": [], "iss": "leoflow", "aud": "leoflow-user",
         "iat": int(time.time()) - 100, "nbf": int(time.time()) - 100, "exp": int(time.time()) - 50},
        "user-secret", algorithm="HS256")
    with pytest.raises(Unauthenticated, match="Token Expired"):
        CODEC.verify(token)


def test_garbage_token_is_invalid():
    with pytest.raises(PermissionDenied):
        CODEC.verify("not-a-jwt")


def test_require_without_principal_is_unauthenticated():
    with pytest.raises(Unauthenticated):
        require(None, Capability.READ)
    assert require(Principal("service", "dispatcher", "*"), Capability.ADMIN)
