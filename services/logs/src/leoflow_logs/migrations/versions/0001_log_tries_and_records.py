"""logs.log_tries (one row per try) and logs.log_records (its records).

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
        "log_tries",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("dag_id", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("task_id", sa.Text, nullable=False),
        sa.Column("map_index", sa.Integer, nullable=False),
        sa.Column("try_number", sa.Integer, nullable=False),
        sa.Column("last_sequence", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("closed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column(
            "updated_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "dag_id",
            "run_id",
            "task_id",
            "map_index",
            "try_number",
            name="log_tries_try_key",
        ),
        schema="logs",
    )
    op.create_table(
        "log_records",
        sa.Column(
            "try_id",
            sa.BigInteger,
            sa.ForeignKey("logs.log_tries.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        # A serialized leoflow.logs.v1.LogRecord.
        sa.Column("record", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("try_id", "sequence", name="log_records_pkey"),
        schema="logs",
    )


def downgrade() -> None:
    op.drop_table("log_records", schema="logs")
    op.drop_table("log_tries", schema="logs")
