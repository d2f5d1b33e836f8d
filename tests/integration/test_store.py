"""The store on SQLite and PostgreSQL: migrations match the models, dedup, content-addressed blobs, UTC."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mailbot.core.mail import Part
from mailbot.intake.inbound import Fetched, content_hash, sniff_message_id, store_raw
from mailbot.store import migrate
from mailbot.store.db import make_engine, session_factory, unit_of_work
from mailbot.store.models import Attachment, Base, Blob, Event, Inbound, InboundRaw, Ticket, TicketMessage
from mailbot.store.writer import Writer
from tests.conftest import data

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def test_migrations_match_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    assert migrate.is_current(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == []


def test_the_head_every_command_checks_is_the_scripts_head(db_url: str) -> None:
    engine = make_engine(db_url)
    assert migrate.HEAD == migrate.head_revision(engine) == migrate.current_revision(engine)
    engine.dispose()


def test_upgrade_is_idempotent(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision(engine)
    engine.dispose()


@pytest.mark.postgres
def test_postgresql_compresses_mail_with_lz4_and_the_migration_goes_both_ways(pg_database: str) -> None:
    from alembic import command
    from sqlalchemy import text

    engine = make_engine(pg_database)
    columns = "SELECT attrelid::regclass::text || '.' || attname, attcompression FROM pg_attribute WHERE attrelid::regclass::text IN " \
        "('inbound_raw', 'ticket_message', 'blob', 'outbox') AND attname IN ('raw', 'text', 'html', 'data') ORDER BY 1"
    lz4 = [("blob.data", "l"), ("inbound_raw.raw", "l"), ("outbox.raw", "l"), ("ticket_message.html", "l"), ("ticket_message.text", "l")]
    try:
        with engine.connect() as conn:
            assert conn.execute(text(columns)).all() == lz4
        body = " ".join(f"line {i} of a long support request" for i in range(400)).encode()
        with unit_of_work(session_factory(engine)) as s:
            store_raw(s, "imap", [Fetched(raw=b"Subject: long\r\n\r\n" + body, folder="INBOX", uidvalidity=1, uid=1)], NOW)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_column_compression(raw) FROM inbound_raw")).scalar() == "lz4"
        command.downgrade(migrate.alembic_config(engine), "0016")
        with engine.connect() as conn:
            assert {c for _, c in conn.execute(text(columns))} == {""}  # the server's default again
        migrate.upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(text(columns)).all() == lz4
    finally:
        migrate.upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE inbound_raw, inbound CASCADE"))
        engine.dispose()


def test_store_raw_deduplicates_by_content(sessions: sessionmaker[Session]) -> None:
    raw = data("plain.eml")
    crlf = raw.replace(b"\n", b"\r\n")
    with unit_of_work(sessions) as s:
        assert store_raw(s, "imap", [Fetched(raw=crlf, folder="INBOX", uidvalidity=1, uid=1)], NOW) == 1
    with unit_of_work(sessions) as s:
        # Same bytes after a UIDVALIDITY change, and the same message as a Maildir (LF) file.
        assert store_raw(s, "imap", [Fetched(raw=crlf, folder="INBOX", uidvalidity=2, uid=1)], NOW) == 0
        assert store_raw(s, "local", [Fetched(raw=raw, folder="new", location="f1")], NOW) == 0
        assert store_raw(s, "local", [Fetched(raw=raw, folder="new"), Fetched(raw=raw, folder="new")], NOW) == 0
    with unit_of_work(sessions) as s:
        rows = s.scalars(select(Inbound)).all()
        assert len(rows) == 1
        assert s.get_one(InboundRaw, rows[0].id).raw == crlf and rows[0].raw_sha256 == content_hash(raw)
        assert rows[0].message_id == "plain-1@customer.example"
        assert rows[0].fetched_at == NOW and rows[0].fetched_at.tzinfo is not None


def test_blobs_are_content_addressed(sessions: sessionmaker[Session]) -> None:
    """Two attachments with the same bytes (in two messages) are stored once."""
    part = Part(filename="a.bin", content_type="application/octet-stream", disposition="attachment", payload=b"\x00binary\xff")
    with unit_of_work(sessions) as s:
        ticket = Ticket(subject="x", created_at=NOW, updated_at=NOW, tags=[])
        s.add(ticket)
        s.flush()
        writer = Writer(s.connection())
        for _ in range(2):
            row = writer.insert_id(
                TicketMessage, ticket_id=ticket.id, direction="in", author="customer", visibility="public", message_id="",
                sender="a@example.com", sender_name="", subject="x", text="", created_at=NOW,
            )
            writer.attachment(row, part, hashlib.sha256(part.payload).hexdigest())
        writer.flush()
    with unit_of_work(sessions) as s:
        assert s.scalar(select(func.count()).select_from(Blob)) == 1
        assert s.scalar(select(func.count()).select_from(Attachment)) == 2
        assert s.scalar(select(Blob.data)) == b"\x00binary\xff"


def test_datetimes_are_utc_and_naive_is_refused(sessions: sessionmaker[Session]) -> None:
    berlin = timezone(timedelta(hours=1))
    with unit_of_work(sessions) as s:
        s.add(Ticket(subject="x", created_at=datetime(2026, 3, 2, 10, 0, tzinfo=berlin), updated_at=NOW, tags=[]))
    with unit_of_work(sessions) as s:
        t = s.scalars(select(Ticket)).one()
        assert t.created_at == NOW and t.created_at.tzinfo == timezone.utc
    with pytest.raises(Exception, match="naive datetime"):
        with unit_of_work(sessions) as s:
            s.add(Ticket(subject="y", created_at=datetime(2026, 3, 2), updated_at=NOW, tags=[]))


def _stored(s: Session, model: type, row_id: int) -> dict:
    table = model.__table__  # type: ignore[attr-defined]
    row = s.connection().execute(select(table).where(table.c.id == row_id)).mappings().one()
    return {k: v for k, v in row.items() if k != "id"}


def test_the_writers_inserts_store_what_the_orm_stores(sessions: sessionmaker[Session]) -> None:
    """The writer sends its INSERTs through the driver (store/driver_insert.py): the same columns, types, defaults."""
    berlin = timezone(timedelta(hours=1))
    values = dict(
        subject="Привет", status="open", customer="a@example.com", tags=["x", "ü"], created_at=datetime(2026, 3, 2, 10, 0, tzinfo=berlin),
        updated_at=NOW, language="ru",
    )
    event_detail = {"why": "a reason", "n": [1, 2], "ok": True}
    with unit_of_work(sessions) as s:
        orm = Ticket(**values)
        s.add(orm)
        s.add(Event(ticket_id=None, kind="k", at=NOW))  # detail left to its default
        s.flush()
        writer = Writer(s.connection())
        fast = writer.insert_id(Ticket, **values)
        writer.event(fast, "k", datetime(2026, 3, 2, 10, 0, tzinfo=berlin), inbound_id=None, **event_detail)
        writer.add(Event, ticket_id=None, kind="k", at=NOW)  # named columns differ from the row before: defaults fill in
        writer.flush()
    with unit_of_work(sessions) as s:
        assert _stored(s, Ticket, fast) == _stored(s, Ticket, orm.id)
        assert s.get(Ticket, fast).created_at == NOW and s.get(Ticket, fast).entitlement == {}  # type: ignore[union-attr]
        events = s.scalars(select(Event).order_by(Event.id)).all()
        assert [(e.ticket_id, e.at, e.detail) for e in events] == [(None, NOW, {}), (fast, NOW, event_detail), (None, NOW, {})]
    with pytest.raises(Exception, match="naive datetime"):
        with unit_of_work(sessions) as s:
            Writer(s.connection()).insert_id(Ticket, **{**values, "created_at": datetime(2026, 3, 2)})


def _message(ticket_id: int, message_id: str, **extra: object) -> dict:
    return dict(
        ticket_id=ticket_id, inbound_id=None, direction="in", author="customer", visibility="public", message_id=message_id,
        sender="a@example.com", sender_name="A", subject="s", text="t", html=None, sent_at=None, created_at=NOW, **extra,
    )


def test_rows_that_wait_are_sent_before_any_statement_that_could_read_them(sessions: sessionmaker[Session]) -> None:
    """With `send_when_read`, ticket messages and outbox rows wait (on PostgreSQL with ids drawn ahead): every later
    statement still sees them, in one multi-row INSERT per table, and a commit with rows not sent is refused."""
    with unit_of_work(sessions) as s:
        writer = Writer(s.connection())
        writer.send_when_read(block=2)
        ticket = writer.insert_id(Ticket, subject="x", status="new", customer="a@example.com", tags=[], created_at=NOW, updated_at=NOW)
        ids = [writer.insert_id(TicketMessage, **_message(ticket, f"<{n}@example.com>")) for n in range(5)]
        assert len(set(ids)) == 5
        writer.add(TicketMessage, **_message(ticket, "<collected@example.com>"))
        found = s.execute(select(TicketMessage.id, TicketMessage.message_id).where(TicketMessage.ticket_id == ticket).order_by(TicketMessage.id)).all()
        assert [m for _, m in found] == [*(f"<{n}@example.com>" for n in range(5)), "<collected@example.com>"]
        assert [i for i, _ in found][:5] == ids  # the ids handed out are the rows' ids
        writer.insert_id(TicketMessage, **_message(ticket, "<late@example.com>"))
        writer.event(ticket, "k", NOW)  # write-only rows wait for flush even when a statement runs
        assert s.scalar(select(func.count()).select_from(TicketMessage)) == 7
        assert s.scalar(select(func.count()).select_from(Event)) == 0
        writer.flush()
    with unit_of_work(sessions) as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 1
    with pytest.raises(RuntimeError, match="not sent before COMMIT"):
        with unit_of_work(sessions) as s:
            writer = Writer(s.connection())
            writer.send_when_read(block=2)
            writer.add(TicketMessage, **_message(ticket, "<never@example.com>"))
    with unit_of_work(sessions) as s:
        assert s.scalar(select(func.count()).select_from(TicketMessage)) == 7


def test_ticket_messages_keep_the_order_they_were_written_in(sessions: sessionmaker[Session]) -> None:
    """A ticket's messages are read back in id order: a collected row (an acknowledgement on the ticket) written
    between two messages gets an id between theirs, whether ids are drawn ahead or given by the INSERT."""
    with unit_of_work(sessions) as s:
        writer = Writer(s.connection())
        writer.send_when_read(block=3)
        ticket = writer.insert_id(Ticket, subject="x", status="new", customer="a@example.com", tags=[], created_at=NOW, updated_at=NOW)
        writer.insert_id(TicketMessage, **_message(ticket, "<question@example.com>"))
        writer.add(TicketMessage, **_message(ticket, "<ack@example.com>"))
        writer.insert_id(TicketMessage, **_message(ticket, "<reply@example.com>"))
        writer.add(TicketMessage, **_message(ticket, "<second-ack@example.com>"))
        writer.flush()
    with unit_of_work(sessions) as s:
        found = s.scalars(select(TicketMessage.message_id).order_by(TicketMessage.id)).all()
        assert found == ["<question@example.com>", "<ack@example.com>", "<reply@example.com>", "<second-ack@example.com>"]


def test_a_row_that_waited_fails_as_its_insert_would(sessions: sessionmaker[Session]) -> None:
    """A row sent late is a plain INSERT still: a value too long for its column, or a foreign key to nothing,
    fails the transaction instead of being cut to fit or skipped."""
    for bad in ({"direction": "sideways"}, {"ticket_id": 999_999}):
        with pytest.raises(Exception):
            with unit_of_work(sessions) as s:
                writer = Writer(s.connection())
                writer.send_when_read(block=4)
                ticket = writer.insert_id(Ticket, subject="x", status="new", customer="a@example.com", tags=[], created_at=NOW, updated_at=NOW)
                writer.insert_id(TicketMessage, **{**_message(ticket, "<bad@example.com>"), **bad})
                writer.flush()
                if s.connection().dialect.name == "sqlite" and "direction" in bad:
                    raise ValueError("SQLite keeps any length: nothing to check there")
    with unit_of_work(sessions) as s:
        assert s.scalar(select(func.count()).select_from(TicketMessage)) == 0


def test_sniff_message_id_handles_folding() -> None:
    assert sniff_message_id(b"Subject: x\r\nMessage-ID:\r\n <a@b>\r\n\r\nMessage-ID: <body@x>") == "a@b"
    assert sniff_message_id(b"Subject: x\n\nbody") == ""
