"""PostgreSQL: the columns that hold mail compressed with lz4 instead of pglz (faster to write and to read)

PostgreSQL compresses a value of more than about 2 KB before storing it. Its default method, pglz, costs the
server more CPU than lz4 (bench/pg_compression.py: 757-979 against 548-582 us an INSERTed message), and on mail
with attachments it did not even store less. Only values written from now on are compressed the new way; stored
values are read either way. Servers before 14, or built without
lz4, keep pglz. SQLite stores values as they are: nothing to do.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

# (table, column): raw mail, a message's text and HTML, attachments, and the mail mailbot sends
COLUMNS = (('inbound_raw', 'raw'), ('ticket_message', 'text'), ('ticket_message', 'html'), ('blob', 'data'), ('outbox', 'raw'))


def _has_lz4() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    found = bind.execute(text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")).scalar()
    return bool(found)


def upgrade() -> None:
    if _has_lz4():
        for table, column in COLUMNS:
            op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET COMPRESSION lz4')


def downgrade() -> None:
    if _has_lz4():
        for table, column in COLUMNS:
            op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET COMPRESSION default')
