"""The local backend's warm pool, assembled from the dispatcher's settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..base import LaunchRequest
from .plan import LocalLaunchPlan, plan_warm_template
from .warm_pool import WarmPools

if TYPE_CHECKING:  # settings imports backends: no cycle at run time
    from ...settings import DispatcherSettings


def create_warm_pools(
    settings: DispatcherSettings, *, host_env: Mapping[str, str]
) -> WarmPools | None:
    """The warm pools `settings` ask for (None when warm_pool_size is 0)."""
    if settings.warm_pool_size <= 0:
        return None
    host = dict(host_env)
    # Standbys connect ahead to what every try calls: this replica, xcom and logs.
    data_addresses = (settings.xcom_address, settings.logs_address)

    def plan_template(request: LaunchRequest, cold: LocalLaunchPlan) -> LocalLaunchPlan:
        return plan_warm_template(
            request,
            cold,
            host_env=host,
            standbys=settings.warm_pool_size,
            connect_ahead=(request.dispatcher_address, *data_addresses),
            preimport=settings.warm_pool_preimport,
        )

    return WarmPools(
        directory=settings.work_dir / "warm-pools",
        plan_template=plan_template,
        idle_timeout=settings.warm_pool_idle_timeout,
    )
