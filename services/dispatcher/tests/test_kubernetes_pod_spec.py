"""task try -> V1Pod: the whole pod for one try against a reviewed fixture, then
tables of each part (image pinning, deadline, layered settings, labels, env),
the refusals, and schema validation of what is built."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
from kubernetes import client
from leoflow_dispatcher.backends.base import LaunchFailed
from leoflow_dispatcher.backends.kubernetes import labels as L
from leoflow_dispatcher.backends.kubernetes.pod_spec import build_pod
from leoflow_proto.dag.v1.dag_pb2 import ExecutionSettings, Toleration

from services.dispatcher.tests.kube_helpers import (
    DIGEST,
    DISPATCHER_ADDRESS,
    TOKEN,
    launch_request,
    platform,
    task_execution,
)

FIXTURES = Path(__file__).with_name("fixtures") / "pods"
KUBERNETES_VERSION = "1.32.0"


def as_json(pod: client.V1Pod) -> dict:
    return client.ApiClient().sanitize_for_serialization(pod)


def build(**kwargs) -> dict:
    plat = kwargs.pop("plat", None) or platform()
    return as_json(build_pod(launch_request(**kwargs), plat))


def container(pod: dict) -> dict:
    (agent,) = pod["spec"]["containers"]
    return agent


def test_the_pod_of_one_try_is_exactly_the_reviewed_one():
    expected = json.loads((FIXTURES / "built_etl_sales_load.json").read_text())

    assert build() == expected


def test_every_built_pod_is_valid_for_the_kubernetes_api():
    gpu = ExecutionSettings(
        resource_limits={"nvidia.com/gpu": "1", "memory": "8Gi"},
        node_selector={"cloud.google.com/gke-accelerator": "nvidia-l4"},
        tolerations=[Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")],
        service_account="trainer",
        image_pull_policy="Always",
    )
    for pod in (
        build(),
        build(timeout=None, digest=""),
        build(task_settings=gpu, map_index=7, run_id="manual__2026-11-22T10:11:12.123456+00:00"),
        build(plat=platform(image_pull_secrets=("regcred",), priority_class_name="batch")),
    ):
        kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize(
    "image,digest,expected",
    [
        (
            "registry.example.com/leoflow/etl:4f0c",
            DIGEST,
            f"registry.example.com/leoflow/etl@{DIGEST}",
        ),
        (
            "registry.example.com:5000/leoflow/etl",
            DIGEST,
            f"registry.example.com:5000/leoflow/etl@{DIGEST}",
        ),
        ("registry.example.com:5000/etl:v1", DIGEST, f"registry.example.com:5000/etl@{DIGEST}"),
        ("leoflow/etl:4f0c", "", "leoflow/etl:4f0c"),
        (f"leoflow/etl@{DIGEST}", DIGEST, f"leoflow/etl@{DIGEST}"),
    ],
)
def test_the_image_is_pinned_by_digest_when_known(image, digest, expected):
    assert container(build(image=image, digest=digest))["image"] == expected


@pytest.mark.parametrize(
    "timeout,allowance,expected", [(120, 180.0, 300), (1, 0.5, 2), (None, 180.0, None)]
)
def test_active_deadline_is_the_execution_timeout_plus_the_startup_allowance(
    timeout, allowance, expected
):
    pod = build(timeout=timeout, plat=platform(startup_allowance=allowance))

    assert pod["spec"].get("activeDeadlineSeconds") == expected


def test_settings_layer_task_over_dag_defaults_over_platform():
    dag = ExecutionSettings(
        resource_requests={"memory": "512Mi"},
        node_selector={"pool": "batch", "zone": "a"},
        tolerations=[Toleration(key="batch", operator="Exists", effect="NoSchedule")],
        service_account="dag-sa",
        image_pull_policy="Always",
    )
    task = ExecutionSettings(
        resource_requests={"cpu": "2"},
        resource_limits={"cpu": "4"},
        node_selector={"zone": "b"},
        tolerations=[
            Toleration(
                key="gpu", operator="Equal", value="yes", effect="NoExecute", toleration_seconds=60
            )
        ],
        service_account="task-sa",
    )
    plat = platform(
        node_selector={"kubernetes.io/os": "linux"},
        tolerations=({"key": "leoflow", "operator": "Exists"},),
    )
    pod = build(task_settings=task, dag_defaults=dag, plat=plat)
    spec, agent = pod["spec"], container(pod)

    assert agent["resources"] == {
        "requests": {"cpu": "2", "memory": "512Mi"},
        "limits": {"memory": "1Gi", "cpu": "4"},
    }
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux", "pool": "batch", "zone": "b"}
    assert spec["tolerations"] == [
        {"key": "leoflow", "operator": "Exists"},
        {
            "key": "gpu",
            "operator": "Equal",
            "value": "yes",
            "effect": "NoExecute",
            "tolerationSeconds": 60,
        },
        {"key": "batch", "operator": "Exists", "effect": "NoSchedule"},
    ]
    assert spec["serviceAccountName"] == "task-sa"
    assert agent["imagePullPolicy"] == "Always"


def test_platform_defaults_apply_when_nothing_else_is_said():
    pod = build(plat=platform(service_account="leoflow-task", image_pull_policy="Never"))

    assert pod["spec"]["serviceAccountName"] == "leoflow-task"
    assert container(pod)["imagePullPolicy"] == "Never"
    assert "nodeSelector" not in pod["spec"] and "tolerations" not in pod["spec"]


def test_the_pod_is_locked_down():
    pod = build()
    spec, agent = pod["spec"], container(pod)

    assert spec["restartPolicy"] == "Never"
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert agent["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }
    assert agent["volumeMounts"] == [{"mountPath": "/tmp", "name": "tmp"}]
    assert spec["volumes"][0]["emptyDir"]
    assert agent["command"] == ["python", "-m", "leoflow_agent"]


def test_env_holds_the_task_env_and_the_agent_variables_and_nothing_else():
    pod = build(env={"REGION": "eu", "LEOFLOW_AGENT_TOKEN": "forged", "HOME": "/data"})
    env = {e["name"]: e["value"] for e in container(pod)["env"]}

    assert env == {
        "REGION": "eu",
        "HOME": "/data",
        "PYTHONUNBUFFERED": "1",
        "LEOFLOW_AGENT_DISPATCHER_ADDRESS": DISPATCHER_ADDRESS,
        "LEOFLOW_AGENT_TOKEN": TOKEN,
        "LEOFLOW_AGENT_BUNDLE_DIR": "/opt/leoflow/bundle",
    }
    assert all("valueFrom" not in e for e in container(pod)["env"])


def test_labels_are_valid_and_annotations_keep_the_exact_identity():
    run_id = "manual__2026-11-22T10:11:12.123456+00:00"
    dag_id = "a" * 150 + ".weird dag"
    pod = build(dag_id=dag_id, run_id=run_id, map_index=12, try_number=3, dispatch_attempt=2)
    labels, annotations = pod["metadata"]["labels"], pod["metadata"]["annotations"]

    assert all(L.is_valid_label_value(value) for value in labels.values())
    assert annotations[L.RUN_ID] == run_id and annotations[L.DAG_ID] == dag_id
    assert labels[L.MAP_INDEX] == "12" and labels[L.TRY_NUMBER] == "3"
    assert labels[L.DISPATCH_ATTEMPT] == "2"
    assert labels[L.DISPATCHER] == "leoflow-dispatcher-0"
    assert len(pod["metadata"]["name"]) <= 63


@pytest.mark.parametrize(
    "value,expected",
    [
        ("etl_sales", "etl_sales"),
        ("", ""),
        ("scheduled__2026-11-22T00:00:00+00:00", "scheduled__2026-11-22T00_00_00_00_00-71bbca42f8"),
        ("-leading", "leading-"),
    ],
)
def test_label_values_are_kept_when_valid_and_hashed_when_changed(value, expected):
    result = L.label_value(value)

    assert L.is_valid_label_value(result)
    assert result.startswith(expected)


def test_different_values_never_share_a_sanitized_label():
    assert L.label_value("a:b") != L.label_value("a+b")
    assert L.label_value("x" * 64) != L.label_value("x" * 65)


@pytest.mark.parametrize(
    "kwargs,words",
    [
        (dict(image=""), "no container image"),
        (dict(digest="md5:abc"), "not a valid digest"),
        (dict(env={"BAD-NAME": "x"}), "invalid variable name"),
        (dict(task_settings=ExecutionSettings(image_pull_policy="Sometimes")), "image_pull_policy"),
        (
            dict(task_settings=ExecutionSettings(resource_requests={"memory": "lots"})),
            "not a Kubernetes quantity",
        ),
        (dict(task_settings=ExecutionSettings(node_selector={"zone": "a b"})), "node_selector"),
        (
            dict(
                task_settings=ExecutionSettings(tolerations=[Toleration(key="k", operator="Maybe")])
            ),
            "operator",
        ),
        (
            dict(
                task_settings=ExecutionSettings(
                    tolerations=[Toleration(key="k", operator="Exists", value="v")]
                )
            ),
            "cannot have a value",
        ),
    ],
)
def test_what_cannot_run_is_refused_with_a_clear_message(kwargs, words):
    with pytest.raises(LaunchFailed, match=words):
        build_pod(launch_request(task_execution(**kwargs)), platform())


def test_the_builder_is_deterministic():
    assert build() == build()
