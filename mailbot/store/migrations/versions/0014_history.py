"""history import: when a folder was first seen and what it held then; inbound rows marked as history

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Folders read before this upgrade keep no history window: everything new in them is new mail.
    with op.batch_alter_table('mailbox_cursor', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_seen_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('history_upto_uid', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('history_done_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('inbound', schema=None) as batch_op:
        batch_op.add_column(sa.Column('history', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('inbound', schema=None) as batch_op:
        batch_op.drop_column('history')
    with op.batch_alter_table('mailbox_cursor', schema=None) as batch_op:
        batch_op.drop_column('history_done_at')
        batch_op.drop_column('history_upto_uid')
        batch_op.drop_column('first_seen_at')
