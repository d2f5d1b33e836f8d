"""The outbox against a real SMTP server: a reused connection, 4xx backoff, 5xx failure, drops, deadlines."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from mailbot.app import App
from mailbot.core.mail import Address
from mailbot.outbox.compose import Outgoing
from mailbot.outbox.enqueue import enqueue
from mailbot.outbox.sender import SendStats
from mailbot.store.db import unit_of_work
from mailbot.store.models import Event, Outbox, Ticket
from mailbot.store.writer import Writer
from mailbot.time_source import FixedClock
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.slow  # starts processes (the CLI, a daemon, a worker or a server)



@pytest.fixture
def app(make_config, smtp: SmtpServer, clock: FixedClock) -> Iterator[App]:
    config = make_config(smtp=smtp.section(give_up_after_hours=1))
    application = App(config, clock)
    yield application
    application.close()


def queue_mail(app: App, *to: str, subject: str = "hello") -> int:
    now = app.clock.now()
    origin = app.origin  # reads the desk's secret from the database: not inside the write transaction below
    with unit_of_work(app.sessions) as s:
        ticket = Ticket(subject=subject, customer=to[0], tags=[], created_at=now, updated_at=now)
        s.add(ticket)
        s.flush()
        out = Outgoing(
            from_name="Support", from_addr="support@example.com", to=tuple(Address(a) for a in to), subject=subject,
            body="Body text", message_id=origin.new_message_id(ticket.id), date=now,
        )
        writer = Writer(s.connection())
        row_id = enqueue(writer, origin, out, kind="ack", ticket_id=ticket.id, now=now, automatic=True)
        writer.flush()
        return row_id


def flush(app: App) -> SendStats:
    """One flush in its own event loop, closing the connection at the end as `mailbot run --once` does."""

    async def run() -> SendStats:
        try:
            return await app.sender.flush()
        finally:
            await app.sender.transport.close()

    return asyncio.run(run())


def row(app: App, row_id: int) -> Outbox:
    with unit_of_work(app.sessions) as s:
        return s.get_one(Outbox, row_id)


def test_sends_over_one_reused_connection(make_config, smtp: SmtpServer, clock: FixedClock) -> None:
    # One connection: the order of the sends and the count of sessions are those of a single connection.
    app = App(make_config(smtp=smtp.section(give_up_after_hours=1, connections=1)), clock)
    ids = [queue_mail(app, f"c{i}@customer.example") for i in range(3)]

    async def two_flushes() -> tuple[SendStats, SendStats]:
        first = await app.sender.flush()
        queue_mail(app, "late@customer.example")
        second = await app.sender.flush()
        await app.sender.transport.close()
        return first, second

    first, second = asyncio.run(two_flushes())
    assert (first.sent, second.sent) == (3, 1)
    assert smtp.handler.connections == 1
    got = smtp.handler.received
    assert [r.rcpt_tos for r in got] == [["c0@customer.example"], ["c1@customer.example"], ["c2@customer.example"], ["late@customer.example"]]
    sent = row(app, ids[0])
    assert sent.status == "sent" and sent.sent_at == app.clock.now()
    # The envelope sender is a signed bounce address naming the row.
    assert got[0].mail_from == sent.mail_from
    token = app.context.desk.signer.token_in_address(sent.mail_from, "support@example.com")
    assert token is not None and (token.kind, token.ticket_id) == ("b", sent.ticket_id)
    assert app.context.desk.signer.bounced_message_id(token, app.origin.message_id_domain) == sent.message_id
    assert got[0].header("Message-ID") == f"<{sent.message_id}>"
    app.close()


def test_4xx_retries_with_exponential_backoff(app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    smtp.handler.script = ["tempfail", "tempfail"]
    row_id = queue_mail(app, "a@customer.example")
    assert flush(app).retry == 1
    first = row(app, row_id)
    assert first.status == "queued" and first.attempts == 1 and "451" in (first.last_error or "")
    assert first.next_attempt_at == clock.now() + timedelta(seconds=60)
    assert flush(app).retry == 0  # not due yet
    clock.advance(timedelta(seconds=60))
    assert flush(app).retry == 1
    assert row(app, row_id).next_attempt_at == clock.now() + timedelta(seconds=120)
    clock.advance(timedelta(seconds=120))
    assert flush(app).sent == 1
    assert len(smtp.handler.received) == 1
    assert row(app, row_id).status == "sent"


def test_5xx_fails_and_can_be_retried_by_hand(app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    smtp.handler.script = ["reject"]
    row_id = queue_mail(app, "a@customer.example")
    assert flush(app).failed == 1
    failed = row(app, row_id)
    assert failed.status == "failed" and "554" in (failed.last_error or "")
    with unit_of_work(app.sessions) as s:
        kinds = s.scalars(select(Event.kind).where(Event.ticket_id == failed.ticket_id)).all()
        assert "mail.failed" in kinds
    from tests.support.cli import run_mailbot

    assert app.config.path is not None
    result = run_mailbot(app.config.path, "--now", app.clock.now().isoformat(), "outbox", "retry", str(row_id))
    assert "1 message(s) queued to send" in result.stdout
    clock.advance(timedelta(seconds=5))  # the command's clock kept running while it started
    assert flush(app).sent == 1


def test_dropped_connection_is_reopened(app: App, smtp: SmtpServer) -> None:
    smtp.handler.script = ["drop"]
    queue_mail(app, "a@customer.example")
    queue_mail(app, "b@customer.example")
    stats = flush(app)
    # The first message was cut off mid-transaction: it is retried later, not lost and not marked sent.
    assert stats.sent + stats.retry == 2 and stats.retry <= 1
    with unit_of_work(app.sessions) as s:
        assert {r.status for r in s.scalars(select(Outbox))} <= {"sent", "queued"}


def test_server_down_keeps_everything_queued(make_config, clock: FixedClock) -> None:
    server = SmtpServer()
    config = make_config(smtp=server.section())
    app = App(config, clock)
    ids = [queue_mail(app, f"c{i}@customer.example") for i in range(3)]
    stats = flush(app)  # nothing listens on the port yet
    assert stats.sent == 0 and stats.retry == 0 and stats.unreachable
    first = row(app, ids[0])
    # Not the row's fault: no attempt counted, due as before; its last error says why it is still waiting.
    assert first.status == "queued" and first.attempts == 0 and first.next_attempt_at == clock.now()
    assert "server unavailable" in (first.last_error or "")
    assert all(row(app, i).status == "queued" and row(app, i).attempts == 0 for i in ids)
    clock.advance(timedelta(seconds=30))
    assert not flush(app).unreachable  # the sender waits instead of hammering a server that is down
    server.start()
    try:
        clock.advance(timedelta(seconds=30))
        assert flush(app).sent == 3
        assert len(server.handler.received) == 3
        assert [row(app, i).attempts for i in ids] == [1, 1, 1]
    finally:
        server.stop()
        app.close()


def test_an_outage_counts_no_attempt_only_answers_do(
    app: App, smtp: SmtpServer, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mailbot.outbox")
    smtp.handler.script = ["tempfail"]
    row_id = queue_mail(app, "a@customer.example")
    assert flush(app).retry == 1  # a 451 is the server's answer: it counts
    assert row(app, row_id).attempts == 1
    due = row(app, row_id).next_attempt_at

    smtp.stop()
    pauses = []
    for _ in range(4):  # the server stays down through several turns of the sender
        clock.set(max(clock.now(), due, app.sender._paused_until or due))
        assert flush(app).unreachable
        pauses.append((app.sender._paused_until or clock.now()) - clock.now())
        assert row(app, row_id).attempts == 1 and row(app, row_id).next_attempt_at == due
    # The pause doubles (capped), so a long outage costs a handful of connection attempts.
    assert pauses == [timedelta(seconds=60), timedelta(seconds=120), timedelta(seconds=240), timedelta(seconds=480)]

    smtp.start()
    clock.set(app.sender._paused_until or clock.now())
    assert flush(app).sent == 1
    assert row(app, row_id).attempts == 2 and row(app, row_id).status == "sent"
    events = [r for r in caplog.records if r.getMessage() in ("smtp.unavailable", "smtp.available")]
    assert [(r.getMessage(), r.levelname) for r in events if r.levelno >= logging.INFO] == [
        ("smtp.unavailable", "WARNING"), ("smtp.available", "INFO"),
    ]
    assert [r.getMessage() for r in events].count("smtp.unavailable") == 4  # the repeats at debug level


def test_gives_up_at_the_deadline(app: App, smtp: SmtpServer, clock: FixedClock) -> None:
    smtp.handler.script = ["tempfail"] * 20
    row_id = queue_mail(app, "a@customer.example")
    for _ in range(10):
        flush(app)
        clock.advance(timedelta(minutes=15))
    gone = row(app, row_id)
    assert gone.status == "failed" and "451" in (gone.last_error or "")
    assert smtp.handler.received == []


def test_partial_refusal(app: App, smtp: SmtpServer) -> None:
    smtp.handler.refuse_rcpt = {"gone@customer.example": "550 5.1.1 no such user", "full@customer.example": "452 4.2.2 mailbox full"}
    row_id = queue_mail(app, "ok@customer.example", "gone@customer.example", "full@customer.example")
    assert flush(app).sent == 1
    assert smtp.handler.received[0].rcpt_tos == ["ok@customer.example"]
    sent = row(app, row_id)
    assert "550" in (sent.last_error or "") and "452" in (sent.last_error or "")
    with unit_of_work(app.sessions) as s:
        later = s.scalars(select(Outbox).where(Outbox.id != row_id)).one()
        # The 4xx recipient gets the same message (same Message-ID) later; the 5xx one does not.
        assert later.recipients == ["full@customer.example"] and later.message_id == sent.message_id


def test_starttls_required_but_not_offered(make_config, smtp: SmtpServer, clock: FixedClock) -> None:
    config = make_config(smtp=smtp.section(security="starttls"))
    app = App(config, clock)
    row_id = queue_mail(app, "a@customer.example")
    assert flush(app).unreachable and row(app, row_id).attempts == 0
    assert "STARTTLS" in (row(app, row_id).last_error or "") or "starttls" in (row(app, row_id).last_error or "").lower()
    assert smtp.handler.received == []
    app.close()
