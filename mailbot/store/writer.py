"""Writes of a transaction's processing, collected and sent as one multi-row INSERT per table.

The per-message path is the hot path of the daemon: one statement per table instead of one per row, each
compiled once and sent as the driver's SQL on the transaction's connection (store/driver_insert.py), is
several times faster than ORM units of work here, with the same single transaction around it. Processing
files a group of messages in one transaction: rows no statement of the group reads back (events, attachments
and their content) and rows the writer answers for itself (Message-IDs, automatic replies, suppressions:
`collected_*`) wait for the end of the group; the rest are sent after each message, or, once `send_when_read`
is on, just before the next statement that might read them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Executable, Table, event, insert
from sqlalchemy.dialects import postgresql, sqlite

from mailbot.core.mail import Part
from mailbot.store.driver_insert import insert_one, insert_rows
from mailbot.store.group_reads import GroupReads
from mailbot.store.id_blocks import IdBlocks, TicketNumbers
from mailbot.store.models import (
    Attachment,
    AutoReply,
    Blob,
    Escalation,
    Event,
    MessageRef,
    Outbox,
    Participant,
    Suppression,
    Ticket,
    TicketMessage,
)

# Tables whose rows may already exist (a Message-ID seen before, a known participant, shared content):
# their inserts skip duplicates of the unique key instead of failing the transaction.
_IDEMPOTENT: dict[str, list[str]] = {
    MessageRef.__tablename__: ["message_id"],
    Participant.__tablename__: ["ticket_id", "address"],
    Blob.__tablename__: ["sha256"],
    Suppression.__tablename__: ["address"],
    Escalation.__tablename__: ["ticket_id", "clock", "level", "deadline"],
    Outbox.__tablename__: ["dedupe_key"],
}
# Parents before children, for the foreign keys.
_ORDER = [Ticket, Blob, TicketMessage, Attachment, MessageRef, Participant, Outbox, AutoReply, Suppression, Escalation, Event]
# Rows that filing never reads back from the database within its transaction: they can wait for the end of a
# group. Message-IDs, automatic replies and suppressions are read back (threading, the daily cap, bounces), but
# through `collected_ref`, `collected_auto_replies` and `collected_suppression`, which look here as well.
_WRITE_ONLY = frozenset(m.__tablename__ for m in (Blob, Attachment, MessageRef, AutoReply, Suppression, Event))
# Rows whose ids are drawn ahead on PostgreSQL (store/id_blocks.py): internal ids, never shown as a number or a
# count. Tickets are numbered in the order they open, and customers see the numbers: their ids are drawn only as
# many as a group is sure to open (TicketNumbers), and wait like these once drawn.
_AHEAD = (TicketMessage, Outbox)
_WITH_ID = "#id"  # suffix of the key under which rows with an id drawn ahead wait: sent as plain INSERTs


@dataclass(frozen=True)
class Mark:
    """How many rows each table had collected: `Writer.back_to` forgets what came after."""

    counts: tuple[tuple[str, int], ...]
    tickets_taken: int = 0


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


# Statements are built once per table (and dialect): building one costs more than sending it.
_FLUSH: dict[tuple[str, str], Executable] = {}
_PLAIN: dict[str, Executable] = {}


def _plain_insert(table: Table) -> Executable:
    stmt = _PLAIN.get(table.name)
    if stmt is None:
        stmt = _PLAIN[table.name] = insert(table)
    return stmt


def _flush_insert(table: Table, dialect: str) -> Executable:
    """INSERT for the table; for idempotent tables, one that skips rows whose unique key exists."""
    stmt = _FLUSH.get((table.name, dialect))
    if stmt is None:
        key_cols = _IDEMPOTENT.get(table.name)
        if key_cols is None:
            stmt = insert(table)
        else:
            dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            stmt = dialect_insert(table).on_conflict_do_nothing(index_elements=key_cols)
        _FLUSH[(table.name, dialect)] = stmt
    return stmt


class Writer:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name
        self._rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._seen: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
        self._refs: dict[str, int] = {}  # Message-IDs collected and not yet sent: the first ticket keeps it
        self.reads: GroupReads | None = None  # read once for a filing group (process/runner.py), else None
        self._ids: IdBlocks | None = None
        self._when_read = False
        self._numbers: TicketNumbers | None = None
        self.tickets_taken: list[int] = []  # ticket ids this transaction took from `_numbers`, in order

    def number_tickets(self, numbers: TicketNumbers) -> None:
        """New tickets take their ids from `numbers` while it holds any (PostgreSQL); a transaction that rolls
        back gives `tickets_taken` back."""
        if self.dialect == "postgresql":
            self._numbers = numbers
            event.listen(self.conn, "rollback", self._give_back_numbers)

    @property
    def numbers_tickets(self) -> bool:
        """New tickets take ids drawn ahead (`number_tickets`, on PostgreSQL)."""
        return self._numbers is not None

    def _give_back_numbers(self, *_: Any) -> None:
        if self._numbers is not None:
            self._numbers.give_back(self.tickets_taken)
        self.tickets_taken.clear()

    def send_when_read(self, block: int) -> None:
        """From now on the rows that later statements may read wait until just before the next statement on the
        connection that is not the writer's own (or `flush_read_back`, or `flush`), instead of being sent when a
        message ends; on PostgreSQL the ids of ticket messages and outbox rows are drawn ahead, `block` at a time,
        so those rows wait too. Every statement still sees every row written before it. A commit with rows not
        sent is refused: call `flush` first."""
        if self._when_read:
            return
        if any(self._rows.values()):
            raise RuntimeError("send_when_read must come before the first row is collected")
        self._when_read = True
        event.listen(self.conn, "before_execute", self._send_before)
        event.listen(self.conn, "commit", self._refuse_unsent)
        if self.dialect == "postgresql":
            self._ids = IdBlocks(self.conn, [_table(m) for m in _AHEAD], block, self._numbers)

    def _send_before(self, *_: Any) -> None:
        if self._waiting_read_back():
            self.flush_read_back()

    def _refuse_unsent(self, *_: Any) -> None:
        if any(self._rows.values()):
            raise RuntimeError(f"rows collected and not sent before COMMIT: {sorted(n for n, r in self._rows.items() if r)}")

    def _waiting_read_back(self) -> bool:
        return any(rows for name, rows in self._rows.items() if name not in _WRITE_ONLY)

    # immediate ---------------------------------------------------------------------------------------
    def insert_id(self, model: type[Any], **values: Any) -> int:
        """INSERT one row now and return its id (for rows that others point at). With ids drawn ahead, the row
        waits with the others instead; it is sent as a plain INSERT, so it fails as an INSERT now would."""
        if model is Participant:
            self.participants_changed(values["ticket_id"])
        table = _table(model)
        if self._ids is not None and model in _AHEAD:
            row_id = self._ids.take(table)
            self._rows[table.name + _WITH_ID].append({"id": row_id, **values})
            return row_id
        if model is Ticket and self._numbers is not None:
            number = self._ids.take_ticket() if self._ids is not None else self._numbers.take()
            if number is not None:
                self.tickets_taken.append(number)
                values = {"id": number, **values}
                if self._ids is not None:
                    self._rows[table.name + _WITH_ID].append(values)
                    return number
        if self._when_read:
            # Rows of its own table wait: they go first, so ids follow the order rows were written in (a
            # ticket's messages are read back in id order). Or it may point at a row still waiting.
            before = {table.name} | {fk.column.table.name for fk in table.foreign_keys}
            if any(rows for name, rows in self._rows.items() if name.removesuffix(_WITH_ID) in before):
                self.flush_read_back()  # (neither kind is ever a write-only row)
        return insert_one(self.conn, table, values)

    # collected ---------------------------------------------------------------------------------------
    def add(self, model: type[Any], **values: Any) -> None:
        table = _table(model)
        name = table.name
        if model is Participant:
            self.participants_changed(values["ticket_id"])
        key_cols = _IDEMPOTENT.get(name)
        if key_cols is not None and all(values.get(c) is not None for c in key_cols):
            key = tuple(values[c] for c in key_cols)
            if key in self._seen[name]:
                return
            self._seen[name].add(key)
        if self._ids is not None and model in _AHEAD:
            values = {"id": self._ids.take(table), **values}  # ids in the order rows are written, as insert_id's
        self._rows[name].append(values)

    def event(self, ticket_id: int | None, kind: str, now: datetime, inbound_id: int | None = None, **detail: Any) -> None:
        self.add(Event, ticket_id=ticket_id, inbound_id=inbound_id, at=now, kind=kind, detail=detail)

    def message_ref(self, message_id: str, ticket_id: int) -> None:
        """Record that `message_id` belongs to the ticket (the first ticket to claim an id keeps it)."""
        if message_id:
            self.add(MessageRef, message_id=message_id, ticket_id=ticket_id)
            self._refs.setdefault(message_id, ticket_id)

    def participants_changed(self, ticket_id: int) -> None:
        """Someone joined the ticket or changed role: what was read for the group about it is out of date."""
        if self.reads is not None:
            self.reads.forget_participants(ticket_id)

    def collected_ref(self, message_id: str) -> int | None:
        """The ticket of a Message-ID collected in this transaction and not sent yet (a stored one wins)."""
        return self._refs.get(message_id)

    def collected_auto_replies(self, address: str, since: datetime) -> int:
        """Automatic replies to `address` collected and not sent yet, later than `since`."""
        return sum(1 for r in self._rows.get(AutoReply.__tablename__, ()) if r["address"] == address and r["at"] > since)

    def collected_suppression(self, address: str) -> tuple[datetime, str] | None:
        """(when, why) of a suppression of `address` collected and not sent yet."""
        for r in self._rows.get(Suppression.__tablename__, ()):
            if r["address"] == address:
                return r["at"], r["reason"]
        return None

    def participant(self, ticket_id: int, address: str, name: str, role: str, now: datetime) -> None:
        """Add `address` to the ticket unless it is there already (in whatever role)."""
        self.add(Participant, ticket_id=ticket_id, address=address, name=name, role=role, added_at=now)

    def attachment(self, message_row_id: int, part: Part, digest: str) -> None:
        self.add(Blob, sha256=digest, size=len(part.payload), data=part.payload)
        self.add(
            Attachment,
            ticket_message_id=message_row_id,
            filename=part.filename[:500],
            content_type=part.content_type[:255],
            disposition=part.disposition,
            content_id=part.content_id[:998] if part.content_id else None,
            size=len(part.payload),
            sha256=digest,
        )

    # a message's share of a group ----------------------------------------------------------------------
    def mark(self) -> Mark:
        return Mark(tuple((name, len(rows)) for name, rows in self._rows.items()), len(self.tickets_taken))

    def back_to(self, mark: Mark) -> None:
        """Forget the rows collected since `mark` (the message that collected them was rolled back)."""
        kept = dict(mark.counts)
        if self._numbers is not None:
            self._numbers.give_back(self.tickets_taken[mark.tickets_taken:])
        del self.tickets_taken[mark.tickets_taken:]
        for name in list(self._rows):
            del self._rows[name][kept.get(name, 0):]
            key_cols = _IDEMPOTENT.get(name)
            if key_cols is not None:
                self._seen[name] = {tuple(r[c] for c in key_cols) for r in self._rows[name] if all(r.get(c) is not None for c in key_cols)}
        self._refs = {}
        for row in self._rows.get(MessageRef.__tablename__, []):
            self._refs.setdefault(row["message_id"], row["ticket_id"])

    def flush_read_back(self) -> None:
        """Send the rows that later statements of the transaction may read; the write-only ones wait."""
        self._send(lambda name: name not in _WRITE_ONLY)

    def flush(self) -> None:
        """Send everything collected: one INSERT per table, duplicates of idempotent keys skipped."""
        self._send(lambda name: True)
        self._refs.clear()
        self.reads = None  # what was read for the group no longer covers what the database now holds

    def _send(self, which: Callable[[str], bool]) -> None:
        for model in _ORDER:
            table = _table(model)
            if not which(table.name):
                continue
            with_id = self._rows.pop(table.name + _WITH_ID, None)
            if with_id:
                insert_rows(self.conn, table, _plain_insert(table), with_id)
            rows = self._rows.pop(table.name, None)
            self._seen.pop(table.name, None)
            if rows:
                insert_rows(self.conn, table, _flush_insert(table, self.dialect), rows)
