"""Variables, connections and DAG favorites.

Secrets are stored encrypted (AES-256-GCM, `metadata/crypto.py`): a variable's
value, a connection's password and extra. Columns that hold ciphertext end in
`_enc`; a NULL `_enc` column means no value. A connection's extra is also kept
with its sensitive fields replaced by "***" (`extra_masked`, what reads return),
so reading connections never needs the key. Nothing secret is stored in clear:
without LEOFLOW_SECRET_KEY the scheduler refuses these writes. The audit log
gets an index for filtering by event.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = ("metadata",)
depends_on = None

SCHEMA = """
CREATE TABLE variables (
    id bigserial PRIMARY KEY,
    tenant_id text NOT NULL REFERENCES tenants(id),
    key text NOT NULL,
    val_enc text NOT NULL,
    description text,
    team_name text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, key)
);

CREATE TABLE connections (
    id bigserial PRIMARY KEY,
    tenant_id text NOT NULL REFERENCES tenants(id),
    conn_id text NOT NULL,
    conn_type text NOT NULL,
    description text,
    host text,
    login text,
    schema text,
    port integer,
    password_enc text,
    extra_enc text,
    extra_masked text,
    team_name text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, conn_id)
);

CREATE TABLE dag_favorites (
    tenant_id text NOT NULL,
    username text NOT NULL,
    dag_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, username, dag_id),
    FOREIGN KEY (tenant_id, dag_id) REFERENCES dags (tenant_id, dag_id) ON DELETE CASCADE
);
CREATE INDEX dag_favorites_dag_idx ON dag_favorites (tenant_id, dag_id);

CREATE INDEX audit_log_event_idx ON audit_log (tenant_id, event, id)
"""


def upgrade() -> None:
    # asyncpg runs one statement per call.
    for statement in SCHEMA.split(";\n"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS audit_log_event_idx")
    for table in ("dag_favorites", "connections", "variables"):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
