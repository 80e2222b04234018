"""Small signed, URL-safe tokens handed to clients and accepted back unchanged:
Airflow's `file_token` of a DAG and the continuation token of a log read.

Format: base64url(JSON payload) + "." + base64url(HMAC-SHA256(payload)), keyed
with a purpose-specific derivation of the gateway's secret, so a token minted for
one purpose is refused for another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


class BadSignature(ValueError):
    """The token was not minted by this gateway for this purpose."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, secret: str, purpose: str):
        self._key = hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()

    def dumps(self, payload: Any) -> str:
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(body)}.{_b64(self._mac(body))}"

    def loads(self, token: str) -> Any:
        body_text, _, mac_text = token.partition(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except (ValueError, TypeError) as exc:
            raise BadSignature("malformed token") from exc
        if not mac or not hmac.compare_digest(mac, self._mac(body)):
            raise BadSignature("bad signature")
        try:
            return json.loads(body)
        except ValueError as exc:
            raise BadSignature("malformed token") from exc

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()
