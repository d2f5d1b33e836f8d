"""The outbox over several SMTP connections against a real SMTP server: sends overlap, each row goes once, an
outage stops every connection and counts no attempt, and what the server accepted is recorded once."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from mailbot.app import App
from mailbot.outbox.claims import Claim, Outcome
from mailbot.outbox.sender import ROWS_PER_CLAIM, SendStats
from mailbot.store.db import unit_of_work
from mailbot.store.models import Outbox
from mailbot.time_source import FixedClock
from tests.integration.test_outbox import flush, queue_mail
from tests.support.smtp import HoldingHandler, SmtpServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow  # starts a server


def desk(make_config, smtp: SmtpServer, clock: FixedClock, connections: int, **smtp_keys: object) -> App:
    return App(make_config(smtp=smtp.section(connections=connections, **smtp_keys)), clock)


def rows(app: App) -> list[Outbox]:
    with unit_of_work(app.sessions) as s:
        return list(s.scalars(select(Outbox).order_by(Outbox.id)))


def message_ids(smtp: SmtpServer) -> list[str]:
    return [r.header("Message-ID").strip("<>") for r in smtp.handler.received]


def test_two_connections_send_side_by_side(make_config, clock: FixedClock) -> None:
    handler = HoldingHandler()
    smtp = SmtpServer(handler).start()
    app = desk(make_config, smtp, clock, 2, timeout_seconds=30)
    try:
        for i in range(4):
            queue_mail(app, f"c{i}@customer.example")
        got: list[SendStats | BaseException] = []

        def run() -> None:
            try:
                got.append(flush(app))
            except BaseException as exc:  # handed to the test's thread
                got.append(exc)

        sender = threading.Thread(target=run)
        sender.start()
        # Each DATA is held until released: two held at once means two sessions are sending side by side.
        wait_until(lambda: handler.active == 2, what="two DATA commands held at the same time")
        handler.release.set()
        sender.join(timeout=60)
        [stats] = got
        assert isinstance(stats, SendStats) and stats.sent == 4
        assert handler.peak == 2 and handler.connections == 2
    finally:
        handler.release.set()
        smtp.stop()
        app.close()


@pytest.mark.parametrize("connections", [1, 3])
def test_every_queued_row_is_sent_exactly_once(make_config, smtp: SmtpServer, clock: FixedClock, connections: int) -> None:
    app = desk(make_config, smtp, clock, connections)
    try:
        ids = [queue_mail(app, f"c{i}@customer.example") for i in range(13)]
        stats = flush(app)
        assert (stats.sent, stats.retry, stats.failed) == (13, 0, 0)
        sent = rows(app)
        assert [r.id for r in sent] == ids
        assert all(r.status == "sent" and r.attempts == 1 for r in sent)
        assert sorted(message_ids(smtp)) == sorted(r.message_id for r in sent)  # each once, none twice
        assert smtp.handler.connections <= connections
        assert flush(app).sent == 0 and len(smtp.handler.received) == 13
    finally:
        app.close()


def test_an_outage_mid_batch_leaves_unsent_rows_queued_with_attempts_unchanged(
    make_config, smtp: SmtpServer, clock: FixedClock
) -> None:
    app = desk(make_config, smtp, clock, 2)
    try:
        ids = [queue_mail(app, f"c{i}@customer.example") for i in range(8)]
        due = clock.now()
        # Two messages go through, then the server says it is going away (421) to whoever sends next.
        smtp.handler.script = ["accept", "accept"] + ["unavailable"] * 20
        stats = flush(app)
        assert stats.unreachable and (stats.sent, stats.retry, stats.failed) == (2, 0, 0)
        refused = 20 - (len(smtp.handler.script))
        assert 1 <= refused <= 2  # each connection stopped at its first 421, the other at once after it
        after = rows(app)
        sent = [r for r in after if r.status == "sent"]
        waiting = [r for r in after if r.status != "sent"]
        assert len(sent) == 2 and sorted(message_ids(smtp)) == sorted(r.message_id for r in sent)
        assert len(waiting) == 6
        # Not the rows' fault: each is queued as before, no attempt counted, due at the same time.
        assert all(r.status == "queued" and r.attempts == 0 and r.next_attempt_at == due for r in waiting)
        claimed = [r for r in waiting if r.last_error]  # claimed by a connection, given back unsent
        assert claimed and all("server unavailable" in (r.last_error or "") for r in claimed)

        smtp.handler.script = []
        clock.set(app.sender._paused_until or clock.now())
        assert flush(app).sent == 6
        assert sorted(message_ids(smtp)) == sorted(r.message_id for r in rows(app))  # each row once
        assert all(r.status == "sent" for r in rows(app)) and [r.id for r in rows(app)] == ids
    finally:
        app.close()


def test_mail_accepted_but_not_marked_is_recorded_on_the_next_flush(
    make_config, smtp: SmtpServer, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = desk(make_config, smtp, clock, 2)
    try:
        for i in range(6):
            queue_mail(app, f"c{i}@customer.example")
        settle: Callable[[list[Outcome], list[Claim], str | None], list[str]] = app.sender.rows.settle
        calls: list[int] = []

        def database_gone_once(outcomes: list[Outcome], unsent: list[Claim], why: str | None) -> list[str]:
            calls.append(len(outcomes))
            if len(calls) == 1:
                raise OperationalError("UPDATE outbox", {}, Exception("the database went away"))
            return settle(outcomes, unsent, why)

        monkeypatch.setattr(app.sender.rows, "settle", database_gone_once)
        with pytest.raises(OperationalError):
            flush(app)
        unrecorded = dict(app.sender._unrecorded)
        assert 1 <= len(unrecorded) <= 2 * ROWS_PER_CLAIM
        state = {r.id: r for r in rows(app)}
        # The server has them; the database still calls them queued, leased (not due before the lease ends).
        assert all(state[i].status == "queued" and state[i].next_attempt_at > clock.now() for i in unrecorded)
        assert {state[i].message_id for i in unrecorded} <= set(message_ids(smtp))
        marked = sum(r.status == "sent" for r in state.values())

        stats = flush(app)  # the database is back: what was accepted is recorded first, not sent again
        assert app.sender._unrecorded == {}
        assert all(r.status == "sent" for r in rows(app))
        assert marked + stats.sent == 6
        assert sorted(message_ids(smtp)) == sorted(r.message_id for r in rows(app))  # each row once
    finally:
        app.close()


def test_the_lease_covers_a_claim_of_several_rows(make_config, smtp: SmtpServer, clock: FixedClock) -> None:
    app = desk(make_config, smtp, clock, 2, timeout_seconds=5)
    try:
        assert app.sender.lease.total_seconds() == 5 * 4 * ROWS_PER_CLAIM
        row_id = queue_mail(app, "a@customer.example")
        claims = app.sender.rows.claim(ROWS_PER_CLAIM, None)
        assert [c.id for c in claims] == [row_id]
        leased = next(r for r in rows(app) if r.id == row_id)
        assert leased.attempts == 1 and leased.next_attempt_at == clock.now() + app.sender.lease
        assert app.sender.rows.claim(ROWS_PER_CLAIM, None) == []  # taken: no other connection gets it
    finally:
        app.close()
