"""Composition of the kubernetes backend from the dispatcher's settings (the only
place that reads them; everything below takes plain values)."""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING

from .api import PodsApi, api_client_from
from .backend import KubernetesBackend
from .outcome import PodLimits
from .pod_spec import PodPlatform

if TYPE_CHECKING:
    from ...settings import DispatcherSettings

log = logging.getLogger(__name__)


def create_kubernetes_backend(settings: DispatcherSettings) -> KubernetesBackend:
    """A KubernetesBackend for `settings` (a kubeconfig file, or in-cluster)."""
    k8s = settings.kubernetes
    patience = max(k8s.image_pull_grace, k8s.unschedulable_timeout)
    if settings.startup_timeout <= patience:
        # The supervisor's "agent never called" would fire first, with a vaguer reason.
        log.warning(
            "LEOFLOW_DISPATCHER_STARTUP_TIMEOUT (%gs) should exceed the image pull grace and "
            "the unschedulable timeout (%gs), so that pods fail with their own reason",
            settings.startup_timeout,
            patience,
        )
    # In a StatefulSet the host name is the pod name: stable across restarts.
    replica_id = k8s.replica_id or socket.gethostname()
    api = PodsApi(
        api_client_from(k8s.kubeconfig, k8s.context),
        k8s.namespace,
        request_timeout=k8s.request_timeout,
    )
    platform = PodPlatform(
        namespace=k8s.namespace,
        deployment=k8s.deployment,
        replica_id=replica_id,
        service_account=k8s.service_account,
        image_pull_policy=k8s.image_pull_policy,
        image_pull_secrets=tuple(k8s.image_pull_secrets),
        requests=dict(k8s.default_requests),
        limits=dict(k8s.default_limits),
        node_selector=dict(k8s.node_selector),
        tolerations=tuple(k8s.tolerations),
        priority_class_name=k8s.priority_class_name,
        run_as_user=k8s.run_as_user,
        tmp_size_limit=k8s.tmp_size_limit,
        startup_allowance=k8s.startup_allowance,
        termination_grace=settings.kill_grace,
    )
    return KubernetesBackend(
        api=api,
        platform=platform,
        limits=PodLimits(
            image_pull_grace=k8s.image_pull_grace,
            unschedulable_timeout=k8s.unschedulable_timeout,
        ),
        kill_grace=settings.kill_grace,
        pod_retention=k8s.pod_retention,
        assess_interval=settings.supervision_interval,
        watch_timeout=k8s.watch_timeout,
        page_size=k8s.list_page_size,
        api_retries=k8s.api_retries,
    )
