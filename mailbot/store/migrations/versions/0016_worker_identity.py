"""room for a worker's per-process identity ("<name>@<host>:<pid>") in leases, heartbeats and source health

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

# (table, column) holding a worker identity
COLUMNS = (('source_lease', 'owner'), ('worker_heartbeat', 'worker'), ('source_health', 'worker'))


def upgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.String(length=200), type_=sa.String(length=500), existing_nullable=False)


def downgrade() -> None:
    # Leases and heartbeats are rewritten by the running workers within seconds: a longer one is dropped (its source
    # is taken over once free); the last poller's name is only informative and is cut.
    op.execute("DELETE FROM source_lease WHERE length(owner) > 200")
    op.execute("DELETE FROM worker_heartbeat WHERE length(worker) > 200")
    op.execute("UPDATE source_health SET worker = substr(worker, 1, 200) WHERE length(worker) > 200")
    for table, column in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.String(length=500), type_=sa.String(length=200), existing_nullable=False)
