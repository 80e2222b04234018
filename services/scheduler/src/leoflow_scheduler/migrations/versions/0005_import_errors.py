"""Import errors: DAG files a source (Lite's workspace watcher) could not compile,
one row per (tenant, bundle, file), and dags.has_import_errors, true while an
error names the DAG (kept current by the import-error repository).

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-22
"""

from alembic import op

revision = "0005"
down_revision = "0002"
branch_labels = ("import_errors",)
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE import_errors (
            id bigserial PRIMARY KEY,
            tenant_id text NOT NULL REFERENCES tenants(id),
            bundle_name text NOT NULL DEFAULT '',
            filename text NOT NULL,
            stack_trace text NOT NULL,
            dag_id text NOT NULL DEFAULT '',
            timestamp timestamptz NOT NULL DEFAULT now(),
            UNIQUE (tenant_id, bundle_name, filename)
        )
        """
    )
    op.execute("CREATE INDEX import_errors_dag_idx ON import_errors (tenant_id, dag_id)")
    op.execute("ALTER TABLE dags ADD COLUMN has_import_errors boolean NOT NULL DEFAULT false")


def downgrade() -> None:
    op.execute("ALTER TABLE dags DROP COLUMN has_import_errors")
    op.execute("DROP TABLE import_errors")
