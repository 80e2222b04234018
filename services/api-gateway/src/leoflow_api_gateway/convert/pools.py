"""Pool -> PoolResponse."""

from __future__ import annotations

from leoflow_proto.scheduler.v1 import pools_pb2

from ..datamodels.pools import PoolResponse


def pool_response(pool: pools_pb2.Pool) -> PoolResponse:
    return PoolResponse(
        name=pool.name,
        slots=pool.slots,
        description=pool.description if pool.HasField("description") else None,
        include_deferred=pool.include_deferred,
        occupied_slots=pool.occupied_slots,
        running_slots=pool.running_slots,
        queued_slots=pool.queued_slots,
        scheduled_slots=pool.scheduled_slots,
        open_slots=pool.open_slots,
        deferred_slots=pool.deferred_slots,
        team_name=None,
    )
