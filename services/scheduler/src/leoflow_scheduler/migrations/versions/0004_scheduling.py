"""Scheduling semantics: pools, backfills, mapped-task lengths.

- pools: Airflow's slot_pool, per tenant; "default_pool" (128 slots, as Airflow)
  is created for every tenant (existing ones here, new ones when first used).
- backfills / backfill_dag_runs: Airflow 3's backfill and its association rows
  (one per date of the range: the run it created or re-queued, or why not).
- dag_runs.backfill_id: the backfill a run belongs to (its max_active_runs and
  pause apply instead of the DAG's).
- task_maps: how many items an upstream produced per XCom key (Airflow's
  TaskMap), the input of dynamic task mapping expansion.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-22
"""

from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = ("scheduling",)
depends_on = None

STATEMENTS = (
    """
    CREATE TABLE pools (
        id bigserial UNIQUE,
        tenant_id text NOT NULL REFERENCES tenants(id),
        name text NOT NULL,
        slots integer NOT NULL CHECK (slots >= -1),
        description text,
        include_deferred boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, name)
    )
    """,
    """
    INSERT INTO pools (tenant_id, name, slots, description)
    SELECT id, 'default_pool', 128, 'Default pool' FROM tenants
    ON CONFLICT DO NOTHING
    """,
    """
    CREATE TABLE backfills (
        id bigserial PRIMARY KEY,
        tenant_id text NOT NULL,
        dag_id text NOT NULL,
        from_date timestamptz NOT NULL,
        to_date timestamptz NOT NULL,
        dag_run_conf jsonb NOT NULL DEFAULT '{}',
        is_paused boolean NOT NULL DEFAULT false,
        reprocess_behavior text NOT NULL DEFAULT 'none'
            CHECK (reprocess_behavior IN ('none', 'failed', 'completed')),
        max_active_runs integer NOT NULL DEFAULT 10 CHECK (max_active_runs >= 1),
        run_backwards boolean NOT NULL DEFAULT false,
        triggering_user_name text,
        created_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (tenant_id, dag_id) REFERENCES dags (tenant_id, dag_id) ON DELETE CASCADE
    )
    """,
    "CREATE INDEX backfills_dag_idx ON backfills (tenant_id, dag_id, id)",
    "CREATE UNIQUE INDEX backfills_one_active_idx ON backfills (tenant_id, dag_id) WHERE completed_at IS NULL",
    "ALTER TABLE dag_runs ADD COLUMN backfill_id bigint REFERENCES backfills(id) ON DELETE SET NULL",
    "CREATE INDEX dag_runs_backfill_idx ON dag_runs (backfill_id, state) WHERE backfill_id IS NOT NULL",
    """
    CREATE TABLE backfill_dag_runs (
        id bigserial PRIMARY KEY,
        tenant_id text NOT NULL,
        backfill_id bigint NOT NULL REFERENCES backfills(id) ON DELETE CASCADE,
        dag_run_id bigint REFERENCES dag_runs(id) ON DELETE SET NULL,
        exception_reason text,
        logical_date timestamptz,
        sort_ordinal integer NOT NULL CHECK (sort_ordinal >= 1),
        UNIQUE (backfill_id, dag_run_id)
    )
    """,
    """
    CREATE TABLE task_maps (
        tenant_id text NOT NULL,
        dag_run_id bigint NOT NULL REFERENCES dag_runs(id) ON DELETE CASCADE,
        task_id text NOT NULL,
        map_index integer NOT NULL,
        xcom_key text NOT NULL,
        length integer NOT NULL CHECK (length >= 0),
        PRIMARY KEY (dag_run_id, task_id, map_index, xcom_key)
    )
    """,
    # Concurrency limits count queued/running(/deferred) task instances per pool,
    # per run and per task; held-back ones wait in scheduled.
    """
    CREATE INDEX task_instances_active_idx ON task_instances (tenant_id, pool)
    WHERE state IN ('queued', 'running', 'deferred', 'scheduled')
    """,
    """
    CREATE INDEX task_instances_task_active_idx ON task_instances (tenant_id, dag_id, task_id)
    WHERE state IN ('queued', 'running', 'deferred')
    """,
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS task_instances_task_active_idx")
    op.execute("DROP INDEX IF EXISTS task_instances_active_idx")
    op.execute("DROP TABLE IF EXISTS task_maps")
    op.execute("DROP TABLE IF EXISTS backfill_dag_runs")
    op.execute("ALTER TABLE dag_runs DROP COLUMN IF EXISTS backfill_id")
    op.execute("DROP TABLE IF EXISTS backfills")
    op.execute("DROP TABLE IF EXISTS pools")
