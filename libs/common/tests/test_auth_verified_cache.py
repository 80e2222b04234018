"""TokenCodec remembers tokens it verified: a repeated token is not decoded again,
an expired one is refused as expired even if it was remembered, a tampered one is
never taken for the original, and the memory is bounded."""

import time

import pytest

from leoflow_common import auth
from leoflow_common.auth import TaskScope, TokenCodec
from leoflow_common.errors import PermissionDenied, Unauthenticated

SCOPE = TaskScope("d", "r", "t", -1, 1, "exec-1", frozenset())


def counting_decodes(monkeypatch) -> list[int]:
    calls = [0]
    real = auth.jwt.decode

    def decode(*args, **kwargs):
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(auth.jwt, "decode", decode)
    return calls


def test_a_verified_token_is_not_decoded_again(monkeypatch):
    codec = TokenCodec("user-secret", "agent-secret")
    token = codec.mint_user("alice", "acme", ["Viewer"])
    calls = counting_decodes(monkeypatch)

    first = codec.verify(token)
    decodes_for_first = calls[0]
    second = codec.verify(token)
    # Another codec with the same secrets (another service of the same process) too.
    third = TokenCodec("user-secret", "agent-secret").verify(token)

    assert first == second == third and first.subject == "alice"
    assert decodes_for_first > 0 and calls[0] == decodes_for_first


def test_an_agent_token_is_known_good_where_it_was_minted(monkeypatch):
    codec = TokenCodec("user-secret", "agent-secret")
    token = codec.mint_agent("acme", SCOPE)
    calls = counting_decodes(monkeypatch)

    principal = codec.verify(token)

    assert calls[0] == 0
    assert (principal.kind, principal.tenant_id, principal.task) == ("agent", "acme", SCOPE)
    # What a decode would have said, exactly.
    assert principal == TokenCodec("user-secret", "agent-secret")._verify(token)[0]


def test_codecs_with_other_secrets_share_no_memory():
    token = TokenCodec("user-secret", "agent-secret").mint_agent("acme", SCOPE)
    with pytest.raises(PermissionDenied):
        TokenCodec("user-secret", "another-agent-secret").verify(token)


def test_a_remembered_token_that_expired_is_refused_as_expired(monkeypatch):
    codec = TokenCodec("user-secret", "agent-secret", leeway=0)
    token = codec.mint_user("alice", "acme", ["Viewer"], ttl=5)
    codec.verify(token)
    later = time.time() + 60
    monkeypatch.setattr(auth.time, "time", lambda: later)
    monkeypatch.setattr(auth.jwt.api_jwt, "datetime", _FrozenDatetime(later))

    with pytest.raises(Unauthenticated, match="Token Expired"):
        codec.verify(token)


def test_a_tampered_copy_of_a_remembered_token_is_refused():
    codec = TokenCodec("user-secret", "agent-secret")
    token = codec.mint_user("alice", "acme", ["Viewer"])
    codec.verify(token)
    header, payload, signature = token.split(".")
    tampered = ".".join([header, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")])

    with pytest.raises(PermissionDenied):
        codec.verify(tampered)


def test_the_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(auth, "VERIFIED_CACHE_SIZE", 3)
    codec = TokenCodec("bounded-secret")
    tokens = [codec.mint_service(f"svc-{i}") for i in range(5)]
    for token in tokens:
        codec.verify(token)
    assert list(codec._verified) == tokens[-3:]


class _FrozenDatetime:
    """PyJWT reads the clock through datetime.now(tz=...): this one says `when`."""

    def __init__(self, when: float):
        from datetime import datetime

        self._real = datetime
        self._when = when

    def now(self, tz=None):
        return self._real.fromtimestamp(self._when, tz=tz)

    def __getattr__(self, name):
        return getattr(self._real, name)
