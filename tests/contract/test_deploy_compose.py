"""docker-compose.dev.yml: `docker-compose config` accepts it, every Leoflow service
is built from its own services/<svc>/Dockerfile, services wait for what they need
to be healthy, and the variables are the ones each service's settings read.

docker-compose is a hard requirement of this suite (no skip): scripts/bootstrap.sh
installs Debian's docker-compose where apt-get is available."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml
from leoflow_common.settings import env_var_names

from tests.contract.test_deploy_kustomize import ALSO_REQUIRED, REPO, SERVICE_SETTINGS

COMPOSE_FILE = REPO / "docker-compose.dev.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    tool = shutil.which("docker-compose")
    assert tool, (
        "docker-compose is required to check docker-compose.dev.yml: run scripts/bootstrap.sh "
        "(it installs Debian's docker-compose) or `apt-get install -y docker-compose`"
    )
    result = subprocess.run(
        [tool, "-f", str(COMPOSE_FILE), "config"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, f"docker-compose config refused the file:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


def leoflow_services(compose: dict) -> dict[str, tuple[str, dict]]:
    """compose service name -> (Leoflow service, definition), for our own images."""
    found = {}
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            parts = build["dockerfile"].split("/")
            assert parts[0] == "services" and parts[2] == "Dockerfile", build["dockerfile"]
            found[name] = (parts[1], service)
    return found


def test_every_service_is_built_from_its_own_dockerfile(compose):
    services = leoflow_services(compose)

    assert {svc for svc, _ in services.values()} == set(SERVICE_SETTINGS)
    for _name, (_svc, service) in services.items():
        assert (REPO / service["build"]["dockerfile"]).is_file()
        assert service["build"]["context"] == str(REPO)


def test_variables_are_the_ones_each_service_reads_and_are_accepted(compose, monkeypatch):
    for name, (svc, service) in leoflow_services(compose).items():
        env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
        unknown = sorted(
            n
            for n in env
            if n.startswith("LEOFLOW_") and n not in env_var_names(SERVICE_SETTINGS[svc])
        )
        assert unknown == [], f"{name}: {svc} does not read {unknown}"
        if service.get("command") == ["migrate"]:
            continue
        missing = sorted(ALSO_REQUIRED.get(svc, set()) - set(env))
        assert missing == [], f"{name} needs {missing}"
        for key in [k for k in os.environ if k.startswith("LEOFLOW_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        SERVICE_SETTINGS[svc]()  # required fields present, values valid


def test_services_wait_for_healthy_dependencies(compose):
    services = compose["services"]

    assert "healthcheck" in services["rabbitmq"]
    for name, (_svc, service) in leoflow_services(compose).items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            expected = (
                "service_completed_successfully" if dependency == "migrate" else "service_healthy"
            )
            assert condition["condition"] == expected, f"{name} -> {dependency}"
            assert dependency == "migrate" or "healthcheck" in services[dependency]
    assert services["scheduler"]["depends_on"]["migrate"]
    assert set(services["api-gateway"]["depends_on"]) == {"scheduler", "xcom", "logs", "dispatcher"}


def test_the_otel_collector_is_optional(compose):
    assert compose["services"]["otel-collector"]["profiles"] == ["otel"]
