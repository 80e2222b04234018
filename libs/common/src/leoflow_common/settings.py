"""Settings every service shares. Each service has its own typed settings class
(prefix LEOFLOW_<SERVICE>_) that embeds these; all are read once in __main__ and
passed down. `env_var_names()` lists what a settings class reads, so deployment
manifests can be checked against it."""

from __future__ import annotations

import base64
import binascii

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SecuritySettings(BaseSettings):
    """LEOFLOW_JWT_SECRET signs user and service tokens; LEOFLOW_AGENT_TOKEN_SECRET
    signs per-task agent tokens (dispatcher, xcom and logs need it)."""

    model_config = SettingsConfigDict(env_prefix="LEOFLOW_", extra="ignore")

    jwt_secret: SecretStr = Field(description="HMAC secret for user and service JWTs")
    agent_token_secret: SecretStr | None = Field(default=None, description="HMAC secret for per-task agent tokens")
    default_tenant: str = Field(default="default", description="Tenant of users who do not name one")
    secret_key: SecretStr | None = Field(
        default=None,
        description="AES-256-GCM key encrypting connection secrets and variables at rest "
        "(64 hex characters or base64 of 32 bytes); unset: variables and connections cannot be written",
    )

    @field_validator("secret_key")
    @classmethod
    def _check_secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        """Refuse a key that is not 32 bytes, at start-up rather than at the first write."""
        if value is not None and value.get_secret_value():
            secret_key_bytes(value.get_secret_value())
        return value


def secret_key_bytes(text: str) -> bytes:
    """The 32 key bytes of LEOFLOW_SECRET_KEY: 64 hex characters or base64 (standard
    or URL-safe) of 32 bytes; ValueError otherwise (the message never echoes the key)."""
    text = text.strip()
    if len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise ValueError("LEOFLOW_SECRET_KEY must be 64 hex characters or the base64 encoding of 32 bytes")
    return raw


class BusSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEOFLOW_BUS_", extra="ignore")

    url: str = Field(default="amqp://guest:guest@127.0.0.1:5672/", description="amqp://... or memory://")
    namespace: str = Field(default="", description="Prefix of exchange and queue names (isolates stacks sharing a broker)")
    max_deliveries: int = Field(default=5, description="Attempts before a message is dead-lettered")


class TelemetrySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEOFLOW_", extra="ignore")

    log_level: str = Field(default="INFO")
    log_json: bool = Field(default=True, description="JSON log lines (false: human-readable)")
    metrics_port: int = Field(default=0, description="Prometheus /metrics port; 0 disables")
    otel_exporter_otlp_endpoint: str = Field(default="", description="OTLP gRPC endpoint; empty disables tracing export")


def env_var_names(settings_cls: type[BaseSettings]) -> set[str]:
    """Every environment variable `settings_cls` (and settings it embeds) reads."""
    names: set[str] = set()
    prefix = settings_cls.model_config.get("env_prefix", "")
    for name, field in settings_cls.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
            names |= env_var_names(annotation)
        else:
            names.add(f"{prefix}{name}".upper())
    return names
