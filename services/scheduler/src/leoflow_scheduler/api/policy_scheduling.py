"""Access rules of the backfill and pool services (Airflow's: reading needs
Viewer; backfills are DAG-run changes (User); pools are Op's)."""

from __future__ import annotations

from leoflow_common.auth import Capability
from leoflow_common.grpc import Access, ServiceRegistration
from leoflow_proto.scheduler.v1 import backfills_pb2_grpc, pools_pb2_grpc

from ..domain.context import SchedulerContext
from .backfills import BackfillServicer
from .pools import PoolServicer

READ = Access(Capability.READ)
EXECUTE = Access(Capability.EXECUTE)
OPERATE = Access(Capability.OPERATE)

BACKFILLS_POLICY = {
    "CreateBackfill": EXECUTE,
    "DryRunBackfill": EXECUTE,
    "GetBackfill": READ,
    "ListBackfills": READ,
    "PauseBackfill": EXECUTE,
    "UnpauseBackfill": EXECUTE,
    "CancelBackfill": EXECUTE,
}
POOLS_POLICY = {
    "GetPool": READ,
    "ListPools": READ,
    "CreatePool": OPERATE,
    "UpdatePool": OPERATE,
    "DeletePool": OPERATE,
    "BulkPools": OPERATE,
}


def scheduling_registrations(ctx: SchedulerContext) -> list[ServiceRegistration]:
    """BackfillService and PoolService with their access policies."""
    return [
        ServiceRegistration(
            backfills_pb2_grpc.add_BackfillServiceServicer_to_server, BackfillServicer(ctx),
            "leoflow.scheduler.v1.BackfillService", BACKFILLS_POLICY,
        ),
        ServiceRegistration(
            pools_pb2_grpc.add_PoolServiceServicer_to_server, PoolServicer(ctx),
            "leoflow.scheduler.v1.PoolService", POOLS_POLICY,
        ),
    ]  # fmt: skip
