"""message bytes in their own table

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_raw",
        sa.Column("inbound_id", sa.Integer(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["inbound_id"], ["inbound.id"]),
        sa.PrimaryKeyConstraint("inbound_id"),
    )
    op.execute("INSERT INTO inbound_raw (inbound_id, raw) SELECT id, raw FROM inbound")
    with op.batch_alter_table("inbound") as batch_op:
        batch_op.drop_column("raw")


def downgrade() -> None:
    with op.batch_alter_table("inbound") as batch_op:
        batch_op.add_column(sa.Column("raw", sa.LargeBinary(), nullable=True))
    op.execute("UPDATE inbound SET raw = (SELECT raw FROM inbound_raw WHERE inbound_raw.inbound_id = inbound.id)")
    op.drop_table("inbound_raw")
