"""GatewaySettings: read from LEOFLOW_GATEWAY_* (and the shared LEOFLOW_*) once."""

from __future__ import annotations

from pathlib import Path

import pytest
from leoflow_api_gateway import GatewaySettings
from leoflow_common.settings import env_var_names


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("LEOFLOW_JWT_SECRET", "from-the-env-0123456789abcdef0123456789")
    monkeypatch.setenv("LEOFLOW_GATEWAY_PORT", "0")
    monkeypatch.setenv("LEOFLOW_GATEWAY_SCHEDULER_ADDRESS", "scheduler:50051")
    monkeypatch.setenv("LEOFLOW_GATEWAY_UI_DIR", "/opt/airflow-ui")
    monkeypatch.setenv("LEOFLOW_GATEWAY_COOKIE_SECURE", "true")
    settings = GatewaySettings()
    assert settings.port == 0 and settings.scheduler_address == "scheduler:50051"
    assert settings.ui_dir == Path("/opt/airflow-ui") and settings.cookie_secure is True
    assert settings.security.jwt_secret.get_secret_value().startswith("from-the-env")
    assert {"LEOFLOW_GATEWAY_BASE_URL", "LEOFLOW_GATEWAY_LOGS_ADDRESS", "LEOFLOW_JWT_SECRET"} <= env_var_names(GatewaySettings)


@pytest.mark.parametrize(
    ("given", "base_url", "base_href"),
    [
        ("/", "/", "/"),
        ("", "/", "/"),
        ("/airflow", "/airflow", "/airflow/"),
        ("airflow/", "/airflow", "/airflow/"),
        ("https://example.org/team/airflow/", "/team/airflow", "/team/airflow/"),
    ],
)
def test_base_url_keeps_only_the_path(monkeypatch, given, base_url, base_href):
    monkeypatch.setenv("LEOFLOW_JWT_SECRET", "x" * 40)
    settings = GatewaySettings(base_url=given)
    assert settings.base_url == base_url and settings.base_href == base_href


def test_the_default_ui_dir_is_the_one_fetch_ui_fills():
    from leoflow_api_gateway.settings import DEFAULT_UI_DIR, REPO_ROOT

    assert DEFAULT_UI_DIR == REPO_ROOT / "var" / "airflow-ui"
    assert (REPO_ROOT / "scripts" / "fetch-ui.sh").is_file()
