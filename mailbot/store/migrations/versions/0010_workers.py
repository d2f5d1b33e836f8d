"""several workers: the desk's secrets in the database, a lease per mail source

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'desk_secret',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('secret', sa.String(200), nullable=False),
        sa.Column('fingerprint', sa.String(32), nullable=False, unique=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('verify_until', sa.DateTime(), nullable=True),
    )
    op.create_table(
        'source_lease',
        sa.Column('source', sa.String(100), primary_key=True),
        sa.Column('owner', sa.String(200), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('acquired_at', sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('source_lease')
    op.drop_table('desk_secret')
