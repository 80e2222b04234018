"""Password hashing with argon2 (argon2-cffi's defaults, RFC 9106 low-memory).

`verify_or_burn` spends the same work whether or not the user exists, so the
time an authentication takes does not tell whether a username is valid."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password, verified against when the user is unknown
    (made on first use: hashing costs ~0.3 s, which every start would pay)."""
    return _hasher.hash("leoflow: no such user")


def hash_password(password: str) -> str:
    """An argon2 hash of `password`."""
    return _hasher.hash(password)


def verify_or_burn(password_hash: str | None, password: str) -> bool:
    """True if `password` matches; with no hash, do the same work and say False."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash's parameters are older than the current ones."""
    return _hasher.check_needs_rehash(password_hash)
