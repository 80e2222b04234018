"""Initial metadata schema.

Every row carries tenant_id and every query filters on it. Task-instance and
DagRun states are Airflow's strings (NULL task-instance state is Airflow's
"none"). dags carries a denormalized copy of its latest version's summary and of
its latest run, so listing thousands of DAGs needs no join.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TI_STATES = "('scheduled','queued','running','success','failed','up_for_retry','up_for_reschedule','upstream_failed','skipped','deferred','removed','restarting')"
RUN_STATES = "('queued','running','success','failed')"

SCHEMA = f"""
CREATE TABLE tenants (
    id text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    tenant_id text NOT NULL REFERENCES tenants(id),
    username text NOT NULL,
    password_hash text NOT NULL,
    roles text[] NOT NULL DEFAULT '{{}}',
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, username)
);

CREATE TABLE dags (
    tenant_id text NOT NULL REFERENCES tenants(id),
    dag_id text NOT NULL,
    display_name text NOT NULL,
    description text NOT NULL DEFAULT '',
    tags text[] NOT NULL DEFAULT '{{}}',
    owners text[] NOT NULL DEFAULT '{{}}',
    timetable_summary text,
    timetable_description text,
    max_active_runs integer NOT NULL,
    max_active_tasks integer NOT NULL,
    max_consecutive_failed_dag_runs integer NOT NULL DEFAULT 0,
    has_task_concurrency_limits boolean NOT NULL DEFAULT false,
    catchup boolean NOT NULL DEFAULT false,
    start_date timestamptz,
    end_date timestamptz,
    timezone text NOT NULL DEFAULT 'UTC',
    fileloc text NOT NULL DEFAULT '',
    relative_fileloc text NOT NULL DEFAULT '',
    is_paused boolean NOT NULL,
    is_stale boolean NOT NULL DEFAULT false,
    latest_version_id uuid,
    latest_version_number integer NOT NULL DEFAULT 0,
    last_parsed_time timestamptz,
    next_dagrun_logical_date timestamptz,
    next_dagrun_data_interval_start timestamptz,
    next_dagrun_data_interval_end timestamptz,
    next_dagrun_run_after timestamptz,
    last_run_id bigint,
    last_run_state text,
    last_run_start_date timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, dag_id)
);
CREATE INDEX dags_tags_idx ON dags USING gin (tags);
CREATE INDEX dags_owners_idx ON dags USING gin (owners);
CREATE INDEX dags_display_name_idx ON dags (tenant_id, display_name, dag_id);
CREATE INDEX dags_next_dagrun_idx ON dags (tenant_id, next_dagrun_logical_date, dag_id);
CREATE INDEX dags_last_run_state_idx ON dags (tenant_id, last_run_state, dag_id);
CREATE INDEX dags_last_run_start_idx ON dags (tenant_id, last_run_start_date, dag_id);

CREATE TABLE dag_versions (
    id uuid PRIMARY KEY,
    tenant_id text NOT NULL,
    dag_id text NOT NULL,
    version_number integer NOT NULL,
    spec_hash text NOT NULL,
    spec jsonb NOT NULL,
    source text NOT NULL DEFAULT '',
    bundle_name text NOT NULL DEFAULT '',
    bundle_version text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, dag_id, version_number),
    FOREIGN KEY (tenant_id, dag_id) REFERENCES dags (tenant_id, dag_id) ON DELETE CASCADE
);

CREATE TABLE dag_runs (
    id bigserial PRIMARY KEY,
    tenant_id text NOT NULL,
    dag_id text NOT NULL,
    run_id text NOT NULL,
    state text NOT NULL CHECK (state IN {RUN_STATES}),
    run_type text NOT NULL,
    logical_date timestamptz,
    data_interval_start timestamptz,
    data_interval_end timestamptz,
    run_after timestamptz NOT NULL,
    queued_at timestamptz,
    start_date timestamptz,
    end_date timestamptz,
    conf jsonb NOT NULL DEFAULT '{{}}',
    note text,
    triggered_by text NOT NULL DEFAULT '',
    triggering_user_name text,
    dag_version_id uuid REFERENCES dag_versions(id),
    last_scheduling_decision timestamptz,
    clear_number integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, dag_id, run_id),
    UNIQUE (tenant_id, dag_id, logical_date),
    FOREIGN KEY (tenant_id, dag_id) REFERENCES dags (tenant_id, dag_id) ON DELETE CASCADE
);
CREATE INDEX dag_runs_dag_id_idx ON dag_runs (tenant_id, dag_id, id DESC);
CREATE INDEX dag_runs_run_after_idx ON dag_runs (tenant_id, run_after);
CREATE INDEX dag_runs_active_idx ON dag_runs (tenant_id, dag_id) WHERE state IN ('queued', 'running');
CREATE INDEX dag_runs_queued_idx ON dag_runs (run_after, id) WHERE state = 'queued';

CREATE TABLE task_instances (
    id uuid PRIMARY KEY,
    tenant_id text NOT NULL,
    dag_run_id bigint NOT NULL REFERENCES dag_runs(id) ON DELETE CASCADE,
    dag_id text NOT NULL,
    run_id text NOT NULL,
    task_id text NOT NULL,
    map_index integer NOT NULL DEFAULT -1,
    state text CHECK (state IN {TI_STATES}),
    try_number integer NOT NULL DEFAULT 0,
    max_tries integer NOT NULL DEFAULT 0,
    start_date timestamptz,
    end_date timestamptz,
    queued_at timestamptz,
    scheduled_at timestamptz,
    next_retry_at timestamptz,
    hostname text NOT NULL DEFAULT '',
    pid integer,
    exit_code integer,
    error text NOT NULL DEFAULT '',
    failure_kind text NOT NULL DEFAULT '',
    operator text NOT NULL DEFAULT '',
    task_display_name text NOT NULL DEFAULT '',
    pool text NOT NULL DEFAULT 'default_pool',
    pool_slots integer NOT NULL DEFAULT 1,
    queue text NOT NULL DEFAULT 'default',
    priority_weight integer NOT NULL DEFAULT 1,
    dispatch_attempt integer NOT NULL DEFAULT 0,
    execution_name text NOT NULL DEFAULT '',
    dag_version_id uuid REFERENCES dag_versions(id),
    note text,
    rendered_fields jsonb,
    rendered_map_index text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (dag_run_id, task_id, map_index)
);
CREATE INDEX task_instances_key_idx ON task_instances (tenant_id, dag_id, run_id, task_id, map_index);
CREATE INDEX task_instances_retry_idx ON task_instances (next_retry_at) WHERE state = 'up_for_retry';
CREATE INDEX task_instances_state_idx ON task_instances (tenant_id, state);

CREATE TABLE task_instance_history (
    id bigserial PRIMARY KEY,
    task_instance_id uuid NOT NULL REFERENCES task_instances(id) ON DELETE CASCADE,
    tenant_id text NOT NULL,
    dag_run_id bigint NOT NULL,
    dag_id text NOT NULL,
    run_id text NOT NULL,
    task_id text NOT NULL,
    map_index integer NOT NULL,
    try_number integer NOT NULL,
    max_tries integer NOT NULL,
    state text,
    start_date timestamptz,
    end_date timestamptz,
    queued_at timestamptz,
    scheduled_at timestamptz,
    hostname text NOT NULL DEFAULT '',
    pid integer,
    exit_code integer,
    error text NOT NULL DEFAULT '',
    failure_kind text NOT NULL DEFAULT '',
    operator text NOT NULL DEFAULT '',
    task_display_name text NOT NULL DEFAULT '',
    pool text NOT NULL DEFAULT 'default_pool',
    pool_slots integer NOT NULL DEFAULT 1,
    queue text NOT NULL DEFAULT 'default',
    priority_weight integer NOT NULL DEFAULT 1,
    dispatch_attempt integer NOT NULL DEFAULT 0,
    execution_name text NOT NULL DEFAULT '',
    dag_version_id uuid,
    note text,
    rendered_fields jsonb,
    rendered_map_index text NOT NULL DEFAULT '',
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (task_instance_id, try_number)
);

CREATE TABLE outbox (
    id uuid PRIMARY KEY,
    seq bigserial UNIQUE,
    tenant_id text NOT NULL,
    event_type text NOT NULL,
    payload bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_pending_idx ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_published_idx ON outbox (published_at) WHERE published_at IS NOT NULL;

CREATE TABLE inbox (
    consumer text NOT NULL,
    envelope_id text NOT NULL,
    tenant_id text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, envelope_id)
);
CREATE INDEX inbox_processed_idx ON inbox (processed_at);

CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    tenant_id text NOT NULL,
    dttm timestamptz NOT NULL DEFAULT now(),
    event text NOT NULL,
    dag_id text,
    task_id text,
    run_id text,
    map_index integer,
    try_number integer,
    logical_date timestamptz,
    owner text,
    owner_display_name text,
    extra text
);
CREATE INDEX audit_log_dttm_idx ON audit_log (tenant_id, dttm);
CREATE INDEX audit_log_dag_idx ON audit_log (tenant_id, dag_id, dttm);
"""

TABLES = (
    "audit_log",
    "inbox",
    "outbox",
    "task_instance_history",
    "task_instances",
    "dag_runs",
    "dag_versions",
    "dags",
    "users",
    "tenants",
)


def upgrade() -> None:
    # asyncpg runs one statement per call.
    for statement in SCHEMA.split(";\n"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
