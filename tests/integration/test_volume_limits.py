"""Volume limits: the hourly cap on automatic mail (the rest waits in the outbox), the per-ticket cap on agent
notifications, and intake batches bounded in bytes as well as in count."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.app import App
from mailbot.config import MaildirConfig
from mailbot.intake.maildir import MaildirSource
from mailbot.outbox.sender import SendStats
from mailbot.outbox.throttle import throttle
from mailbot.store.db import unit_of_work
from mailbot.store.models import Event, Inbound, Outbox
from mailbot.time_source import FixedClock
from tests.support.cli import run_mailbot
from tests.support.flow import customer_mail, deliver
from tests.support.maildir import deliver_to_maildir
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.slow  # starts processes (the CLI, a daemon, a worker or a server)



def flush(app: App) -> SendStats:
    async def run() -> SendStats:
        try:
            return await app.sender.flush()
        finally:
            await app.sender.transport.close()

    return asyncio.run(run())


def outbox(app: App, kind: str | None = None) -> list[Outbox]:
    with unit_of_work(app.sessions) as s:
        query = select(Outbox).order_by(Outbox.id)
        return list(s.scalars(query.where(Outbox.kind == kind) if kind else query))


def test_automatic_mail_over_the_hourly_cap_waits_in_the_outbox(make_config, smtp: SmtpServer, clock: FixedClock, caplog, tmp_path: Path) -> None:
    config = make_config(smtp=smtp.section(max_automatic_per_hour=2), processing={"isolate": False})
    app = App(config, clock)
    try:
        app.ensure_schema()
        deliver(app.sessions, clock, *(customer_mail(f"c{i}@customer.test", f"Question {i}") for i in range(5)))
        assert app.process().done == 5
        with caplog.at_level(logging.WARNING, logger="mailbot.outbox"):
            assert flush(app).sent == 2
            assert flush(app).sent == 0  # still within the hour: nothing more, and no second warning
        assert len(smtp.handler.received) == 2
        assert len([r for r in caplog.records if "outbox.throttled" in r.getMessage()]) == 1
        assert [r.status for r in outbox(app, "ack")] == ["sent", "sent", "queued", "queued", "queued"]
        with unit_of_work(app.sessions) as s:
            state = throttle(s.connection(), clock.now(), 2)
        assert state.active and state.waiting == 3
        listed = run_mailbot(config.path, "--now", clock.now().isoformat(), "outbox", "list")
        assert "automatic mail: 2 sent in the last hour (limit 2): throttled, 3 waiting in the outbox" in listed.stdout
        status = run_mailbot(config.path, "--now", clock.now().isoformat(), "status")
        assert status.returncode in (0, 1, 2), status.stderr  # the desk's health (no daemon runs here)
        assert "automatic mail: 2 sent in the last hour (limit 2): throttled, 3 waiting in the outbox" in status.stdout

        clock.advance(timedelta(minutes=61))
        assert flush(app).sent == 2
        clock.advance(timedelta(minutes=61))
        assert flush(app).sent == 1
        assert len(smtp.handler.received) == 5  # delayed, never dropped
    finally:
        app.close()


def test_agent_notifications_are_capped_per_ticket_and_hour(make_config, clock: FixedClock) -> None:
    config = make_config(
        processing={"isolate": False}, agents={"require_authentication": False, "max_notifications_per_ticket_per_hour": 3},
        agent=[{"address": "agent@example.com", "name": "Agent"}],
    )
    app = App(config, clock)
    try:
        app.ensure_schema()
        first = customer_mail("duel@customer.test", "Problem", message_id="duel-0@customer.test")
        deliver(app.sessions, clock, first)
        app.process()
        [ack] = outbox(app, "ack")
        # An auto-responder that answers every notification-triggered mail on the same ticket, again and again.
        for i in range(1, 6):
            follow = customer_mail(
                "duel@customer.test", "Re: Problem", message_id=f"duel-{i}@customer.test",
                extra=f"In-Reply-To: <{ack.message_id}>\r\n",
            )
            deliver(app.sessions, clock, follow)
            app.process()
        assert len(outbox(app, "agent-notify")) == 3
        with unit_of_work(app.sessions) as s:
            capped = list(s.scalars(select(Event).where(Event.kind == "agent.notify_capped")))
        assert len(capped) == 3 and capped[0].detail["to"] == "agent@example.com" and capped[0].detail["limit"] == 3
        clock.advance(timedelta(minutes=61))
        deliver(app.sessions, clock, customer_mail("duel@customer.test", "Re: again", extra=f"In-Reply-To: <{ack.message_id}>\r\n"))
        app.process()
        assert len(outbox(app, "agent-notify")) == 4  # a new hour: the agent hears of the ticket again
    finally:
        app.close()


def test_a_maildir_poll_is_bounded_in_bytes(make_config, clock: FixedClock, tmp_path: Path) -> None:
    config = make_config(processing={"isolate": False})
    app = App(config, clock)
    try:
        app.ensure_schema()
        path = tmp_path / "Maildir"
        big = "x" * 70 + "\r\n"
        for i in range(6):
            deliver_to_maildir(path, customer_mail(f"c{i}@customer.test", f"Log {i}", big * 5_000), f"{i:02d}.eml")  # ~360 KB each
        batches: list[int] = []
        source = MaildirSource(MaildirConfig(name="md", path=path, max_batch_bytes=1_000_000), app.sessions, clock, batch_size=200)
        original = source._commit

        def counting(where, batch, stats):  # type: ignore[no-untyped-def]
            batches.append(len(batch))
            original(where, batch, stats)

        source._commit = counting  # type: ignore[method-assign]
        assert source.poll().stored == 6
        assert batches == [2, 2, 2]  # never more than 1 MB in memory at once
        with unit_of_work(app.sessions) as s:
            assert len(list(s.scalars(select(Inbound.id)))) == 6
    finally:
        app.close()


@pytest.mark.dovecot
def test_an_imap_poll_is_bounded_in_bytes(dovecot, imap_user, make_config, clock: FixedClock) -> None:
    from tests.conftest import imap_section
    from tests.integration.test_imap_intake import append

    big = "x" * 70 + "\r\n"
    append(dovecot, imap_user, *(customer_mail(f"c{i}@customer.test", f"Log {i}", big * 5_000) for i in range(6)))  # ~360 KB each
    config = make_config(imap=[imap_section(dovecot, imap_user, batch_size=100, max_batch_bytes=1_000_000)])
    app = App(config, clock)
    try:
        app.ensure_schema()
        [source] = app.sources
        fetched: list[int] = []
        original = source._fetch  # type: ignore[attr-defined]

        def counting(client, folder, batch):  # type: ignore[no-untyped-def]
            fetched.append(len(batch))
            return original(client, folder, batch)

        source._fetch = counting  # type: ignore[attr-defined]
        assert app.poll() == 6
        assert fetched == [2, 2, 2]  # by the server's RFC822.SIZE: never more than 1 MB per FETCH
    finally:
        app.close()
