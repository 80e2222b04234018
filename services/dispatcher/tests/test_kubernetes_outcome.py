"""pod -> outcome, from real pod JSON (one fixture per outcome, shaped after the
Kubernetes API reference), for both answers to "had user code started?"."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kubernetes import client
from leoflow_dispatcher.backends.kubernetes.backend import exit_of
from leoflow_dispatcher.backends.kubernetes.outcome import (
    PodLimits,
    PodOutcomeReason,
    assess_pod,
)
from leoflow_proto.common.v1 import states_pb2

FIXTURES = Path(__file__).with_name("fixtures") / "pods"
CREATED = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
LIMITS = PodLimits(image_pull_grace=120, unschedulable_timeout=600)
SOON = CREATED + timedelta(seconds=30)
LATE = CREATED + timedelta(hours=1)
R = PodOutcomeReason
INFRA = states_pb2.FAILURE_KIND_INFRASTRUCTURE
USER = states_pb2.FAILURE_KIND_USER_ERROR
TIMEOUT = states_pb2.FAILURE_KIND_TIMEOUT
LOST = states_pb2.FAILURE_KIND_HEARTBEAT_LOST
NONE = states_pb2.FAILURE_KIND_UNSPECIFIED


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


# fixture, now, deleted -> reason, ended, exit code, kind if started, kind if not,
# needs delete, words the message must hold
TABLE = [
    (
        "pending_container_creating",
        LATE,
        False,
        R.PENDING,
        False,
        None,
        NONE,
        NONE,
        False,
        "starting",
    ),
    ("running", LATE, False, R.RUNNING, False, None, NONE, NONE, False, "running"),
    ("succeeded", LATE, False, R.SUCCEEDED, True, 0, NONE, NONE, False, "reported"),
    ("failed_exit_code", LATE, False, R.FAILED, True, 1, USER, INFRA, False, "could not register"),
    ("oom_killed", LATE, False, R.OOM_KILLED, True, 137, USER, INFRA, False, "limits.memory"),
    ("evicted", LATE, False, R.EVICTED, True, 137, LOST, INFRA, False, "low on resource: memory"),
    (
        "image_pull_backoff",
        SOON,
        False,
        R.PENDING,
        False,
        None,
        NONE,
        NONE,
        False,
        "401 Unauthorized",
    ),
    (
        "image_pull_backoff",
        LATE,
        False,
        R.IMAGE_PULL_FAILED,
        True,
        None,
        INFRA,
        INFRA,
        True,
        "401 Unauthorized",
    ),
    ("err_image_pull", SOON, False, R.PENDING, False, None, NONE, NONE, False, "not found"),
    (
        "err_image_pull",
        LATE,
        False,
        R.IMAGE_PULL_FAILED,
        True,
        None,
        INFRA,
        INFRA,
        True,
        "ErrImagePull",
    ),
    # An invalid reference never heals: no grace period.
    (
        "invalid_image_name",
        SOON,
        False,
        R.INVALID_IMAGE,
        True,
        None,
        INFRA,
        INFRA,
        True,
        "must be lowercase",
    ),
    (
        "create_container_config_error",
        SOON,
        False,
        R.PENDING,
        False,
        None,
        NONE,
        NONE,
        False,
        "runAsNonRoot",
    ),
    (
        "create_container_config_error",
        LATE,
        False,
        R.CONTAINER_CONFIG_ERROR,
        True,
        None,
        INFRA,
        INFRA,
        True,
        "image will run as root",
    ),
    (
        "unschedulable",
        SOON,
        False,
        R.PENDING,
        False,
        None,
        NONE,
        NONE,
        False,
        "Insufficient memory",
    ),
    (
        "unschedulable",
        LATE,
        False,
        R.UNSCHEDULABLE,
        True,
        None,
        INFRA,
        INFRA,
        True,
        "Insufficient memory",
    ),
    (
        "deadline_exceeded",
        LATE,
        False,
        R.DEADLINE_EXCEEDED,
        True,
        137,
        TIMEOUT,
        INFRA,
        False,
        "activeDeadlineSeconds",
    ),
    ("node_lost_unknown", LATE, False, R.NODE_LOST, True, None, LOST, INFRA, True, "unresponsive"),
    (
        "deleted_node_gone",
        LATE,
        True,
        R.NODE_LOST,
        True,
        None,
        LOST,
        INFRA,
        False,
        "DeletionByTaintManager",
    ),
    (
        "deleted_while_running",
        LATE,
        True,
        R.DELETED,
        True,
        None,
        LOST,
        INFRA,
        False,
        "deleted before it finished",
    ),
    # A pod that finished before it was deleted keeps its real outcome.
    ("succeeded", LATE, True, R.SUCCEEDED, True, 0, NONE, NONE, False, "reported"),
    ("oom_killed", LATE, True, R.OOM_KILLED, True, 137, USER, INFRA, False, "OOMKilled"),
]


@pytest.mark.parametrize(
    "fixture,now,deleted,reason,ended,exit_code,kind_started,kind_not_started,needs_delete,words",
    TABLE,
    ids=[
        f"{row[0]}{'-late' if row[1] is LATE else '-soon'}{'-deleted' if row[2] else ''}"
        for row in TABLE
    ],
)
def test_outcome_of_each_pod(
    fixture,
    now,
    deleted,
    reason,
    ended,
    exit_code,
    kind_started,
    kind_not_started,
    needs_delete,
    words,
):
    outcome = assess_pod(load(fixture), now=now, limits=LIMITS, deleted=deleted)

    assert outcome.reason is reason
    assert outcome.ended is ended
    assert outcome.exit_code == exit_code
    assert outcome.failure_kind(True) == kind_started
    assert outcome.failure_kind(False) == kind_not_started
    assert outcome.needs_delete is needs_delete
    assert words in outcome.message


@pytest.mark.parametrize("fixture", [row[0] for row in TABLE])
def test_infrastructure_outcomes_never_consume_a_try_before_user_code_started(fixture):
    outcome = assess_pod(load(fixture), now=LATE, limits=LIMITS)

    assert not outcome.consumes_try(user_code_started=False)


def test_which_outcomes_consume_a_try_once_user_code_started():
    consuming = {
        name
        for name in (
            "failed_exit_code",
            "oom_killed",
            "evicted",
            "deadline_exceeded",
            "node_lost_unknown",
        )
        if assess_pod(load(name), now=LATE, limits=LIMITS).consumes_try(user_code_started=True)
    }
    never = {
        name
        for name in ("succeeded", "image_pull_backoff", "unschedulable", "invalid_image_name")
        if assess_pod(load(name), now=LATE, limits=LIMITS).consumes_try(user_code_started=True)
    }

    assert consuming == {
        "failed_exit_code",
        "oom_killed",
        "evicted",
        "deadline_exceeded",
        "node_lost_unknown",
    }
    assert never == set()


def test_grace_periods_count_from_the_pod_start_and_creation():
    pod = load("image_pull_backoff")  # startTime 10:00:01
    just_before = CREATED + timedelta(seconds=120)
    just_after = CREATED + timedelta(seconds=121)

    assert not assess_pod(pod, now=just_before, limits=LIMITS).ended
    assert assess_pod(pod, now=just_after, limits=LIMITS).ended
    unschedulable = load("unschedulable")  # no startTime: never scheduled
    assert not assess_pod(unschedulable, now=CREATED + timedelta(seconds=599), limits=LIMITS).ended
    assert assess_pod(unschedulable, now=CREATED + timedelta(seconds=600), limits=LIMITS).ended


def test_a_v1pod_model_is_assessed_like_its_json():
    raw = load("oom_killed")
    model = client.ApiClient().deserialize(json.dumps(raw), "V1Pod", "application/json")

    assert isinstance(model, client.V1Pod)
    assert assess_pod(model, now=LATE, limits=LIMITS) == assess_pod(raw, now=LATE, limits=LIMITS)


def test_a_pod_without_status_is_pending():
    assert assess_pod({"metadata": {"name": "x"}}, now=LATE, limits=LIMITS).reason is R.PENDING


def test_the_supervisor_gets_a_cause_for_failures_and_none_for_success():
    failed = exit_of("p", assess_pod(load("evicted"), now=LATE, limits=LIMITS))
    succeeded = exit_of("p", assess_pod(load("succeeded"), now=LATE, limits=LIMITS))

    assert failed.cause is not None
    assert failed.cause.kind(True) == LOST and failed.cause.kind(False) == INFRA
    assert failed.exit_code == 137 and "evicted" in failed.cause.message
    assert succeeded.cause is None and succeeded.exit_code == 0
