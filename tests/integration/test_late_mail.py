"""Mail whose own timestamps show it older than [intake] max_ack_age_hours is filed, with its clock, but not
acknowledged, and the event log says why; undated, bogus and future dates prove nothing. Both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy import select

from mailbot.app import App
from mailbot.store.db import unit_of_work
from mailbot.store.models import Event, Outbox, Ticket
from mailbot.time_source import FixedClock
from tests.conftest import DATA
from tests.support.flow import customer_mail, deliver

RULES = {"dir": str(DATA / "rules" / "ack-all-promise")}


@pytest.fixture
def app(make_config, clock: FixedClock) -> Iterator[App]:
    application = App(make_config(rules=RULES), clock)
    yield application
    application.close()


def received(at: str) -> str:
    return f"Received: from mx.customer.example by mx.example.com with ESMTPS id 4Zx;\r\n\t{at}\r\n"


def outcome(app: App, customer: str) -> tuple[Ticket, list[Outbox], list[Event]]:
    with unit_of_work(app.sessions) as s:
        ticket = s.scalars(select(Ticket).where(Ticket.customer == customer)).one()
        acks = list(s.scalars(select(Outbox).where(Outbox.ticket_id == ticket.id)))
        skipped = list(s.scalars(select(Event).where(Event.ticket_id == ticket.id, Event.kind == "reply.skipped")))
        return ticket, acks, skipped


def test_old_mail_is_filed_but_not_acknowledged(app: App, clock: FixedClock) -> None:
    four_days = format_datetime(clock.now() - timedelta(days=4))
    hour = format_datetime(clock.now() - timedelta(hours=1))
    mails = {
        # restored from a backup: old by every timestamp
        "restored@client.example": customer_mail("restored@client.example", "Old", date=clock.now() - timedelta(days=4), extra=received(four_days)),
        # written long ago (or a wrong clock) but delivered just now: the Received hop says it is fresh
        "slowclock@client.example": customer_mail("slowclock@client.example", "Clock", date=clock.now() - timedelta(days=30), extra=received(hour)),
        # a Date from the future and nothing else: proves nothing
        "future@client.example": customer_mail("future@client.example", "Future", date=clock.now() + timedelta(days=400)),
        # a Date in 1970: bogus, proves nothing
        "epoch@client.example": customer_mail("epoch@client.example", "Epoch").replace(b"Mon, 02 Mar 2026 09:00:00 +0000", b"Thu, 01 Jan 1970 00:00:00 +0000"),
        # no Date at all
        "undated@client.example": customer_mail("undated@client.example", "Undated").replace(b"Date: Mon, 02 Mar 2026 09:00:00 +0000\r\n", b""),
    }
    deliver(app.sessions, clock, *mails.values())
    assert app.process().done == len(mails)

    ticket, acks, skipped = outcome(app, "restored@client.example")
    assert acks == [] and len(skipped) == 1
    assert "96 hours old by its own timestamps (limit 72)" in skipped[0].detail["reason"]
    assert ticket.sla_due_at is not None  # a real message still owed an answer: the clock runs, agents see it

    for customer in ("slowclock@client.example", "future@client.example", "epoch@client.example", "undated@client.example"):
        _, acks, skipped = outcome(app, customer)
        assert [a.kind for a in acks] == ["ack"] and skipped == [], customer


def test_max_ack_age_can_be_turned_off(make_config, clock: FixedClock) -> None:
    app = App(make_config(rules=RULES, intake={"max_ack_age_hours": 0}), clock)
    try:
        deliver(app.sessions, clock, customer_mail("restored@client.example", "Old", date=clock.now() - timedelta(days=40)))
        app.process()
        _, acks, _ = outcome(app, "restored@client.example")
        assert [a.kind for a in acks] == ["ack"]
    finally:
        app.close()
