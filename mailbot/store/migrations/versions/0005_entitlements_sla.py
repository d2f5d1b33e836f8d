"""customers, entitlements, response clocks, escalations

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 04:03:05.251312
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('external_id', name='uq_customer_external_id')
    )
    op.create_table('customer_address',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('value', sa.String(length=320), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'value', name='uq_customer_address_kind_value')
    )
    with op.batch_alter_table('customer_address', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_address_customer_id'), ['customer_id'], unique=False)

    op.create_table('entitlement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('product', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('plan', sa.String(length=100), nullable=False),
    sa.Column('paid_at', sa.DateTime(), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=True),
    sa.Column('ends_at', sa.DateTime(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('customer_id', 'product', 'plan', 'paid_at', name='uq_entitlement_purchase')
    )
    with op.batch_alter_table('entitlement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entitlement_customer_id'), ['customer_id'], unique=False)

    op.create_table('escalation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('clock', sa.String(length=10), nullable=False),
    sa.Column('level', sa.String(length=50), nullable=False),
    sa.Column('deadline', sa.DateTime(), nullable=False),
    sa.Column('fired_at', sa.DateTime(), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ticket_id', 'clock', 'level', 'deadline', name='uq_escalation_once')
    )
    with op.batch_alter_table('escalation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_escalation_ticket_id'), ['ticket_id'], unique=False)

    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('customer_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('entitlement_state', sa.String(length=20), nullable=False, server_default='unknown'))
        batch_op.add_column(sa.Column('plan', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('entitlement', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('sla_clock', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('sla_started_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('sla_resumed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('sla_paused_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('sla_total_seconds', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sla_consumed_seconds', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('sla_calendar', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('sla_due_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('sla_next_check_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('first_response_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_ticket_sla_next_check_at'), ['sla_next_check_at'], unique=False)
        batch_op.create_foreign_key('fk_ticket_customer_id', 'customer', ['customer_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_constraint('fk_ticket_customer_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_ticket_sla_next_check_at'))
        batch_op.drop_column('first_response_at')
        batch_op.drop_column('sla_next_check_at')
        batch_op.drop_column('sla_due_at')
        batch_op.drop_column('sla_calendar')
        batch_op.drop_column('sla_consumed_seconds')
        batch_op.drop_column('sla_total_seconds')
        batch_op.drop_column('sla_paused_at')
        batch_op.drop_column('sla_resumed_at')
        batch_op.drop_column('sla_started_at')
        batch_op.drop_column('sla_clock')
        batch_op.drop_column('entitlement')
        batch_op.drop_column('plan')
        batch_op.drop_column('entitlement_state')
        batch_op.drop_column('customer_id')

    with op.batch_alter_table('escalation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_escalation_ticket_id'))

    op.drop_table('escalation')
    with op.batch_alter_table('entitlement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entitlement_customer_id'))

    op.drop_table('entitlement')
    with op.batch_alter_table('customer_address', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_address_customer_id'))

    op.drop_table('customer_address')
    op.drop_table('customer')
