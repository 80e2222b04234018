"""Settings of the kubernetes execution backend (prefix LEOFLOW_DISPATCHER_KUBERNETES_),
embedded in DispatcherSettings as `kubernetes`. Maps and lists are JSON in the
environment, e.g. LEOFLOW_DISPATCHER_KUBERNETES_DEFAULT_REQUESTS='{"cpu": "250m"}'.
Durations are seconds.

The platform defaults here are the last layer of a task pod's resources,
placement and identity: the task's own `execution` settings win, then its DAG's
defaults from leoflow.yaml, then these (resources and node selectors merge key by
key; tolerations add up).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PULL_POLICIES = ("Always", "IfNotPresent", "Never")


class KubernetesSettings(BaseSettings):
    """What the kubernetes backend reads from the dispatcher's environment."""

    model_config = SettingsConfigDict(env_prefix="LEOFLOW_DISPATCHER_KUBERNETES_", extra="ignore")

    namespace: str = Field(default="leoflow-tasks", description="Namespace task pods run in")
    kubeconfig: Path | None = Field(
        default=None,
        description="kubeconfig file to use; unset: the in-cluster service account",
    )
    context: str = Field(default="", description="kubeconfig context (empty: its current one)")
    deployment: str = Field(
        default="leoflow",
        description="Names this Leoflow installation in pod labels, so installations can share a namespace",
    )
    replica_id: str = Field(
        default="",
        description="This dispatcher replica's stable identity (pod labels); empty: the host name",
    )
    service_account: str = Field(
        default="leoflow-task", description="Service account of task pods that name none"
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        default="IfNotPresent", description="Image pull policy of task pods that name none"
    )
    image_pull_secrets: list[str] = Field(
        default_factory=list,
        description="Names of Secrets with registry credentials for task images",
    )
    default_requests: dict[str, str] = Field(
        default_factory=lambda: {"cpu": "100m", "memory": "256Mi"},
        description="Resource requests of task pods, per resource",
    )
    default_limits: dict[str, str] = Field(
        default_factory=lambda: {"memory": "1Gi"},
        description="Resource limits of task pods, per resource",
    )
    node_selector: dict[str, str] = Field(
        default_factory=dict, description="Node selector of task pods, per label"
    )
    tolerations: list[dict] = Field(
        default_factory=list,
        description='Tolerations every task pod gets, e.g. [{"key": "leoflow", "operator": "Exists"}]',
    )
    priority_class_name: str = Field(default="", description="Priority class of task pods")
    run_as_user: int = Field(default=10001, ge=1, description="UID task containers run as")
    tmp_size_limit: str = Field(
        default="1Gi", description="Size limit of the emptyDir mounted at /tmp in task pods"
    )
    startup_allowance: float = Field(
        default=180.0,
        ge=0,
        description="Added to execution_timeout for a pod's activeDeadlineSeconds (image pull, agent start)",
    )
    image_pull_grace: float = Field(
        default=120.0,
        ge=0,
        description="How long a pod may fail to pull its image (or create its container) before the try fails",
    )
    unschedulable_timeout: float = Field(
        default=600.0,
        ge=0,
        description="How long a pod may stay unschedulable before the try fails",
    )
    pod_retention: float = Field(
        default=600.0,
        ge=0,
        description="How long finished pods are kept (for kubectl) before deletion",
    )
    watch_timeout: int = Field(
        default=300, ge=1, description="Seconds one watch request lasts before it is renewed"
    )
    request_timeout: float = Field(
        default=30.0, gt=0, description="Deadline of one Kubernetes API call (not watches)"
    )
    list_page_size: int = Field(default=500, ge=1, description="Pods per page when listing")
    api_retries: int = Field(
        default=3, ge=0, description="Retries of a create or delete whose connection failed"
    )

    @field_validator("image_pull_secrets")
    @classmethod
    def _no_blank_secret_names(cls, value: list[str]) -> list[str]:
        return [name for name in (v.strip() for v in value) if name]
