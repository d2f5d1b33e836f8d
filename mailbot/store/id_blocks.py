"""Row ids drawn ahead from PostgreSQL's sequences, a block at a time, so a row can wait to be sent with others.

An INSERT that must hand its id back (`RETURNING id`) is a round trip of its own for every row; with the id known
beforehand the row joins the next multi-row INSERT of its table. The ids come from the column's own sequence
(`nextval`, the source of the ids PostgreSQL would have given), so they never collide with rows inserted
elsewhere; ids drawn and not used are skipped, as ids of rolled-back rows are. Only for tables whose ids nobody
reads as a count or a customer-facing number.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from sqlalchemy import Connection, Table


class IdBlocks:
    def __init__(self, conn: Connection, tables: Sequence[Table], block: int) -> None:
        self.conn = conn
        self.tables = tuple(tables)
        self.block = max(1, block)
        self._free: dict[str, deque[int]] = {t.name: deque() for t in self.tables}
        columns = ", ".join(f"nextval(pg_get_serial_sequence('{t.name}', 'id'))" for t in self.tables)
        # Sent as the driver's SQL: the writer's own statement, not one that makes it send its waiting rows first.
        self._draw_sql = f"SELECT {columns} FROM generate_series(1, %(n)s)"

    def take(self, table: Table) -> int:
        """The next id for a row of `table`; when the table's block is used up, one query draws the next block
        of every table."""
        free = self._free[table.name]
        if not free:
            for row in self.conn.exec_driver_sql(self._draw_sql, {"n": self.block}):
                for t, value in zip(self.tables, row):
                    self._free[t.name].append(int(value))
        return free.popleft()
