"""A ticket's response clock as stored facts: start, pause, resume and stop it, and recompute what follows.

The core (mailbot.core.sla) computes; this module keeps the ticket's columns in step with it, so the sweep
can find due tickets by one indexed column and `mailbot explain` can recompute everything afterwards.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from mailbot.core.business_calendar import round_the_clock
from mailbot.core.entitlement import Promise
from mailbot.core.sla import ResponseClock
from mailbot.core.ticket_states import ClockEffect, TicketStatus
from mailbot.policy.terms import Terms
from mailbot.process.filing import TicketState


def clock_of(ticket: TicketState, terms: Terms) -> ResponseClock | None:
    """The ticket's running or paused clock, rebuilt from its columns (None when no response is owed)."""
    if ticket.sla_clock is None or ticket.sla_started_at is None or ticket.sla_total_seconds is None:
        return None
    # A calendar since removed from calendars.toml counts every hour rather than failing the ticket.
    calendar = terms.calendars.get(ticket.sla_calendar or "") or round_the_clock(terms.desk_zone)
    return ResponseClock(
        kind=ticket.sla_clock,
        started_at=ticket.sla_started_at,
        total=timedelta(seconds=ticket.sla_total_seconds),
        calendar=calendar,
        consumed=timedelta(seconds=ticket.sla_consumed_seconds),
        resumed_at=ticket.sla_resumed_at,
        paused_at=ticket.sla_paused_at,
    )


def _store(ticket: TicketState, clock: ResponseClock | None, terms: Terms, now: datetime) -> None:
    if clock is None:
        for name in ("sla_clock", "sla_started_at", "sla_resumed_at", "sla_paused_at", "sla_total_seconds",
                     "sla_calendar", "sla_due_at", "sla_next_check_at"):
            ticket.set(name, None)
        ticket.set("sla_consumed_seconds", 0)
        return
    ticket.set("sla_clock", clock.kind)
    ticket.set("sla_started_at", clock.started_at)
    ticket.set("sla_resumed_at", clock.resumed_at)
    ticket.set("sla_paused_at", clock.paused_at)
    ticket.set("sla_total_seconds", int(clock.total.total_seconds()))
    ticket.set("sla_consumed_seconds", int(clock.consumed.total_seconds()))
    ticket.set("sla_calendar", clock.calendar.name)
    ticket.set("sla_due_at", clock.deadline)
    # The first level still ahead, or one already due that the sweep has not fired yet (the sweep decides).
    upcoming = [when for _, when in clock.schedule(terms.levels)]
    ticket.set("sla_next_check_at", min(upcoming) if upcoming else None)


def start(ticket: TicketState, kind: str, at: datetime, promise: Promise, terms: Terms, now: datetime) -> ResponseClock:
    calendar = terms.calendar_for(promise)
    clock = ResponseClock(kind, at, timedelta(hours=promise.hours), calendar)
    _store(ticket, clock, terms, now)
    return clock


def stop(ticket: TicketState, at: datetime, terms: Terms) -> None:
    """Support answered: no response is owed until the customer writes again."""
    if ticket.first_response_at is None:
        ticket.set("first_response_at", at)
    _store(ticket, None, terms, at)


def pause(ticket: TicketState, at: datetime, terms: Terms) -> None:
    clock = clock_of(ticket, terms)
    if clock is not None:
        _store(ticket, clock.pause(at), terms, at)


def resume(ticket: TicketState, at: datetime, terms: Terms) -> None:
    clock = clock_of(ticket, terms)
    if clock is not None:
        _store(ticket, clock.resume(at), terms, at)


def on_customer_message(ticket: TicketState, at: datetime, promise: Promise | None, terms: Terms, new_ticket: bool) -> ResponseClock | None:
    """What a message from the customer does to the clock. Returns the clock now in force."""
    clock = clock_of(ticket, terms)
    if TicketStatus(ticket.status).clock is ClockEffect.PAUSED:
        ticket.set("status", TicketStatus.OPEN)  # the customer answered what we waited for
        if clock is not None and clock.paused:
            clock = clock.resume(at)
            _store(ticket, clock, terms, at)
            return clock
    if clock is not None and not clock.paused:
        return clock  # a response is already owed; adding detail does not move its deadline
    if promise is None:
        return None
    kind = "first" if new_ticket or ticket.first_response_at is None else "next"
    return start(ticket, kind, at, promise, terms, at)


def set_status(ticket: TicketState, status: TicketStatus, at: datetime, terms: Terms) -> None:
    """Change the status and do to the response clock what the new status means (core.ticket_states):
    pause it while the ticket waits on the customer, resume it when it no longer does, stop it when the
    ticket is solved or closed (nothing is owed until the customer writes again)."""
    before = TicketStatus(ticket.status).clock
    ticket.set("status", status)
    after = status.clock
    if after is ClockEffect.STOPPED:
        _store(ticket, None, terms, at)
    elif after is ClockEffect.PAUSED and before is ClockEffect.RUNS:
        pause(ticket, at, terms)
    elif after is ClockEffect.RUNS and before is ClockEffect.PAUSED:
        resume(ticket, at, terms)
    if status is TicketStatus.CLOSED:
        ticket.set("closed_at", at)
    elif before is ClockEffect.STOPPED:
        ticket.set("closed_at", None)
