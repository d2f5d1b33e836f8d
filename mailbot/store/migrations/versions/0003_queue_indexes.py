"""queue indexes in claim order

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 04:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound") as batch_op:
        batch_op.drop_index("ix_inbound_due")
        batch_op.create_index("ix_inbound_queue", ["status", "id"], unique=False)
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_index("ix_outbox_due")
        batch_op.create_index("ix_outbox_queue", ["status", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_index("ix_outbox_queue")
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)
    with op.batch_alter_table("inbound") as batch_op:
        batch_op.drop_index("ix_inbound_queue")
        batch_op.create_index("ix_inbound_due", ["status", "next_attempt_at"], unique=False)
