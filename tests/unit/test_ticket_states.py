"""One list of ticket states, and what each does to the response clock (frozen clock, no database)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mailbot.core.entitlement import Promise
from mailbot.core.ticket_states import ClockEffect, TicketStatus, parse_ticket_status
from mailbot.policy.terms import Terms, load_terms
from mailbot.process import response_clock
from mailbot.process.filing import TicketState

ROOT = Path(__file__).resolve().parents[2]
PROMISE = Promise(hours=24, business_hours=False, calendar="")
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def terms() -> Terms:
    return load_terms(ROOT / "rules" / "default", "UTC")


def running(terms: Terms) -> TicketState:
    ticket = TicketState(1, "Help", TicketStatus.NEW, "support", "normal", None, "a@example.com", "en")
    response_clock.on_customer_message(ticket, MONDAY, PROMISE, terms, new_ticket=True)
    assert ticket.sla_due_at == MONDAY + timedelta(hours=24)
    return ticket


def test_every_state_has_a_clock_effect_and_a_meaning() -> None:
    for status in TicketStatus:
        assert isinstance(status.clock, ClockEffect) and status.meaning
    assert parse_ticket_status(" Solved ") is TicketStatus.SOLVED
    with pytest.raises(ValueError, match="use one of: new, open, pending, solved, closed"):
        parse_ticket_status("done")


@pytest.mark.parametrize("status", [TicketStatus.SOLVED, TicketStatus.CLOSED])
def test_solved_and_closed_stop_the_clock_so_no_warning_can_fire(terms: Terms, status: TicketStatus) -> None:
    ticket = running(terms)
    response_clock.set_status(ticket, status, MONDAY + timedelta(hours=1), terms)
    assert ticket.status == status
    assert ticket.sla_due_at is None and ticket.sla_next_check_at is None and ticket.sla_clock is None
    assert (ticket.closed_at is not None) is (status is TicketStatus.CLOSED)


def test_pending_pauses_and_the_customers_answer_resumes(terms: Terms) -> None:
    ticket = running(terms)
    response_clock.set_status(ticket, TicketStatus.PENDING, MONDAY + timedelta(hours=2), terms)
    assert ticket.sla_paused_at == MONDAY + timedelta(hours=2) and ticket.sla_next_check_at is None
    # Three days later the customer answers: the 22 hours left count from then.
    later = MONDAY + timedelta(days=3)
    response_clock.on_customer_message(ticket, later, PROMISE, terms, new_ticket=False)
    assert ticket.status == TicketStatus.OPEN
    assert ticket.sla_due_at == later + timedelta(hours=22)


def test_open_after_pending_resumes_where_it_paused(terms: Terms) -> None:
    ticket = running(terms)
    response_clock.set_status(ticket, TicketStatus.PENDING, MONDAY + timedelta(hours=2), terms)
    response_clock.set_status(ticket, TicketStatus.OPEN, MONDAY + timedelta(hours=5), terms)
    assert ticket.sla_paused_at is None and ticket.sla_due_at == MONDAY + timedelta(hours=27)


def test_a_solved_ticket_starts_a_next_response_clock_when_the_customer_writes(terms: Terms) -> None:
    ticket = running(terms)
    ticket.set("first_response_at", MONDAY + timedelta(hours=1))
    response_clock.set_status(ticket, TicketStatus.SOLVED, MONDAY + timedelta(hours=1), terms)
    again = MONDAY + timedelta(days=1)
    clock = response_clock.on_customer_message(ticket, again, PROMISE, terms, new_ticket=False)
    assert clock is not None and clock.kind == "next" and ticket.sla_due_at == again + timedelta(hours=24)
