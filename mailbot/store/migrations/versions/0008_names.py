"""attachment.ticket_message_id: the column held a row key, not an RFC 5322 Message-ID

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_index('ix_attachment_message_id')
        batch_op.alter_column('message_id', new_column_name='ticket_message_id')
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.create_index('ix_attachment_ticket_message_id', ['ticket_message_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_index('ix_attachment_ticket_message_id')
        batch_op.alter_column('ticket_message_id', new_column_name='message_id')
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.create_index('ix_attachment_message_id', ['message_id'], unique=False)
