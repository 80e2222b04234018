"""The DAG registry: versions of compiled DAGs and the DAGs' live flags.

Registering validates first and stores nothing on bad input. A version is
created only when the canonical hash differs from the latest version's; the same
spec again returns the existing version (created=False). The first registration
creates the DAG, paused as its spec or the platform default says.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from leoflow_common.errors import FailedPrecondition, InvalidArgument, NotFound
from leoflow_proto.dag.v1 import dag_pb2

from ..dagspec.canonical import spec_hash, spec_to_dict
from ..dagspec.summary import dag_summary
from ..dagspec.validation import validate_dag_spec
from ..metrics import DAG_VERSIONS_REGISTERED
from ..repository import audit_log, dag_runs, dag_versions, dags, pools, task_instances, tenants
from ..repository._field_filters import FieldCondition
from ..scheduling.evaluator import evaluate_run
from .context import SchedulerContext
from .next_run import refresh_next_dagrun
from .uow import WAKE_RETRIES, WAKE_RUNS, WAKE_SCHEDULE, WAKE_SLOTS, utcnow


def dag_not_found(dag_id: str) -> NotFound:
    """Airflow's 404 for a DAG."""
    return NotFound(f"DAG with dag_id: '{dag_id}' not found")


@dataclass(frozen=True)
class Registration:
    """The version a registration resolved to, and whether it is new."""

    version: asyncpg.Record
    created: bool


async def register_dag_version(
    ctx: SchedulerContext, tenant_id: str, spec: dag_pb2.DagSpec, actor: str | None
) -> Registration:
    """Validate and store `spec` as the DAG's newest version (idempotent)."""
    validate_dag_spec(spec)
    digest = spec_hash(spec)
    settings = ctx.settings
    summary = dag_summary(
        spec,
        default_max_active_runs=settings.default_max_active_runs,
        default_max_active_tasks=settings.default_max_active_tasks,
    )
    async with ctx.transaction() as uow:
        conn = uow.conn
        await tenants.ensure_tenant(conn=conn, tenant_id=tenant_id)
        paused = (
            spec.is_paused_upon_creation
            if spec.HasField("is_paused_upon_creation")
            else settings.dags_are_paused_at_creation
        )
        await dags.insert_dag(
            conn=conn, tenant_id=tenant_id, dag_id=spec.dag_id, is_paused=paused, summary=summary
        )
        # Serializes concurrent registrations of one DAG on its row.
        await dags.get_dag(conn=conn, tenant_id=tenant_id, dag_id=spec.dag_id, for_update=True)
        await pools.ensure_default(conn=conn, tenant_id=tenant_id, slots=settings.default_pool_slots)
        latest = await dag_versions.latest(conn=conn, tenant_id=tenant_id, dag_id=spec.dag_id)
        if latest is not None and latest["spec_hash"] == digest:
            await dags.touch_parsed(conn=conn, tenant_id=tenant_id, dag_id=spec.dag_id)
            # As each parse of a DAG file does in Airflow.
            await refresh_next_dagrun(conn, tenant_id, spec.dag_id, spec, utcnow())
            uow.wake(WAKE_SCHEDULE)
            return Registration(latest, False)
        version = await dag_versions.insert_version(
            conn=conn,
            tenant_id=tenant_id,
            dag_id=spec.dag_id,
            version_number=(latest["version_number"] if latest else 0) + 1,
            spec_hash=digest,
            spec=spec_to_dict(spec),
            source=spec.source.content,
            bundle_name=spec.environment.bundle_uri,
            bundle_version=spec.environment.bundle_hash,
        )
        await dags.update_summary(
            conn=conn,
            tenant_id=tenant_id,
            dag_id=spec.dag_id,
            summary={
                **summary,
                "latest_version_id": version["id"],
                "latest_version_number": version["version_number"],
                "last_parsed_time": utcnow(),
            },
        )
        await refresh_next_dagrun(conn, tenant_id, spec.dag_id, spec, utcnow())
        uow.wake(WAKE_SCHEDULE)
        await audit_log.write_event(
            conn=conn, tenant_id=tenant_id, event="register_dag_version", owner=actor, dag_id=spec.dag_id,
            extra={"version_number": version["version_number"], "spec_hash": digest},
        )  # fmt: skip
    DAG_VERSIONS_REGISTERED.inc()
    return Registration(version, True)


async def set_paused(
    ctx: SchedulerContext, tenant_id: str, dag_id: str, is_paused: bool, actor: str | None
) -> asyncpg.Record:
    """Pause or unpause. Unpausing resumes the DAG's running runs at once and lets
    its queued runs start."""
    async with ctx.transaction() as uow:
        # Lock order everywhere: runs (by id) before the DAG row.
        running = await dag_runs.lock_runs_of_dag(
            conn=uow.conn, tenant_id=tenant_id, dag_id=dag_id, state="running"
        )
        row = await dags.get_dag(conn=uow.conn, tenant_id=tenant_id, dag_id=dag_id, for_update=True)
        if row is None:
            raise dag_not_found(dag_id)
        if row["is_paused"] != is_paused:
            await dags.set_paused(
                conn=uow.conn, tenant_id=tenant_id, dag_id=dag_id, is_paused=is_paused
            )
            await audit_log.write_event(
                conn=uow.conn, tenant_id=tenant_id, event="patch_dag", owner=actor, dag_id=dag_id,
                extra={"is_paused": is_paused, "method": "PATCH"},
            )  # fmt: skip
            if not is_paused:
                for run_row in running:
                    await evaluate_run(ctx, uow, run_row)
                if row["latest_version_id"] is not None:
                    # The next run as of now (catchup off: the latest tick, not a stale one).
                    version = await ctx.specs.get(uow.conn, row["latest_version_id"])
                    await refresh_next_dagrun(uow.conn, tenant_id, dag_id, version.spec, utcnow())
                uow.wake(WAKE_RUNS)
                uow.wake(WAKE_RETRIES)
                uow.wake(WAKE_SCHEDULE)
                uow.wake(WAKE_SLOTS)
        return await dags.get_dag(conn=uow.conn, tenant_id=tenant_id, dag_id=dag_id)


async def delete_dag(ctx: SchedulerContext, tenant_id: str, dag_id: str, actor: str | None) -> None:
    """Delete a DAG and its history (runs, task instances, versions); the audit
    log keeps its records. Refused while a task instance runs (Airflow)."""
    async with ctx.transaction() as uow:
        await dag_runs.lock_runs_of_dag(conn=uow.conn, tenant_id=tenant_id, dag_id=dag_id)
        row = await dags.get_dag(conn=uow.conn, tenant_id=tenant_id, dag_id=dag_id, for_update=True)
        if row is None:
            raise dag_not_found(dag_id)
        running = await task_instances.count_running(
            conn=uow.conn, tenant_id=tenant_id, dag_id=dag_id
        )
        if running:
            raise FailedPrecondition(f"DAG {dag_id!r} has {running} task instance(s) still running")
        await dags.delete_dag(conn=uow.conn, tenant_id=tenant_id, dag_id=dag_id)
        await audit_log.write_event(
            conn=uow.conn, tenant_id=tenant_id, event="delete_dag", owner=actor, dag_id=dag_id
        )


async def get_version(
    ctx: SchedulerContext, tenant_id: str, dag_id: str, version_number: int
) -> asyncpg.Record:
    """A version with its spec; version_number 0 means the latest."""
    async with ctx.pool.acquire() as conn:
        dag = await dags.get_dag(conn=conn, tenant_id=tenant_id, dag_id=dag_id)
        if dag is None:
            raise dag_not_found(dag_id)
        number = version_number or dag["latest_version_number"]
        row = await dag_versions.get_by_number(
            conn=conn, tenant_id=tenant_id, dag_id=dag_id, version_number=number, with_spec=True
        )
    if row is None:
        raise NotFound(
            f"The DagVersion with dag_id: `{dag_id}` and version_number: `{version_number}` was not found"
        )
    return row


@dataclass
class DagPage:
    """One page of ListDags."""

    dags: list[asyncpg.Record]
    total: int
    latest_runs: dict[str, list[asyncpg.Record]]


async def list_dags(
    ctx: SchedulerContext, tenant_id: str, query: dags.DagQuery, latest_runs_limit: int = 0
) -> DagPage:
    """A page of DAGs; InvalidArgument("order_by") for a column one cannot sort on."""
    async with ctx.pool.acquire() as conn:
        try:
            rows, total = await dags.list_dags(conn=conn, tenant_id=tenant_id, query=query)
        except KeyError as exc:
            raise _bad_order_by(exc) from exc
        runs = {}
        if latest_runs_limit > 0 and rows:
            runs = await dag_runs.latest_runs_per_dag(
                conn=conn,
                tenant_id=tenant_id,
                dag_ids=[r["dag_id"] for r in rows],
                per_dag=latest_runs_limit,
            )
    return DagPage(rows, total, runs)


def _bad_order_by(exc: KeyError) -> InvalidArgument:
    return InvalidArgument(
        f"Ordering with '{exc.args[0]}' is disallowed or the attribute does not exist on the model",
        field="order_by",
    )


async def get_dag_with_version(
    ctx: SchedulerContext, tenant_id: str, dag_id: str
) -> tuple[asyncpg.Record, asyncpg.Record | None]:
    """A DAG and the summary of its latest version; NotFound otherwise."""
    async with ctx.pool.acquire() as conn:
        row = await dags.get_dag(conn=conn, tenant_id=tenant_id, dag_id=dag_id)
        if row is None:
            raise dag_not_found(dag_id)
        version = None
        if row["latest_version_id"] is not None:
            version = await dag_versions.get_by_id(conn=conn, version_id=row["latest_version_id"])
    return row, version


async def list_versions(
    ctx: SchedulerContext,
    tenant_id: str,
    dag_id: str,
    limit: int,
    offset: int,
    order_by: list[str],
    conditions: list[FieldCondition] | None = None,
) -> tuple[list[asyncpg.Record], int]:
    """A page of versions, by version_number (the only sort key)."""
    descending = False
    for name in order_by:
        if name.lstrip("-") != "version_number":
            raise _bad_order_by(KeyError(name))
        descending = name.startswith("-")
    async with ctx.pool.acquire() as conn:
        if dag_id and await dags.get_dag(conn=conn, tenant_id=tenant_id, dag_id=dag_id) is None:
            raise dag_not_found(dag_id)
        return await dag_versions.list_versions(
            conn=conn,
            tenant_id=tenant_id,
            dag_id=dag_id,
            limit=limit,
            offset=offset,
            descending=descending,
            conditions=conditions,
        )
