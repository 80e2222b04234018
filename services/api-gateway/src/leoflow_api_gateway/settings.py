"""Typed settings of the api-gateway (env prefix LEOFLOW_GATEWAY_), read once in
__main__ and passed down. The gateway holds no database connection: everything it
knows comes from the scheduler, xcom and logs services over gRPC."""

from __future__ import annotations

from pathlib import Path

from leoflow_common.settings import SecuritySettings, TelemetrySettings
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# services/api-gateway/src/leoflow_api_gateway/settings.py -> the repository root.
REPO_ROOT = Path(__file__).resolve().parents[4]
DEFAULT_UI_DIR = REPO_ROOT / "var" / "airflow-ui"
DEFAULT_IDE_DIR = REPO_ROOT / "var" / "ide"


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEOFLOW_GATEWAY_", extra="ignore")

    host: str = Field(default="0.0.0.0", description="Address the HTTP server listens on")
    port: int = Field(default=8080, ge=0, le=65535, description="HTTP port; 0 picks a free one")
    base_url: str = Field(
        default="/",
        description="Path prefix the gateway is served under (Airflow's [api] base_url path), e.g. /airflow",
    )
    scheduler_address: str = Field(default="127.0.0.1:50051", description="host:port of the scheduler's gRPC server")
    xcom_address: str = Field(default="127.0.0.1:50054", description="host:port of the xcom service's gRPC server")
    logs_address: str = Field(default="127.0.0.1:50055", description="host:port of the logs service's gRPC server")
    dispatcher_address: str = Field(
        default="",
        description="host:port of the dispatcher's gRPC server, health-checked as Airflow's triggerer "
        "(it runs deferred waits); empty: not checked, reported as null",
    )
    ui_dir: Path = Field(default=DEFAULT_UI_DIR, description="Where scripts/fetch-ui.sh put the Airflow UI assets")
    ide_workspace: Path | None = Field(
        default=None,
        description="Lite only: the DAG workspace the /ide editor reads and writes (Admin role); unset: no /ide routes",
    )
    ide_dir: Path = Field(default=DEFAULT_IDE_DIR, description="Where scripts/build-ide.sh put the /ide editor's front-end")
    jwt_expiration: int = Field(default=86400, gt=0, description="Lifetime of a UI/API token, seconds (Airflow: 86400)")
    jwt_cli_expiration: int = Field(default=3600, gt=0, description="Lifetime of a token from /auth/token/cli, seconds")
    cookie_secure: bool = Field(default=False, description="Mark the _token cookie Secure (set behind https)")
    instance_name: str = Field(default="Leoflow", description="Name the UI shows in its title and navigation")
    fallback_page_limit: int = Field(default=50, gt=0, description="Page size when a list call names no limit")
    maximum_page_limit: int = Field(default=1000, gt=0, description="Largest page a list call may ask for (clamped)")
    auto_refresh_interval: int = Field(default=3, gt=0, description="Seconds between the UI's refreshes of live views")
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024, gt=0, description="Largest request body accepted (dag.json included); larger is 413"
    )
    rpc_timeout: float = Field(default=30.0, gt=0, description="Deadline of one unary gRPC call, seconds")
    health_timeout: float = Field(default=2.0, gt=0, description="Deadline of one gRPC health check, seconds")
    expose_config: bool = Field(
        default=False,
        description="Answer GET /api/v2/config with the gateway's settings, secrets hidden "
        "(Airflow's [api] expose_config); false: 403 as Airflow",
    )

    security: SecuritySettings = Field(default_factory=SecuritySettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)

    @field_validator("base_url")
    @classmethod
    def _normalize_base_url(cls, value: str) -> str:
        """Keep only the path ("/airflow"), without a trailing slash; "/" for the root."""
        path = value.strip()
        if "://" in path:  # Airflow's base_url is a full URL; only its path matters here
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        path = "/" + path.strip("/")
        return path

    @property
    def base_path(self) -> str:
        """The prefix without a trailing slash: "" at the root, "/airflow" otherwise."""
        return "" if self.base_url == "/" else self.base_url

    @property
    def base_href(self) -> str:
        """The <base href> of the UI pages and the cookie path: the prefix with a trailing slash."""
        return self.base_path + "/"
