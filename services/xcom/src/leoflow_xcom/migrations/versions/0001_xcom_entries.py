"""xcom.xcom_entries: one row per (tenant, dag, run, task, map_index, key).

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xcom_entries",
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("dag_id", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("task_id", sa.Text, nullable=False),
        sa.Column("map_index", sa.Integer, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        # The JSON exactly as pushed (the size cap is on these bytes).
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column(
            "updated_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("expires_at", sa.TIMESTAMP(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "dag_id", "run_id", "task_id", "map_index", "key", name="xcom_entries_pkey"
        ),
        schema="xcom",
    )
    op.create_index("xcom_entries_expires_at", "xcom_entries", ["expires_at"], schema="xcom")


def downgrade() -> None:
    op.drop_table("xcom_entries", schema="xcom")
