"""Trace contexts: outbox rows keep the one of the transaction that wrote them
(the relay publishes each event in the trace of the change it announces), and
DagRuns keep the one of their trigger (the leader's loops continue it, so one
run can be followed from trigger to the last task).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE outbox ADD COLUMN trace_context jsonb NOT NULL DEFAULT '{}'")
    op.execute("ALTER TABLE dag_runs ADD COLUMN trace_context jsonb NOT NULL DEFAULT '{}'")


def downgrade() -> None:
    op.execute("ALTER TABLE dag_runs DROP COLUMN trace_context")
    op.execute("ALTER TABLE outbox DROP COLUMN trace_context")
