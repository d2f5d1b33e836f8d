"""one list of states: inbound received/filed, solved tickets, CHECK constraints on every status column

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

TICKET = ("new", "open", "pending", "solved", "closed")
INBOUND = ("received", "filed", "duplicate", "quarantined")
OUTBOX = ("held", "queued", "sent", "failed", "bounced")


def _one_of(values: tuple[str, ...]) -> str:
    return f"status IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.execute("UPDATE inbound SET status = 'received' WHERE status = 'pending'")
    op.execute("UPDATE inbound SET status = 'filed' WHERE status = 'done'")
    # Anything else a hand-made change may have left is treated as open work, never as done.
    op.execute(f"UPDATE ticket SET status = 'open' WHERE NOT ({_one_of(TICKET)})")
    op.execute(f"UPDATE inbound SET status = 'received' WHERE NOT ({_one_of(INBOUND)})")
    op.execute(f"UPDATE outbox SET status = 'failed', last_error = 'unknown status before upgrade' WHERE NOT ({_one_of(OUTBOX)})")
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.create_check_constraint('ck_ticket_status', _one_of(TICKET))
    with op.batch_alter_table('inbound', schema=None) as batch_op:
        batch_op.create_check_constraint('ck_inbound_status', _one_of(INBOUND))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_check_constraint('ck_outbox_status', _one_of(OUTBOX))


def downgrade() -> None:
    for table in ('outbox', 'inbound', 'ticket'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f'ck_{table}_status', type_='check')
    op.execute("UPDATE inbound SET status = 'pending' WHERE status = 'received'")
    op.execute("UPDATE inbound SET status = 'done' WHERE status = 'filed'")
