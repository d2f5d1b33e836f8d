"""worker heartbeats, each source's last poll outcome, and a cancelled state for outgoing mail

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

OUTBOX_BEFORE = ("held", "queued", "sent", "failed", "bounced")
OUTBOX_AFTER = OUTBOX_BEFORE + ("cancelled",)


def _one_of(values: tuple[str, ...]) -> str:
    return f"status IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        'worker_heartbeat',
        sa.Column('worker', sa.String(length=200), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('version', sa.String(length=50), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('beat_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('worker'),
    )
    op.create_table(
        'source_health',
        sa.Column('source', sa.String(length=100), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('last_success_at', sa.DateTime(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('last_error_at', sa.DateTime(), nullable=True),
        sa.Column('worker', sa.String(length=200), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('source'),
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint('ck_outbox_status', type_='check')
        batch_op.create_check_constraint('ck_outbox_status', _one_of(OUTBOX_AFTER))


def downgrade() -> None:
    op.execute("UPDATE outbox SET status = 'failed', last_error = 'cancelled' WHERE status = 'cancelled'")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint('ck_outbox_status', type_='check')
        batch_op.create_check_constraint('ck_outbox_status', _one_of(OUTBOX_BEFORE))
    op.drop_table('source_health')
    op.drop_table('worker_heartbeat')
