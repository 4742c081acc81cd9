"""Teams and lineage: who ran what, run groups (pipelines, sweeps), tags and notes, dataset aliases and the run
that produced a dataset, and an audit trail of cancels and alias moves.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("runs") as runs:
        runs.add_column(sa.Column("user", sa.String(128), nullable=True))
        runs.add_column(sa.Column("group_id", sa.Integer, nullable=True))
        runs.add_column(sa.Column("step", sa.String(128), nullable=True))
        runs.add_column(sa.Column("fingerprint", sa.String(64), nullable=True))
        runs.add_column(sa.Column("tags", sa.JSON, nullable=True))
        runs.add_column(sa.Column("note", sa.Text, nullable=True))
        runs.create_index("ix_runs_group_id", ["group_id"])
        runs.create_index("ix_runs_fingerprint", ["fingerprint"])
    with op.batch_alter_table("datasets") as datasets:
        datasets.add_column(sa.Column("run_id", sa.Integer, nullable=True))
    op.create_table(
        "dataset_aliases",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("alias", sa.String(128), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "run_groups",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("user", sa.String(128), nullable=True),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("spec", sa.JSON, nullable=False),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("detail", sa.JSON, nullable=True),
    )
