"""AES-256-GCM for secrets at rest (connection passwords and extras, variable values).

A stored secret is the text `v1:` + base64url(nonce || ciphertext || tag) with a
fresh 96-bit random nonce per write. The associated data binds each ciphertext to
the place it belongs (tenant, table, row key, column), so a ciphertext copied into
another row or tenant fails to decrypt instead of leaking there. The key is
LEOFLOW_SECRET_KEY; without it, nothing can be encrypted or decrypted and callers
get Unavailable with a message saying what to configure.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from leoflow_common.errors import Unavailable
from leoflow_common.settings import secret_key_bytes

PREFIX = "v1:"
NONCE_BYTES = 12

NO_KEY_MESSAGE = (
    "LEOFLOW_SECRET_KEY is not configured on the scheduler: variables and connection "
    "secrets cannot be stored or read until it is set (64 hex characters or base64 of 32 bytes)"
)


def aad(tenant_id: str, table: str, row_key: str, column: str) -> bytes:
    """The associated data binding a ciphertext to one column of one row."""
    # NUL separators: none of the parts can contain one (they come from JSON/proto
    # strings validated upstream), so the encoding is unambiguous.
    return "\x00".join((tenant_id, table, row_key, column)).encode()


class SecretBox:
    """Encrypts and decrypts with the configured key (or refuses, without one)."""

    def __init__(self, key: str | None):
        self._aead = AESGCM(secret_key_bytes(key)) if key else None

    @property
    def configured(self) -> bool:
        return self._aead is not None

    def _require(self) -> AESGCM:
        if self._aead is None:
            raise Unavailable(NO_KEY_MESSAGE)
        return self._aead

    def ensure_configured(self) -> None:
        """Unavailable (with what to configure) unless a key is set: checked before a
        write starts, so it never stops half-way."""
        self._require()

    def encrypt(self, plaintext: str, associated: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._require().encrypt(nonce, plaintext.encode(), associated)
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, associated: bytes) -> str:
        aead = self._require()
        if not token.startswith(PREFIX):
            raise Unavailable("a stored secret is in an unknown format")
        try:
            raw = base64.urlsafe_b64decode(token[len(PREFIX) :])
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated).decode()
        except (InvalidTag, ValueError) as exc:
            raise Unavailable(
                "a stored secret cannot be decrypted: it was encrypted with another LEOFLOW_SECRET_KEY "
                "(or altered in the database)"
            ) from exc
