"""Fixtures of the api-gateway tests: the Airflow 3.2.2 OpenAPI specs (fetched with
scripts/fetch-ui.sh, like the UI assets), settings, tokens, and the gateway as an
ASGI app. An "offline" gateway has its gRPC channels pointed at a port nobody
listens on: enough for everything that must be decided before any service call.

Responses are validated against Airflow 3.2.2's own OpenAPI specs (OpenAPI 3.1 =
JSON Schema 2020-12), more strictly than the spec alone: every date-time must be
ISO-8601 UTC with a "Z" (Airflow's convention), and an object may carry only the
properties its schema names unless the schema is open or the caller names a
Leoflow extension — a misspelled field would otherwise pass unnoticed."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from leoflow_api_gateway import GatewayClients, GatewaySettings, create_asgi_app
from leoflow_api_gateway.settings import REPO_ROOT
from leoflow_common.auth import TokenCodec
from leoflow_common.settings import SecuritySettings
from leoflow_common.testing import free_port

SPECS = {
    "public": "v2-rest-api-generated.yaml",
    "ui": "_private_ui.yaml",
    "auth": "v2-simple-auth-manager-generated.yaml",
}

_formats = FormatChecker(formats=())


@_formats.checks("date-time", raises=ValueError)
def _utc_z(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not value.endswith("Z"):
        raise ValueError(f"{value!r} is not UTC with a Z suffix")
    dt.datetime.fromisoformat(value[:-1] + "+00:00")
    return True


class OpenApiContract:
    def __init__(self, directory: Path):
        self.specs = {name: yaml.safe_load((directory / file).read_text()) for name, file in SPECS.items()}

    def schema(self, name: str, spec: str = "public") -> dict[str, Any]:
        return self.specs[spec]["components"]["schemas"][name]

    def validate(self, name: str, instance: Any, *, spec: str = "public", extensions: tuple[str, ...] = ()) -> None:
        """Raise unless `instance` is a valid `name` of `spec` (strictly, see module doc)."""
        components = self.specs[spec]["components"]
        validator = Draft202012Validator(
            {"$ref": f"#/components/schemas/{name}", "components": components}, format_checker=_formats
        )
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        if errors:
            details = "\n".join(f"  at {list(e.absolute_path)}: {e.message}" for e in errors[:10])
            raise AssertionError(f"not a valid {name}:\n{details}")
        self._no_unknown_properties(components["schemas"][name], instance, components, [name], set(extensions))

    def _resolve(self, schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = components["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def _no_unknown_properties(self, schema, instance, components, path, extensions) -> None:
        schema = self._resolve(schema, components)
        if isinstance(instance, dict) and "properties" in schema:
            if schema.get("additionalProperties") is True:  # open by design (StructuredLogMessage)
                return
            unknown = set(instance) - set(schema["properties"]) - extensions
            assert not unknown, f"{'.'.join(path)} has properties the spec does not name: {sorted(unknown)}"
            for key, value in instance.items():
                if key in schema["properties"]:
                    self._no_unknown_properties(schema["properties"][key], value, components, [*path, key], extensions)
        elif isinstance(instance, list) and "items" in schema:
            for i, item in enumerate(instance):
                self._no_unknown_properties(schema["items"], item, components, [*path, str(i)], extensions)
        else:
            for option in schema.get("anyOf", ()):
                resolved = self._resolve(option, components)
                if (isinstance(instance, dict) and "properties" in resolved) or (
                    isinstance(instance, list) and resolved.get("type") == "array"
                ):
                    self._no_unknown_properties(resolved, instance, components, path, extensions)
                    return


JWT_SECRET = "api-gateway-tests-secret-0123456789abcdef"
UI_DIR = REPO_ROOT / "var" / "airflow-ui"


@pytest.fixture(scope="session")
def ui_dir() -> Path:
    """The Airflow UI assets and OpenAPI specs, fetched once (the script is idempotent)."""
    subprocess.run([str(REPO_ROOT / "scripts" / "fetch-ui.sh")], check=True, cwd=REPO_ROOT)
    return UI_DIR


@pytest.fixture(scope="session")
def contract(ui_dir: Path) -> OpenApiContract:
    return OpenApiContract(ui_dir / "openapi")


def _settings(**overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "security": SecuritySettings(jwt_secret=JWT_SECRET),
        "ui_dir": UI_DIR,
        "host": "127.0.0.1",
        "port": 0,
    }
    values.update(overrides)
    return GatewaySettings(**values)


@pytest.fixture
def make_settings() -> Callable[..., GatewaySettings]:
    """GatewaySettings for tests (the test JWT secret, the fetched UI, a free port)."""
    return _settings


@pytest.fixture(scope="session")
def jwt_secret() -> str:
    return JWT_SECRET


@pytest.fixture(scope="session")
def codec() -> TokenCodec:
    return TokenCodec(JWT_SECRET)


@pytest.fixture(scope="session")
def token_for(codec: TokenCodec) -> Callable[..., str]:
    """A user JWT: token_for("Viewer"), token_for("Admin", username="bob", ttl=-60)."""

    def mint(role: str = "Admin", *, username: str = "alice", ttl: float = 3600) -> str:
        return codec.mint_user(username, "default", [role] if role else [], ttl=ttl)

    return mint


def offline_clients() -> GatewayClients:
    nowhere = f"127.0.0.1:{free_port()}"
    return GatewayClients.connect(scheduler=nowhere, xcom=nowhere, logs=nowhere, rpc_timeout=5)


@pytest.fixture
async def gateway_client() -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """A factory of HTTP clients of create_asgi_app(settings, clients); clients
    default to offline ones (closed when the test ends)."""
    opened: list[tuple[httpx.AsyncClient, GatewayClients | None]] = []

    def make(settings: GatewaySettings | None = None, clients: GatewayClients | None = None) -> httpx.AsyncClient:
        owned = None
        if clients is None:
            clients = owned = offline_clients()
        app = create_asgi_app(settings or _settings(), clients)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test")
        opened.append((client, owned))
        return client

    yield make
    for client, owned in opened:
        await client.aclose()
        if owned is not None:
            await owned.close()


@pytest.fixture
async def offline(ui_dir: Path, gateway_client) -> httpx.AsyncClient:
    """The gateway with default settings and no reachable service."""
    return gateway_client()
