"""Migrations run programmatically, under a lock (replicas may start together),
and as the `migrate` command of the service."""

import asyncio
import os
import subprocess
import sys

import asyncpg
from leoflow_scheduler.migrations import current_revisions, head_revisions, upgrade

EXPECTED_TABLES = {
    "tenants", "users", "dags", "dag_versions", "dag_runs", "task_instances", "task_instance_history",
    "outbox", "inbox", "audit_log",
}  # fmt: skip


async def test_concurrent_upgrades_migrate_once(fresh_database):
    assert await current_revisions(fresh_database) == frozenset()
    await asyncio.gather(*(upgrade(fresh_database) for _ in range(4)))
    assert await current_revisions(fresh_database) == head_revisions()
    conn = await asyncpg.connect(fresh_database)
    try:
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        no_tenant = await conn.fetch(
            "SELECT table_name FROM information_schema.tables t WHERE table_schema = 'public' AND table_name <> 'alembic_version' "
            "AND table_name <> 'tenants' AND NOT EXISTS (SELECT 1 FROM information_schema.columns c "
            "WHERE c.table_name = t.table_name AND c.column_name = 'tenant_id')"
        )
    finally:
        await conn.close()
    assert EXPECTED_TABLES <= tables
    assert [r["table_name"] for r in no_tenant] == []  # every row carries its tenant
    await upgrade(fresh_database)  # idempotent


def test_the_migrate_command(fresh_database):
    env = {
        **os.environ,
        "LEOFLOW_SCHEDULER_DATABASE_URL": fresh_database,
        "LEOFLOW_JWT_SECRET": "x" * 32,
        "LEOFLOW_LOG_JSON": "false",
    }
    result = subprocess.run(
        [sys.executable, "-m", "leoflow_scheduler", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert asyncio.run(current_revisions(fresh_database)) == head_revisions()
    bad = subprocess.run(
        [sys.executable, "-m", "leoflow_scheduler", "nonsense"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "usage" in bad.stderr
