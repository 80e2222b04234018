"""Execution backends: `local` (one OS process per task try, from the DAG's own
virtualenv) and `kubernetes` (one pod per try, from the DAG's own image)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .base import ExecutionBackend, ExecutionExit, ExitHandler, LaunchFailed, LaunchRequest

if TYPE_CHECKING:  # settings imports backends.kubernetes.settings: no cycle at run time
    from ..settings import DispatcherSettings


def create_backend(
    settings: DispatcherSettings, *, host_env: Mapping[str, str]
) -> ExecutionBackend:
    """The backend `settings.backend` names."""
    if settings.backend == "local":
        from .local.backend import LocalBackend
        from .local.compose import create_warm_pools

        return LocalBackend(
            work_dir=settings.work_dir / "processes",
            venv_root=settings.venv_root,
            fallback_python=settings.fallback_python,
            host_env=host_env,
            kill_grace=settings.kill_grace,
            poll_interval=settings.supervision_interval,
            warm_pools=create_warm_pools(settings, host_env=host_env),
        )
    if settings.backend == "kubernetes":
        from .kubernetes.compose import create_kubernetes_backend

        return create_kubernetes_backend(settings)
    raise ValueError(f"unknown execution backend {settings.backend!r}")


__all__ = [
    "ExecutionBackend",
    "ExecutionExit",
    "ExitHandler",
    "LaunchFailed",
    "LaunchRequest",
    "create_backend",
]
