"""Lite's persistent state: secrets and ports, created on first start.

Everything lives under LEOFLOW_HOME/lite (default ~/.leoflow/lite), readable by
its owner only. Secrets are generated once and reused, so tokens and encrypted
connections survive restarts."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path


def leoflow_home() -> Path:
    return Path(os.environ.get("LEOFLOW_HOME") or Path.home() / ".leoflow")


@dataclass
class LiteState:
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    agent_token_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    pg_port: int = 0
    admin_created: bool = False
    # The workspace the last `leoflow lite` served (what backup includes by default).
    workspace: str = ""

    @staticmethod
    def directory() -> Path:
        return leoflow_home() / "lite"

    @classmethod
    def load(cls) -> LiteState:
        path = cls.directory() / "state.json"
        if path.exists():
            data = json.loads(path.read_text())
            known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
            return cls(**known)
        return cls()

    def save(self) -> None:
        directory = self.directory()
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        path = directory / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.chmod(0o600)
        tmp.replace(path)
