"""A small client of the gateway's REST API (Airflow's /api/v2 plus Leoflow's
version registration), shared by the CLI commands.

Where the server is and who we are: --server / LEOFLOW_SERVER (default the local
Lite at http://127.0.0.1:8088), then a token from --token / LEOFLOW_TOKEN, else
username and password (LEOFLOW_USERNAME / LEOFLOW_PASSWORD) exchanged at
/auth/token, else the credentials file Lite writes for its owner."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from ._errors import EXIT_BAD_INPUT, EXIT_FAILURE, CliError

DEFAULT_SERVER = "http://127.0.0.1:8088"


def leoflow_home() -> Path:
    return Path(os.environ.get("LEOFLOW_HOME") or Path.home() / ".leoflow")


def credentials_file() -> Path:
    return leoflow_home() / "credentials.json"


def _path(*parts: str) -> str:
    return "/".join(quote(p, safe="~") for p in parts)


class GatewayClient:
    def __init__(self, server: str | None = None, token: str | None = None, *, timeout: float = 30.0):
        saved = self._saved_credentials()
        self.server = (server or os.environ.get("LEOFLOW_SERVER") or saved.get("server") or DEFAULT_SERVER).rstrip("/")
        self._token = token or os.environ.get("LEOFLOW_TOKEN") or None
        if self._token is None and saved.get("server", "").rstrip("/") == self.server:
            self._token = saved.get("token")
        self._http = httpx.Client(base_url=self.server, timeout=timeout)

    @staticmethod
    def _saved_credentials() -> dict[str, str]:
        try:
            return json.loads(credentials_file().read_text())
        except (OSError, ValueError):
            return {}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- auth ----------------------------------------------------------------------

    def login(self, username: str, password: str) -> str:
        data = self._send("POST", "/auth/token", json={"username": username, "password": password}, auth=False)
        self._token = data["access_token"]
        return self._token

    def _ensure_token(self) -> None:
        if self._token:
            return
        user, password = os.environ.get("LEOFLOW_USERNAME"), os.environ.get("LEOFLOW_PASSWORD")
        if user and password:
            self.login(user, password)
            return
        raise CliError(
            f"not logged in to {self.server}: pass --token or set LEOFLOW_TOKEN, or LEOFLOW_USERNAME and LEOFLOW_PASSWORD",
            EXIT_BAD_INPUT,
        )

    # -- transport -----------------------------------------------------------------

    def _send(self, method: str, path: str, *, auth: bool = True, **kwargs) -> Any:
        headers = kwargs.pop("headers", {})
        if auth:
            self._ensure_token()
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            response = self._http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach {self.server}: {exc}") from exc
        if response.status_code >= 400:
            raise CliError(f"{method} {path}: {response.status_code} {_detail(response)}", EXIT_BAD_INPUT if response.status_code < 500 else EXIT_FAILURE)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise CliError(f"{method} {path}: the server answered something that is not JSON") from exc

    # -- operations ----------------------------------------------------------------

    def register_version(self, dag_json: dict) -> dict:
        return self._send("POST", f"/api/v2/dags/{_path(dag_json['dag_id'])}/versions", json=dag_json)

    def list_dags(self, **params) -> dict:
        return self._send("GET", "/api/v2/dags", params={k: v for k, v in params.items() if v is not None})

    def patch_dag(self, dag_id: str, **body) -> dict:
        return self._send("PATCH", f"/api/v2/dags/{_path(dag_id)}", json=body)

    def trigger(self, dag_id: str, conf: dict | None = None, run_id: str | None = None, logical_date: str | None = None) -> dict:
        body: dict[str, Any] = {"logical_date": logical_date, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        return self._send("POST", f"/api/v2/dags/{_path(dag_id)}/dagRuns", json=body)

    def get_run(self, dag_id: str, run_id: str) -> dict:
        return self._send("GET", f"/api/v2/dags/{_path(dag_id)}/dagRuns/{_path(run_id)}")

    def list_runs(self, dag_id: str, limit: int = 1, order_by: str = "-run_after") -> dict:
        return self._send("GET", f"/api/v2/dags/{_path(dag_id)}/dagRuns", params={"limit": limit, "order_by": order_by})

    def list_task_instances(self, dag_id: str, run_id: str) -> dict:
        return self._send("GET", f"/api/v2/dags/{_path(dag_id)}/dagRuns/{_path(run_id)}/taskInstances", params={"limit": 1000})


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        return response.text[:300]
    if isinstance(detail, list):  # FastAPI-style validation errors
        return "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail if isinstance(d, dict))
    return str(detail)
