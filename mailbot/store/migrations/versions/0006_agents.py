"""closed tickets, follow-on tickets, internal messages

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 04:25:00.289811
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('follows', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_ticket_follows', 'ticket', ['follows'], ['id'])

    with op.batch_alter_table('ticket_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visibility', sa.String(length=10), nullable=False, server_default='public'))



def downgrade() -> None:
    with op.batch_alter_table('ticket_message', schema=None) as batch_op:
        batch_op.drop_column('visibility')

    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_constraint('fk_ticket_follows', type_='foreignkey')
        batch_op.drop_column('follows')
        batch_op.drop_column('closed_at')

