"""redaction schedule for credentials

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 04:39:55.480469
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ticket_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('redact_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_ticket_message_redact_at'), ['redact_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('ticket_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_message_redact_at'))
        batch_op.drop_column('redact_at')

