"""Entitlement, response clocks and the sweep on the real database, with a frozen clock moved by hand."""

from __future__ import annotations

from datetime import datetime
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from mailbot.app import App
from mailbot.customers.importer import import_rows
from mailbot.process import response_clock
from mailbot.process.filing import load_ticket
from mailbot.process.sweep import preview
from mailbot.store.db import unit_of_work
from mailbot.store.models import Escalation, Event, Outbox, Ticket
from mailbot.time_source import FixedClock
from tests.support.flow import customer_mail, deliver

pytestmark = pytest.mark.slow  # starts processes (the CLI, a daemon, a worker or a server)

RULES = Path(__file__).resolve().parents[1] / "data" / "rules" / "sla"
BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(berlin(2026, 3, 6, 17, 0))  # Friday 17:00: the first hour counted is Monday 09:00


@pytest.fixture
def app(make_config, clock: FixedClock) -> App:
    application = App(make_config(mailbot={"timezone": "Europe/Berlin", "support_name": "Example Support"}, rules={"dir": str(RULES)}), clock)
    application.ensure_schema()
    rows = [
        {"customer": "C1", "email": "alice@customer.example", "product": "Shop", "plan": "standard", "paid": "2026-03-01"},
        {"customer": "C2", "email": "old@customer.example", "product": "Shop", "plan": "standard", "paid": "2026-01-01"},
        {"customer": "C3", "domain": "lapsed.example", "product": "CMS", "plan": "commercial", "paid": "2025-01-10"},
        {"customer": "C4", "domain": "licensed.example", "product": "CMS", "plan": "commercial", "paid": "2025-08-18"},
    ]
    terms = application.policy.terms
    with unit_of_work(application.sessions) as s:
        report = import_rows(s, enumerate(rows, 2), terms.plans, terms.desk_zone, "csv", clock.now())
    assert report.errors == []
    yield application
    application.close()


def mail_from(app: App, sender: str, subject: str = "Cart broken", **kw: str) -> None:
    body = "The cart is broken since the update, please help us."
    deliver(app.sessions, app.clock, customer_mail(sender, subject, body, date=app.clock.now(), **kw))
    app.process()


def ticket(app: App, number: int = 1) -> Ticket:
    with unit_of_work(app.sessions) as s:
        return s.get_one(Ticket, number)


def outbox(app: App, kind: str) -> list[Outbox]:
    with unit_of_work(app.sessions) as s:
        return list(s.scalars(select(Outbox).where(Outbox.kind == kind).order_by(Outbox.id)))


def body(row: Outbox) -> str:
    return message_from_bytes(row.raw, policy=default).get_body(("plain",)).get_content()  # type: ignore[union-attr]


def sweep_at(app: App, clock: FixedClock, at: datetime) -> list[str]:
    clock.set(at)
    before = {e.id for e in outbox(app, "escalation")}
    app.sweep()
    return [row.subject for row in outbox(app, "escalation") if row.id not in before]


def test_active_customer_gets_a_deadline_and_each_warning_once(app: App, clock: FixedClock) -> None:
    mail_from(app, "Alice <alice@customer.example>")
    t = ticket(app)
    assert (t.entitlement_state, t.plan) == ("active", "standard")
    assert t.sla_clock == "first" and t.sla_due_at == berlin(2026, 3, 11, 17, 0)  # Friday 17:00 + 24 business hours
    [ack] = outbox(app, "ack")
    assert "You will have our answer by Wednesday 11 March, 17:00 CET." in body(ack)

    # Nothing before the first level; then each level exactly once, however often the sweep runs.
    assert sweep_at(app, clock, berlin(2026, 3, 10, 12, 59)) == []
    first = sweep_at(app, clock, berlin(2026, 3, 10, 13, 0))  # 12 h: Mon 8 + Tue 4
    assert first == ["[#1] Response due in 12 h: Cart broken"]
    assert sweep_at(app, clock, berlin(2026, 3, 10, 13, 30)) == []
    assert sweep_at(app, clock, berlin(2026, 3, 11, 11, 0)) == ["[#1] Response due in 6 h: Cart broken"]
    assert sweep_at(app, clock, berlin(2026, 3, 11, 14, 36)) == ["[#1] Response due in 2 h 24 min: Cart broken"]
    assert sweep_at(app, clock, berlin(2026, 3, 11, 17, 0)) == ["[#1] Response deadline missed: Cart broken"]
    assert sweep_at(app, clock, berlin(2026, 3, 12, 9, 0)) == []
    esc = outbox(app, "escalation")
    assert [e.recipients for e in esc] == [["team@example.com"]] * 2 + [["team@example.com", "lead@example.com"]] * 2
    breach = body(esc[-1])
    assert "The response deadline for ticket #1 has passed (Wednesday 11 March, 17:00 CET)" in breach
    assert "Customer:   alice@customer.example" in breach and "Plan:       standard (active)" in breach
    with unit_of_work(app.sessions) as s:
        assert s.scalar(select(func.count()).select_from(Escalation)) == 4
        assert s.get_one(Ticket, 1).sla_next_check_at is None


def test_a_late_sweep_sends_one_mail_not_a_string_of_stale_warnings(app: App, clock: FixedClock) -> None:
    mail_from(app, "alice@customer.example")
    assert sweep_at(app, clock, berlin(2026, 3, 11, 15, 0)) == ["[#1] Response due in 2 h: Cart broken"]
    with unit_of_work(app.sessions) as s:
        assert sorted(s.scalars(select(Escalation.level))) == ["warning-50", "warning-75", "warning-90"]


def test_follow_up_keeps_the_deadline_then_a_new_clock_after_support_answered(app: App, clock: FixedClock) -> None:
    mail_from(app, "alice@customer.example")
    clock.set(berlin(2026, 3, 9, 10, 0))
    mail_from(app, "alice@customer.example", "Re: [#1] Cart broken")
    assert ticket(app).sla_due_at == berlin(2026, 3, 11, 17, 0)  # adding detail does not move the deadline

    # Support answers on Tuesday at 10:00 (the agent path calls exactly this).
    with unit_of_work(app.sessions) as s:
        state = load_ticket(s.connection(), 1)
        response_clock.stop(state, berlin(2026, 3, 10, 10, 0), app.policy.terms)
        state.save(s.connection(), berlin(2026, 3, 10, 10, 0))
    assert sweep_at(app, clock, berlin(2026, 3, 11, 18, 0)) == []  # nothing owed: no warnings

    clock.set(berlin(2026, 3, 12, 16, 0))  # Thursday 16:00: the customer writes again
    mail_from(app, "alice@customer.example", "Re: [#1] Cart broken")
    t = ticket(app)
    assert t.sla_clock == "next" and t.sla_due_at == berlin(2026, 3, 17, 16, 0)
    assert t.first_response_at == berlin(2026, 3, 10, 10, 0)
    assert sweep_at(app, clock, berlin(2026, 3, 17, 16, 0)) == ["[#1] Response deadline missed: Cart broken"]


def test_waiting_on_the_customer_pauses_the_clock(app: App, clock: FixedClock) -> None:
    mail_from(app, "alice@customer.example")
    assert app.config.path is not None
    from tests.support.cli import run_mailbot

    # Monday 13:00 (4 h used): support asks a question and sets the ticket to pending.
    paused = run_mailbot(app.config.path, "--now", "2026-03-09T13:00:00+01:00", "status", "1", "pending")
    assert paused.returncode == 0, paused.stderr
    t = ticket(app)
    assert t.sla_paused_at is not None and t.sla_due_at is None and t.sla_next_check_at is None
    assert sweep_at(app, clock, berlin(2026, 3, 20, 9, 0)) == []  # paused: nothing, however late

    clock.set(berlin(2026, 3, 10, 9, 0))  # Tuesday morning: the customer answers
    mail_from(app, "alice@customer.example", "Re: [#1] Cart broken")
    t = ticket(app)
    assert t.status == "open" and t.sla_paused_at is None
    assert t.sla_due_at == berlin(2026, 3, 12, 13, 0)  # 20 h left: Tue 8, Wed 8, Thu 4


@pytest.mark.parametrize(
    "sender, state, template_text, queue",
    [
        ("old@customer.example", "expired", "The last day of your support period for Shop was 30 January 2026", "support"),
        ("ceo@lapsed.example", "guarantee-lapsed", "the guaranteed response time applies for one year", "support"),
        ("someone@prospect.example", "unknown", "has gone to our sales team", "presales"),
    ],
)
def test_no_promise_no_deadline(app: App, clock: FixedClock, sender: str, state: str, template_text: str, queue: str) -> None:
    mail_from(app, sender)
    t = ticket(app)
    assert t.entitlement_state == state and t.queue == queue
    assert t.sla_clock is None and t.sla_due_at is None
    [ack] = outbox(app, "ack")
    assert template_text in body(ack) and "answer by" not in body(ack)
    assert sweep_at(app, clock, berlin(2026, 4, 30, 9, 0)) == []
    with unit_of_work(app.sessions) as s:
        assert s.scalars(select(Event.kind).where(Event.kind == "sla.none")).all() == ["sla.none"]


def test_domain_wide_license_within_a_year(app: App) -> None:
    mail_from(app, "dev@licensed.example")
    t = ticket(app)
    assert (t.entitlement_state, t.plan) == ("active", "commercial")
    assert "license bought 2025-08-18, 200 days ago" in t.entitlement["reason"]
    assert t.sla_due_at == berlin(2026, 3, 11, 17, 0)


def test_preview_and_explain_change_nothing(app: App, clock: FixedClock) -> None:
    mail_from(app, "alice@customer.example")
    planned = preview(app.sessions, app.policy.terms, berlin(2026, 3, 11, 12, 0))
    assert [(p.ticket.id, p.level.name) for p in planned] == [(1, "warning-50"), (1, "warning-75")]
    assert outbox(app, "escalation") == []
    assert app.config.path is not None
    from tests.support.cli import run_mailbot

    listed = run_mailbot(app.config.path, "escalations", "--at", "2026-03-11 12:00")
    assert "2 escalation(s) would fire" in listed.stdout and "     1  warning-75" in listed.stdout
    explained = run_mailbot(app.config.path, "--now", "2026-03-10T10:00:00+01:00", "explain", "1")
    out = explained.stdout
    assert "Entitlement: active, plan standard, customer C1" in out
    assert "Calendar: default (Europe/Berlin; Mon 09:00-17:00" in out
    assert "Mon 2026-03-09         8 h  09:00-17:00" in out
    assert "Wed 2026-03-11         8 h  09:00-17:00   (total 24 h)" in out
    assert "Deadline: Wed 2026-03-11 17:00 CET" in out
    assert "warning-90   at Wed 2026-03-11 14:36 CET  (pending" in out
    for command in (("explain", "99"), ("status", "99", "pending")):
        missing = run_mailbot(app.config.path, *command)
        assert (missing.returncode, missing.stdout.strip()) == (1, "no ticket #99")
    assert outbox(app, "escalation") == []
