"""Connecting to a mailbox that already holds years of mail: it is filed as history (threaded into tickets,
closed or left open, never answered, no clock), and mail that arrives afterwards is handled as usual.
A real Dovecot and a Maildir, each pre-filled with several hundred messages in threads; both databases."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient
from sqlalchemy import func, select

from mailbot.app import App
from mailbot.store.db import unit_of_work
from mailbot.store.models import Escalation, Event, Inbound, MailboxCursor, Outbox, Ticket, TicketMessage
from mailbot.time_source import FixedClock
from tests.conftest import DATA, imap_section
from tests.support.cli import run_mailbot
from tests.support.dovecot import Dovecot, ImapUser
from tests.support.flow import customer_mail
from tests.support.mailbox_history import Thread, in_arrival_order, make_history
from tests.support.maildir import deliver_to_maildir

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]  # starts processes

THREADS = 80  # about 320 messages
# Every new ticket is acknowledged and every sender promised an answer in 48 hours: a mistake would show.
RULES = {"dir": str(DATA / "rules" / "ack-all-promise")}


def append(dovecot: Dovecot, user: ImapUser, *raws: bytes) -> None:
    with IMAPClient("127.0.0.1", port=dovecot.port, ssl=False, timeout=10) as c:
        c.starttls(ssl.create_default_context(cafile=str(dovecot.cert)))
        c.login(user.name, user.password)
        for raw in raws:
            c.append("INBOX", raw)


class Mailbox:
    """One pre-filled source, IMAP or Maildir, and how to deliver more mail to it."""

    def __init__(self, kind: str, dovecot: Dovecot, user: ImapUser, tmp_path: Path) -> None:
        self.kind, self.dovecot, self.user = kind, dovecot, user
        self.maildir = tmp_path / "Maildir"
        self.count = 0

    def section(self) -> dict[str, Any]:
        if self.kind == "imap":
            return {"imap": [imap_section(self.dovecot, self.user, idle=False)]}
        return {"maildir": [{"name": "local", "path": str(self.maildir)}]}

    def prefill(self, raws: list[bytes]) -> None:
        for raw in raws:
            self.count += 1
            if self.kind == "imap":
                self.dovecot.deliver(self.user, raw)
            else:
                deliver_to_maildir(self.maildir, raw, f"{self.count:06d}.history.host")

    def deliver(self, *raws: bytes) -> None:
        if self.kind == "imap":
            append(self.dovecot, self.user, *raws)
            return
        for raw in raws:
            self.count += 1
            deliver_to_maildir(self.maildir, raw, f"{self.count:06d}.new.host")


@pytest.fixture(params=["imap", "maildir"])
def mailbox(request: pytest.FixtureRequest, dovecot: Dovecot, imap_user: ImapUser, tmp_path: Path) -> Mailbox:
    return Mailbox(request.param, dovecot, imap_user, tmp_path)


@pytest.fixture
def history(clock: FixedClock) -> list[Thread]:
    return make_history(clock.now(), THREADS)


@pytest.fixture
def app(make_config, mailbox: Mailbox, history: list[Thread], clock: FixedClock) -> Iterator[App]:
    mailbox.prefill(in_arrival_order(history))
    application = App(make_config(rules=RULES, **mailbox.section()), clock)
    yield application
    application.close()


def count(app: App, model: Any, *where: Any) -> int:
    with unit_of_work(app.sessions) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def tickets(app: App) -> list[Ticket]:
    with unit_of_work(app.sessions) as s:
        return list(s.scalars(select(Ticket).order_by(Ticket.id)))


def ticket_of(app: App, thread: Thread) -> Ticket:
    with unit_of_work(app.sessions) as s:
        return s.scalars(select(Ticket).where(Ticket.customer == thread.customer).order_by(Ticket.id)).first()  # type: ignore[return-value]


def test_connecting_to_a_full_mailbox_sends_nothing_and_starts_no_clock(app: App, history: list[Thread], clock: FixedClock) -> None:
    messages = sum(len(t.messages) for t in history)
    assert messages >= 250

    assert app.poll() == messages
    stats = app.process()
    assert (stats.done, stats.retried, stats.quarantined) == (messages, 0, 0)

    # Every message is on file, in one ticket per thread; nothing was queued to anyone.
    assert count(app, Inbound, Inbound.history.is_(True), Inbound.status == "filed") == messages
    assert count(app, TicketMessage, TicketMessage.direction == "in") == messages
    assert len(tickets(app)) == THREADS
    assert count(app, Outbox) == 0
    for ticket in tickets(app):
        assert ticket.sla_started_at is None and ticket.sla_due_at is None and ticket.sla_next_check_at is None

    # Closed, except the threads whose last word is a customer's from the last week.
    for thread in history:
        ticket = ticket_of(app, thread)
        assert count(app, TicketMessage, TicketMessage.ticket_id == ticket.id) == len(thread.messages)
        recent_unanswered = not thread.last_by_support and clock.now() - thread.last_at <= timedelta(days=14)
        assert ticket.status == ("open" if recent_unanswered else "closed"), thread.subject
        assert ticket.closed_at == (None if recent_unanswered else thread.last_at)
        assert ticket.created_at == thread.times[0]
    assert sum(1 for t in tickets(app) if t.status == "open") == 5

    # Each message says why it was not answered.
    assert count(app, Event, Event.kind == "history.filed") == messages
    with unit_of_work(app.sessions) as s:
        skipped = s.scalars(select(Event).where(Event.kind == "steps.skipped")).all()
    assert len(skipped) == messages
    assert {"answer", "deadline", "agents", "notify"} <= set(skipped[0].detail["steps"])
    assert "history" in skipped[0].detail["reason"]

    # A month on, the sweep finds no deadline to warn about.
    clock.advance(timedelta(days=30))
    app.sweep()
    assert count(app, Escalation) == 0 and count(app, Outbox) == 0


def test_mail_after_connecting_is_handled_as_usual(app: App, mailbox: Mailbox, history: list[Thread], clock: FixedClock) -> None:
    app.poll()
    app.process()
    assert count(app, Outbox) == 0
    with unit_of_work(app.sessions) as s:
        cursors = s.scalars(select(MailboxCursor)).all()
        assert all(c.first_seen_at == clock.now() and c.history_done_at == clock.now() for c in cursors)

    clock.advance(timedelta(hours=1))
    old = next(t for t in history if t.last_by_support and clock.now() - t.last_at > timedelta(days=60))
    old_ticket = ticket_of(app, old)
    mailbox.deliver(
        customer_mail("newcomer@fresh.example", "Brand new question", date=clock.now()),
        customer_mail(old.customer, f"Re: {old.subject}", "It broke again", date=clock.now(), extra=(
            f"In-Reply-To: <{old.messages[-1].split(b'Message-ID: <')[1].split(b'>')[0].decode()}>\r\n"
        )),
    )
    assert app.poll() == 2
    assert app.process().done == 2
    with unit_of_work(app.sessions) as s:
        assert s.scalar(select(func.count()).select_from(Inbound).where(Inbound.history.is_(False))) == 2
        fresh = s.scalars(select(Ticket).where(Ticket.customer == "newcomer@fresh.example")).one()
        again = s.scalars(select(Ticket).where(Ticket.customer == old.customer).order_by(Ticket.id.desc())).first()
        assert fresh.status == "new" and fresh.sla_due_at is not None
        # The old thread was closed long ago: a new ticket that points at it, with its own clock.
        assert again is not None and again.id != old_ticket.id and again.follows == old_ticket.id
        assert again.sla_due_at is not None
        acks = s.scalars(select(Outbox).where(Outbox.kind == "ack")).all()
        assert sorted(a.recipients[0] for a in acks) == sorted(["newcomer@fresh.example", old.customer])


def test_history_before_answers_what_came_later(make_config, mailbox: Mailbox, history: list[Thread], clock: FixedClock) -> None:
    """With history_before, mail the folder held that came after it is new mail (acknowledged, with a clock)."""
    older = [t for t in history if clock.now() - t.last_at > timedelta(days=30)][:20]
    mailbox.prefill(in_arrival_order(older))
    later = customer_mail("late@client.example", "Sent after the cut-off", date=clock.now() - timedelta(hours=2))
    mailbox.prefill([later])
    config = make_config(intake={"history_before": clock.now() - timedelta(days=1)}, rules=RULES, **mailbox.section())
    app = App(config, clock)
    try:
        app.poll()
        app.process()
        with unit_of_work(app.sessions) as s:
            assert s.scalar(select(func.count()).select_from(Inbound).where(Inbound.history.is_(False))) == 1
            acks = s.scalars(select(Outbox).where(Outbox.kind == "ack")).all()
            assert [a.recipients for a in acks] == [["late@client.example"]]
            late = s.scalars(select(Ticket).where(Ticket.customer == "late@client.example")).one()
            assert late.sla_due_at is not None
    finally:
        app.close()


def test_poll_history_only_imports_and_reports(make_config, mailbox: Mailbox, history: list[Thread], clock: FixedClock, tmp_path: Path, db_url: str) -> None:
    raws = in_arrival_order(history[:30])
    mailbox.prefill(raws)
    config = make_config(rules=RULES, **mailbox.section())
    assert config.path is not None
    now = clock.now().isoformat()
    result = run_mailbot(config.path, "--now", now, "poll", "--history-only")
    assert result.returncode == 0, result.stderr
    assert f"history {len(raws)}" in result.stdout
    assert f"filed {len(raws)} message(s) of history" in result.stdout
    assert "tickets holding history: 30 (" in result.stdout and "mail queued: 0" in result.stdout
    assert "Traceback" not in result.stderr

    # Once imported, there is no history left: new mail is left for the daemon, untouched.
    mailbox.deliver(customer_mail("later@fresh.example", "After the import", date=clock.now()))
    again = run_mailbot(config.path, "--now", now, "poll", "--history-only")
    assert again.returncode == 0, again.stderr
    assert "filed 0 message(s) of history" in again.stdout
    done = run_mailbot(config.path, "--now", now, "poll", "--once")
    assert "stored 1 new message(s); filed 1" in done.stdout, done.stdout + done.stderr
