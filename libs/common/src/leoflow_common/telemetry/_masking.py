"""Masking secrets out of text before it is logged or shown."""

from __future__ import annotations

from collections.abc import Iterable

MASK = "***"


def mask_secrets(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every occurrence of every non-empty secret replaced by "***".

    Longer secrets are replaced first, so a secret that contains another one is
    masked whole rather than leaving its remainder readable.
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
