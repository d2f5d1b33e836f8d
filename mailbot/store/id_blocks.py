"""Row ids drawn ahead from PostgreSQL's sequences, a block at a time, so a row can wait to be sent with others.

An INSERT that must hand its id back (`RETURNING id`) is a round trip of its own for every row; with the id known
beforehand the row joins the next multi-row INSERT of its table. The ids come from the column's own sequence
(`nextval`, the source of the ids PostgreSQL would have given), so they never collide with rows inserted
elsewhere. Internal ids (ticket messages, outbox rows) are drawn a block at a time, and ids drawn and not used are
skipped, as ids of rolled-back rows are. Ticket ids are numbers customers see: only as many are drawn as the
group is sure to open (`TicketNumbers`), and one drawn and not used is kept for the next ticket of the same
processing run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from sqlalchemy import Connection, Table


class TicketNumbers:
    """Ticket ids drawn from the ticket sequence and not used yet, kept from one filing transaction to the next
    for one processing run (`process_pending`).

    Taken in the order they were drawn, so the tickets a worker opens are numbered in the order it opens them.
    A transaction that rolls back gives back the ids it took (a sequence never hands a drawn id out again, so
    the next ticket can have it). What is left when the run ends (it was stopped in the middle of a group, or
    a message that had taken one failed) is skipped, as PostgreSQL skips the ids of rolled-back INSERTs.
    """

    def __init__(self) -> None:
        self._free: deque[int] = deque()
        self.expected = 0  # tickets the current group is sure to open: drawn with its first block of ids

    def __len__(self) -> int:
        return len(self._free)

    def expect(self, count: int) -> None:
        self.expected = count

    def add(self, ids: Sequence[int]) -> None:
        self._free.extend(ids)

    def take(self) -> int | None:
        return self._free.popleft() if self._free else None

    def give_back(self, ids: Sequence[int]) -> None:
        """Ids taken and then rolled back (in the order taken): they come first again."""
        self._free.extendleft(reversed(ids))


class IdBlocks:
    def __init__(self, conn: Connection, tables: Sequence[Table], block: int, tickets: TicketNumbers | None = None) -> None:
        self.conn = conn
        self.tables = tuple(tables)
        self.block = max(1, block)
        self.tickets = tickets
        self._free: dict[str, deque[int]] = {t.name: deque() for t in self.tables}
        columns = ", ".join(f"nextval(pg_get_serial_sequence('{t.name}', 'id'))" for t in self.tables)
        # CASE evaluates only the branch it takes: the ticket sequence moves exactly %(t)s times, in row order.
        columns += ", CASE WHEN g <= %(t)s THEN nextval(pg_get_serial_sequence('ticket', 'id')) END"
        # Sent as the driver's SQL: the writer's own statement, not one that makes it send its waiting rows first.
        self._draw_sql = f"SELECT {columns} FROM generate_series(1, %(n)s) AS g"

    def take(self, table: Table) -> int:
        """The next id for a row of `table`; when the table's block is used up, one query draws the next block
        of every table."""
        free = self._free[table.name]
        if not free:
            self._draw()
        return free.popleft()

    def take_ticket(self) -> int | None:
        """A ticket id drawn ahead, or None: the ticket is inserted on its own and gets the next id then."""
        assert self.tickets is not None
        if not len(self.tickets) and self.tickets.expected > 0:
            self._draw()
        return self.tickets.take()

    def _draw(self) -> None:
        """One query: a block of ids of every table, and the ticket ids the group is sure to need and not held."""
        wanted = 0
        if self.tickets is not None:
            wanted = max(0, self.tickets.expected - len(self.tickets))
            self.tickets.expected = 0
        drawn: list[int] = []
        for row in self.conn.exec_driver_sql(self._draw_sql, {"n": max(self.block, wanted), "t": wanted}):
            for t, value in zip(self.tables, row):
                self._free[t.name].append(int(value))
            if row[-1] is not None:
                drawn.append(int(row[-1]))
        if self.tickets is not None:
            self.tickets.add(sorted(drawn))
