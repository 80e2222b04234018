"""task try -> V1Pod: a pure function of the launch request and the platform's
pod settings (no I/O, no clock), so it is tested from tables.

The pod runs the DAG's own image (pinned by digest when the registered version
knows it) with the agent as its command, as a non-root user on a read-only root
filesystem (an emptyDir at /tmp is the only writable place), without a service
account token, restartPolicy Never (a try is never restarted in place: a retry is
a new pod under a new name), and with activeDeadlineSeconds = execution_timeout +
startup allowance when the task has a timeout.

Environment: the task's own env from leoflow.yaml, then the agent's three
variables (they win over anything the task declares). Connections, variables and
other secrets never appear in the pod spec: the agent fetches them over gRPC and
hands them to the user's process only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kubernetes import client
from leoflow_proto.dag.v1.dag_pb2 import ExecutionSettings, Toleration
from leoflow_proto.dag.v1.execution_pb2 import TaskExecution

from ..base import LaunchFailed, LaunchRequest
from . import labels as L

AGENT_CONTAINER = "agent"
AGENT_COMMAND = ("python", "-m", "leoflow_agent")
BUNDLE_DIR = "/opt/leoflow/bundle"
ENV_DISPATCHER_ADDRESS = "LEOFLOW_AGENT_DISPATCHER_ADDRESS"
ENV_TOKEN = "LEOFLOW_AGENT_TOKEN"
ENV_BUNDLE_DIR = "LEOFLOW_AGENT_BUNDLE_DIR"
PULL_POLICIES = frozenset({"Always", "IfNotPresent", "Never"})
TOLERATION_OPERATORS = frozenset({"", "Exists", "Equal"})
TOLERATION_EFFECTS = frozenset({"", "NoSchedule", "PreferNoSchedule", "NoExecute"})
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Kubernetes' resource.Quantity: a decimal number and an optional suffix.
_QUANTITY = re.compile(
    r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?$"
)
_RESOURCE_NAME = re.compile(r"^([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_SELECTOR_KEY = re.compile(r"^([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


@dataclass(frozen=True, slots=True)
class PodPlatform:
    """The platform's part of every task pod (from KubernetesSettings)."""

    namespace: str
    deployment: str
    replica_id: str
    service_account: str = "leoflow-task"
    image_pull_policy: str = "IfNotPresent"
    image_pull_secrets: tuple[str, ...] = ()
    requests: Mapping[str, str] = field(default_factory=dict)
    limits: Mapping[str, str] = field(default_factory=dict)
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping, ...] = ()
    priority_class_name: str = ""
    run_as_user: int = 10001
    tmp_size_limit: str = "1Gi"
    startup_allowance: float = 180.0
    termination_grace: float = 10.0


def build_pod(request: LaunchRequest, platform: PodPlatform) -> client.V1Pod:
    """The pod that runs `request`'s try; LaunchFailed when the request cannot run
    on Kubernetes (no image, invalid settings)."""
    execution = request.execution
    user = platform.run_as_user
    return client.V1Pod(
        api_version="v1",
        kind="Pod",
        metadata=client.V1ObjectMeta(
            name=request.name,
            namespace=platform.namespace,
            labels=pod_labels(execution, platform),
            annotations=pod_annotations(execution),
        ),
        spec=client.V1PodSpec(
            restart_policy="Never",
            active_deadline_seconds=active_deadline(execution, platform.startup_allowance),
            termination_grace_period_seconds=max(1, math.ceil(platform.termination_grace)),
            service_account_name=_first(
                execution.task.execution.service_account,
                execution.environment.defaults.service_account,
                platform.service_account,
            ),
            # The agent needs no Kubernetes API access; nor does user code by default.
            automount_service_account_token=False,
            # Service links would put every Service of the namespace in the env.
            enable_service_links=False,
            node_selector=node_selector(execution, platform) or None,
            tolerations=tolerations(execution, platform) or None,
            image_pull_secrets=[
                client.V1LocalObjectReference(name=n) for n in platform.image_pull_secrets
            ]
            or None,
            priority_class_name=platform.priority_class_name or None,
            security_context=client.V1PodSecurityContext(
                run_as_non_root=True,
                run_as_user=user,
                run_as_group=user,
                fs_group=user,
                seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
            ),
            containers=[
                client.V1Container(
                    name=AGENT_CONTAINER,
                    image=image_reference(execution),
                    image_pull_policy=pull_policy(execution, platform),
                    command=list(AGENT_COMMAND),
                    working_dir=BUNDLE_DIR,
                    env=[client.V1EnvVar(name=k, value=v) for k, v in agent_env(request).items()],
                    resources=client.V1ResourceRequirements(
                        requests=resources(execution, "requests", platform.requests) or None,
                        limits=resources(execution, "limits", platform.limits) or None,
                    ),
                    security_context=client.V1SecurityContext(
                        allow_privilege_escalation=False,
                        privileged=False,
                        read_only_root_filesystem=True,
                        run_as_non_root=True,
                        capabilities=client.V1Capabilities(drop=["ALL"]),
                    ),
                    # On a failure the last lines of the agent's stderr become the
                    # container's termination message: the outcome carries them.
                    termination_message_policy="FallbackToLogsOnError",
                    volume_mounts=[client.V1VolumeMount(name="tmp", mount_path="/tmp")],
                )
            ],
            volumes=[
                client.V1Volume(
                    name="tmp",
                    empty_dir=client.V1EmptyDirVolumeSource(size_limit=platform.tmp_size_limit),
                )
            ],
        ),
    )


def agent_env(request: LaunchRequest) -> dict[str, str]:
    """The agent container's environment, in order.

    The agent token is in the pod spec, readable by whoever may `get pods` in the
    task namespace. That is acceptable because it is scoped to this one try (its
    own XComs, logs and reports; the upstream XComs it declared) and expires soon
    after the try's longest possible run. A hardening step is to mount a projected
    service-account token instead and exchange it for the agent token at start
    (TokenReview), so nothing secret is stored in the pod object at all.
    """
    env: dict[str, str] = {}
    for name, value in sorted(request.execution.task.env.items()):
        if not _ENV_NAME.match(name) or "\x00" in value:
            raise LaunchFailed(f"task env has an invalid variable name or value: {name!r}")
        env[name] = value
    env.setdefault("HOME", "/tmp")  # the root filesystem is read-only
    env["PYTHONUNBUFFERED"] = "1"
    env[ENV_DISPATCHER_ADDRESS] = request.dispatcher_address
    env[ENV_TOKEN] = request.agent_token
    env[ENV_BUNDLE_DIR] = BUNDLE_DIR
    return env


def image_reference(execution: TaskExecution) -> str:
    """The DAG version's image, pinned by digest when its digest is known."""
    environment = execution.environment
    image = environment.image.strip()
    if not image:
        raise LaunchFailed(
            "the DAG version has no container image: build and push one with "
            "`leoflow compile --build --push`, then push the DAG again"
        )
    digest = environment.image_digest.strip()
    if not digest or "@" in image:
        return image
    if not re.match(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$", digest):
        raise LaunchFailed(f"the DAG version's image digest {digest!r} is not a valid digest")
    name, _, tag = image.rpartition(":")
    # "registry:5000/repo" has a ":" that is not a tag separator.
    repository = name if name and "/" not in tag else image
    return f"{repository}@{digest}"


def active_deadline(execution: TaskExecution, startup_allowance: float) -> int | None:
    """execution_timeout + startup allowance, in whole seconds; None without a timeout."""
    task = execution.task
    if not task.HasField("execution_timeout"):
        return None
    seconds = task.execution_timeout.seconds + task.execution_timeout.nanos / 1e9
    if seconds <= 0:
        return None
    return math.ceil(seconds + startup_allowance)


def pull_policy(execution: TaskExecution, platform: PodPlatform) -> str:
    policy = _first(
        execution.task.execution.image_pull_policy,
        execution.environment.defaults.image_pull_policy,
        platform.image_pull_policy,
    )
    if policy not in PULL_POLICIES:
        raise LaunchFailed(
            f"image_pull_policy {policy!r} is not one of {', '.join(sorted(PULL_POLICIES))}"
        )
    return policy


def resources(execution: TaskExecution, which: str, platform: Mapping[str, str]) -> dict[str, str]:
    """Requests or limits: the platform's, overridden per resource by the DAG's
    defaults, then by the task's own."""
    field_name = "resource_requests" if which == "requests" else "resource_limits"
    merged = dict(platform)
    for layer in _layers(execution):
        merged.update(getattr(layer, field_name))
    for name, quantity in merged.items():
        if not _RESOURCE_NAME.match(name):
            raise LaunchFailed(f"resource {which} name {name!r} is not a valid resource name")
        if not _QUANTITY.match(quantity.strip()):
            raise LaunchFailed(f"resource {which} {name}={quantity!r} is not a Kubernetes quantity")
    return {name: quantity.strip() for name, quantity in merged.items()}


def node_selector(execution: TaskExecution, platform: PodPlatform) -> dict[str, str]:
    merged = dict(platform.node_selector)
    for layer in _layers(execution):
        merged.update(layer.node_selector)
    for key, value in merged.items():
        if not _SELECTOR_KEY.match(key) or not L.is_valid_label_value(value):
            raise LaunchFailed(f"node_selector {key}={value!r} is not a valid label selector")
    return merged


def tolerations(execution: TaskExecution, platform: PodPlatform) -> list[client.V1Toleration]:
    """The platform's tolerations plus the DAG's and the task's (a toleration only
    permits, so adding never breaks placement the platform relies on)."""
    result: list[client.V1Toleration] = []
    seen: set[tuple] = set()
    candidates = [_toleration_from_mapping(t) for t in platform.tolerations]
    for layer in reversed(list(_layers(execution))):
        candidates.extend(_toleration_from_proto(t) for t in layer.tolerations)
    for toleration in candidates:
        identity = (
            toleration.key,
            toleration.operator,
            toleration.value,
            toleration.effect,
            toleration.toleration_seconds,
        )
        if identity not in seen:
            seen.add(identity)
            result.append(toleration)
    return result


def pod_labels(execution: TaskExecution, platform: PodPlatform) -> dict[str, str]:
    key = execution.key
    return {
        L.MANAGED_BY: L.MANAGED_BY_VALUE,
        L.COMPONENT: L.COMPONENT_VALUE,
        L.DEPLOYMENT: L.label_value(platform.deployment),
        L.DISPATCHER: L.label_value(platform.replica_id),
        L.TENANT: L.label_value(execution.tenant_id),
        L.DAG_ID: L.label_value(key.dag_id),
        L.RUN_ID: L.label_value(key.run_id),
        L.TASK_ID: L.label_value(key.task_id),
        L.MAP_INDEX: str(key.map_index),
        L.TRY_NUMBER: str(execution.try_number),
        L.DISPATCH_ATTEMPT: str(execution.dispatch_attempt),
    }


def pod_annotations(execution: TaskExecution) -> dict[str, str]:
    key = execution.key
    annotations = {
        L.TENANT: execution.tenant_id,
        L.DAG_ID: key.dag_id,
        L.RUN_ID: key.run_id,
        L.TASK_ID: key.task_id,
        L.MAP_INDEX: str(key.map_index),
        L.TRY_NUMBER: str(execution.try_number),
        L.DISPATCH_ATTEMPT: str(execution.dispatch_attempt),
    }
    if execution.task_instance_id:
        annotations[L.TASK_INSTANCE_ID] = execution.task_instance_id
    if execution.dag_version_id:
        annotations[L.DAG_VERSION] = execution.dag_version_id
    return annotations


def _layers(execution: TaskExecution) -> Iterable[ExecutionSettings]:
    """The DAG's defaults, then the task's own settings (later wins)."""
    yield execution.environment.defaults
    yield execution.task.execution


def _first(*values: str) -> str:
    return next((v.strip() for v in values if v and v.strip()), "")


def _toleration_from_proto(toleration: Toleration) -> client.V1Toleration:
    seconds = toleration.toleration_seconds if toleration.HasField("toleration_seconds") else None
    return _toleration(
        toleration.key, toleration.operator, toleration.value, toleration.effect, seconds
    )


def _toleration_from_mapping(raw: Mapping) -> client.V1Toleration:
    seconds = raw.get("toleration_seconds", raw.get("tolerationSeconds"))
    return _toleration(
        str(raw.get("key", "")),
        str(raw.get("operator", "")),
        str(raw.get("value", "")),
        str(raw.get("effect", "")),
        int(seconds) if seconds is not None else None,
    )


def _toleration(
    key: str, operator: str, value: str, effect: str, seconds: int | None
) -> client.V1Toleration:
    if operator not in TOLERATION_OPERATORS:
        raise LaunchFailed(f"toleration operator {operator!r} is not Exists or Equal")
    if effect not in TOLERATION_EFFECTS:
        raise LaunchFailed(f"toleration effect {effect!r} is not a taint effect")
    if operator == "Exists" and value:
        raise LaunchFailed(f"toleration {key!r} with operator Exists cannot have a value")
    return client.V1Toleration(
        key=key or None,
        operator=operator or None,
        value=value or None,
        effect=effect or None,
        toleration_seconds=seconds,
    )
