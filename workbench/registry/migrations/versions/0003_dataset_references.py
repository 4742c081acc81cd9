"""Datasets registered by reference: a large input keeps its URI and a fingerprint of its parts instead of a copy.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("datasets") as datasets:
        datasets.add_column(sa.Column("storage", sa.String(16), nullable=False, server_default="copy"))
        datasets.add_column(sa.Column("uri", sa.Text, nullable=True))
