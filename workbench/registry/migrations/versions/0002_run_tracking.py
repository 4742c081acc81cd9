"""Run tracking: seed, process, heartbeat, progress, the request (to queue and re-run), cancellation;
each model remembers the run that registered it. The old `workbench_meta` version table goes.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("runs") as runs:
        runs.add_column(sa.Column("seed", sa.Integer, nullable=False, server_default="0"))
        runs.add_column(sa.Column("pid", sa.Integer, nullable=True))
        runs.add_column(sa.Column("host", sa.String(255), nullable=True))
        runs.add_column(sa.Column("heartbeat_at", sa.DateTime, nullable=True))
        runs.add_column(sa.Column("progress", sa.JSON, nullable=False, server_default="{}"))
        runs.add_column(sa.Column("request", sa.JSON, nullable=False, server_default="{}"))
        runs.add_column(sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()))
        runs.create_index("ix_runs_status", ["status"])
    with op.batch_alter_table("models") as models:
        models.add_column(sa.Column("run_id", sa.Integer, nullable=True))
    op.drop_table("workbench_meta")
