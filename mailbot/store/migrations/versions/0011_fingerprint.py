"""content fingerprint and decoding notes on ticket messages

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows filed before this revision have no fingerprint: the duplicate check works it out from their
    # stored text and attachments when it needs one.
    with op.batch_alter_table('ticket_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('decoding', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ticket_message', schema=None) as batch_op:
        batch_op.drop_column('decoding')
        batch_op.drop_column('content_hash')
