"""a class a rule only suggests, and the rule, kept on the ticket for an agent to confirm or dismiss

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suggested_class', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('suggested_rule', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_column('suggested_rule')
        batch_op.drop_column('suggested_class')
