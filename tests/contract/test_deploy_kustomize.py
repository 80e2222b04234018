"""deploy/kustomize: every overlay renders with `kubectl kustomize`, every rendered
resource passes `kubernetes-validate --strict` for a pinned Kubernetes version, and
the manifests agree with the code: each LEOFLOW_* variable a container gets is one
its service's settings read (required ones set, values accepted by the settings
class), the dispatcher's rights stop at pods in the task namespace, and the
containers are locked down.

kubectl is a hard requirement of this suite (no skip): the machine set-up
installs it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from leoflow_api_gateway.settings import GatewaySettings
from leoflow_common.settings import env_var_names
from leoflow_dispatcher.settings import DispatcherSettings
from leoflow_logs.settings import LogsSettings
from leoflow_scheduler.settings import SchedulerSettings
from leoflow_xcom.settings import XComSettings
from pydantic_settings import BaseSettings

REPO = Path(__file__).resolve().parents[2]
KUSTOMIZE = REPO / "deploy" / "kustomize"
OVERLAYS = sorted(p.name for p in (KUSTOMIZE / "overlays").iterdir() if p.is_dir())
# The oldest Kubernetes the manifests and task pods promise to work on.
KUBERNETES_VERSION = "1.32.0"
SERVICE_SETTINGS: dict[str, type[BaseSettings]] = {
    "api-gateway": GatewaySettings,
    "scheduler": SchedulerSettings,
    "dispatcher": DispatcherSettings,
    "xcom": XComSettings,
    "logs": LogsSettings,
}
# Set although their fields have defaults: the service refuses to start without them.
ALSO_REQUIRED = {
    "dispatcher": {"LEOFLOW_AGENT_TOKEN_SECRET", "LEOFLOW_DISPATCHER_ADVERTISE_ADDRESS"},
    "xcom": {"LEOFLOW_AGENT_TOKEN_SECRET"},
    "logs": {"LEOFLOW_AGENT_TOKEN_SECRET"},
}
WORKLOADS = ("Deployment", "StatefulSet", "Job")


def render(target: Path) -> list[dict]:
    kubectl = shutil.which("kubectl")
    assert kubectl, (
        "kubectl is required to render deploy/kustomize (install it: see docs/kubernetes.md)"
    )
    result = subprocess.run(
        [kubectl, "kustomize", str(target)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"kubectl kustomize {target} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


_RENDERED: dict[str, list[dict]] = {}


def rendered(overlay: str) -> list[dict]:
    if overlay not in _RENDERED:
        _RENDERED[overlay] = render(KUSTOMIZE / "overlays" / overlay)
    return _RENDERED[overlay]


def leoflow_containers(docs: list[dict]) -> Iterator[tuple[dict, dict, str]]:
    """(workload, container, service) for every container running a Leoflow image."""
    for doc in docs:
        if doc["kind"] not in WORKLOADS:
            continue
        template = doc["spec"]["jobTemplate"] if doc["kind"] == "CronJob" else doc["spec"]
        for container in template["template"]["spec"]["containers"]:
            service = service_of_image(container["image"])
            if service is not None:
                yield doc, container, service


def service_of_image(image: str) -> str | None:
    """ "registry.example.com/leoflow/xcom:0.1.0" -> "xcom"; None for other images."""
    path = image.split("@")[0]
    repository, _, last = path.rpartition("/")
    name = last.split(":")[0]
    owner = repository.rsplit("/", 1)[-1]
    return name if owner == "leoflow" and name in SERVICE_SETTINGS else None


def container_env(container: dict, docs: list[dict]) -> dict[str, str]:
    """The container's environment as its settings will see it: literal values and
    ConfigMap entries as rendered; Secret and field references as placeholders."""
    config_maps = {
        d["metadata"]["name"]: d.get("data") or {} for d in docs if d["kind"] == "ConfigMap"
    }
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        assert "secretRef" not in source, (
            f"{container['name']}: secrets must be named one by one (secretKeyRef), so the "
            "variables they set can be checked"
        )
        name = source["configMapRef"]["name"]
        assert name in config_maps, (
            f"{container['name']} reads ConfigMap {name}, which is not rendered"
        )
        env.update(config_maps[name])
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "secretKeyRef" in item["valueFrom"]:
            key = item["valueFrom"]["secretKeyRef"]["key"]
            env[item["name"]] = SECRET_STAND_INS.get(key, "secret-" + key)
        else:
            env[item["name"]] = "from-" + next(iter(item["valueFrom"]))
    return env


# Secrets whose format a service checks get a well-formed stand-in (LEOFLOW_SECRET_KEY: 32 bytes in hex).
SECRET_STAND_INS = {"secret-key": "0" * 64}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_renders_and_every_resource_passes_strict_validation(overlay):
    docs = rendered(overlay)

    assert docs
    problems = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message}")
    assert problems == []


def test_the_validator_rejects_what_the_api_would():
    # Guards the test above against a validator that accepts anything.
    deployment = next(d for d in rendered("dev") if d["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicie"] = "Always"

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_env_var_names_are_the_ones_each_service_reads(overlay):
    docs = rendered(overlay)
    seen = set()
    for workload, container, service in leoflow_containers(docs):
        seen.add(service)
        env = container_env(container, docs)
        known = env_var_names(SERVICE_SETTINGS[service])
        unknown = sorted(n for n in env if n.startswith("LEOFLOW_") and n not in known)
        assert unknown == [], f"{workload['metadata']['name']}: {service} does not read {unknown}"
        if workload["kind"] == "Job":
            continue  # the migration Job needs only the database
        required = {
            f"{prefix}{name}".upper()
            for cls in _settings_tree(SERVICE_SETTINGS[service])
            for name, field in cls.model_fields.items()
            if field.is_required() and not _is_settings(field.annotation)
            for prefix in [cls.model_config.get("env_prefix", "")]
        } | ALSO_REQUIRED.get(service, set())
        missing = sorted(required - set(env))
        assert missing == [], f"{workload['metadata']['name']}: {service} needs {missing}"
    assert seen == set(SERVICE_SETTINGS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_accepts_the_values_it_is_given(overlay, monkeypatch):
    docs = rendered(overlay)
    for workload, container, service in leoflow_containers(docs):
        if workload["kind"] == "Job":
            continue
        env = container_env(container, docs)
        for name in [n for n in os.environ if n.startswith("LEOFLOW_")]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        SERVICE_SETTINGS[service]()  # raises on a value the service would refuse


def test_the_dispatcher_may_only_manage_pods_in_the_task_namespace():
    docs = rendered("prod")
    kinds = {d["kind"] for d in docs}
    assert "ClusterRole" not in kinds and "ClusterRoleBinding" not in kinds
    (role,) = [d for d in docs if d["kind"] == "Role"]
    (binding,) = [d for d in docs if d["kind"] == "RoleBinding"]
    dispatcher = next(d for d in docs if d["kind"] == "StatefulSet")
    task_namespace = _config(docs, "leoflow-dispatcher-config")[
        "LEOFLOW_DISPATCHER_KUBERNETES_NAMESPACE"
    ]

    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == task_namespace
    assert {(tuple(r["resources"]), tuple(sorted(r["verbs"]))) for r in role["rules"]} == {
        (("pods",), ("create", "delete", "get", "list", "watch")),
        (("pods/log",), ("get",)),
        (("events",), ("get", "list", "watch")),
    }
    assert all(r["apiGroups"] == [""] for r in role["rules"])
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": dispatcher["spec"]["template"]["spec"]["serviceAccountName"],
            "namespace": dispatcher["metadata"]["namespace"],
        }
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_leoflow_containers_are_locked_down_and_probed(overlay):
    for workload, container, service in leoflow_containers(rendered(overlay)):
        pod = workload["spec"]["template"]["spec"]
        context = container["securityContext"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
        if workload["kind"] == "Job":
            continue
        probe = "httpGet" if service == "api-gateway" else "grpc"
        for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
            assert probe in container[kind], f"{service} {kind} is not {probe}"


def test_prod_runs_replicas_autoscales_the_stateless_services_and_has_no_datastores():
    docs = rendered("prod")
    workloads = {
        d["metadata"]["name"]: d for d in docs if d["kind"] in ("Deployment", "StatefulSet")
    }
    hpas = {
        d["spec"]["scaleTargetRef"]["name"] for d in docs if d["kind"] == "HorizontalPodAutoscaler"
    }
    pdbs = {d["metadata"]["name"] for d in docs if d["kind"] == "PodDisruptionBudget"}

    assert set(workloads) == {f"leoflow-{s}" for s in SERVICE_SETTINGS}
    assert all(w["spec"]["replicas"] > 1 for w in workloads.values())
    assert hpas == {"leoflow-api-gateway", "leoflow-xcom", "leoflow-logs"}
    assert pdbs >= set(workloads)
    secret_keys = {
        item["valueFrom"]["secretKeyRef"]["name"]
        for _, container, _ in leoflow_containers(docs)
        for item in container.get("env") or []
        if "secretKeyRef" in item.get("valueFrom", {})
    }
    assert secret_keys == {"leoflow-secrets"}  # created by the operator, not rendered
    assert "Secret" not in {d["kind"] for d in docs}


def test_dev_bundles_the_datastores_with_one_replica_each():
    docs = rendered("dev")
    names = {d["metadata"]["name"] for d in docs if d["kind"] in ("Deployment", "StatefulSet")}

    assert {
        "leoflow-postgres",
        "leoflow-rabbitmq",
        "leoflow-redis",
        "leoflow-otel-collector",
    } <= names
    assert all(
        d["spec"]["replicas"] == 1 for d in docs if d["kind"] in ("Deployment", "StatefulSet")
    )
    common = _config(docs, "leoflow-common")
    assert common["LEOFLOW_OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http://leoflow-otel-collector")


def test_the_dispatcher_keeps_its_identity_address_and_journal_across_restarts():
    docs = rendered("prod")
    (dispatcher,) = [d for d in docs if d["kind"] == "StatefulSet"]
    headless = next(
        d
        for d in docs
        if d["kind"] == "Service" and d["metadata"]["name"] == dispatcher["spec"]["serviceName"]
    )
    env = container_env(dispatcher["spec"]["template"]["spec"]["containers"][0], docs)

    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert env["LEOFLOW_DISPATCHER_BACKEND"] == "kubernetes"
    assert f".{headless['metadata']['name']}." in env["LEOFLOW_DISPATCHER_ADVERTISE_ADDRESS"]
    assert env["LEOFLOW_DISPATCHER_STOP_EXECUTIONS_ON_SHUTDOWN"] == "false"
    mounts = {
        m["mountPath"]
        for m in dispatcher["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    }
    assert env["LEOFLOW_DISPATCHER_WORK_DIR"] in mounts
    assert dispatcher["spec"]["volumeClaimTemplates"]


def _config(docs: list[dict], prefix: str) -> dict[str, str]:
    return next(
        d["data"]
        for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith(prefix + "-")
    )


def _is_settings(annotation) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseSettings)


def _settings_tree(cls: type[BaseSettings]) -> Iterator[type[BaseSettings]]:
    yield cls
    for field in cls.model_fields.values():
        if _is_settings(field.annotation):
            yield from _settings_tree(field.annotation)
