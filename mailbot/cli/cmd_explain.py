"""`mailbot explain N`: how ticket N's deadline was computed, from its stored facts."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.cli.app_session import on_ticket
from mailbot.cli.display import local_time
from mailbot.cli.command_list import command_help
from mailbot.config import Config
from mailbot.core.sla import format_span
from mailbot.process import response_clock
from mailbot.process.filing import TicketState
from mailbot.store.models import Escalation, Event


def cmd_explain(config: Config, args: argparse.Namespace) -> int:
    return on_ticket(config, args, _explain, read_only=True)


def _explain(app: App, session: Session, ticket: TicketState) -> int:
    terms = app.policy.terms
    now = app.clock.now()
    ent = ticket.entitlement
    print(f"Ticket #{ticket.id}: {ticket.subject}  (status {ticket.status})")
    print(f"Entitlement: {ticket.entitlement_state}, plan {ticket.plan or '-'}" + (f", customer {ent['customer']}" if ent.get("customer") else ""))
    print(f"  why: {ent.get('reason', '-')}")
    if ent.get("matched"):
        print(f"  found by {ent['matched']}")
    clock = response_clock.clock_of(ticket, terms)
    if clock is None:
        stopped = f"; first response {local_time(ticket.first_response_at, terms.desk_zone)}" if ticket.first_response_at else ""
        print(f"Response clock: none running (no response owed or promised{stopped})")
        for e in session.scalars(select(Event).where(Event.ticket_id == ticket.id, Event.kind.in_(["sla.none", "sla.started"])).order_by(Event.id)):
            print(f"  {e.at:%Y-%m-%d %H:%M} {e.kind}: " + ", ".join(f"{k}={v}" for k, v in e.detail.items() if v))
        return 0
    cal = clock.calendar
    zone = cal.zone
    print(f"Promise: {ent.get('promise') or format_span(clock.total)}")
    week = ", ".join(
        f"{day} " + "+".join(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in hours)
        for day, hours in zip(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), cal.week) if hours
    )
    print(f"Calendar: {cal.name} ({zone.key}; {week or 'every hour'})")
    print(f"Clock: {'first' if clock.kind == 'first' else 'next'} response, started {local_time(clock.started_at, zone)}")
    if clock.consumed:
        print(f"  {format_span(clock.consumed)} counted before a pause; counting again since {local_time(clock.counting_since, zone)}")
    if clock.paused:
        print(f"  paused since {local_time(clock.paused_at, zone)} (waiting on the customer): {format_span(clock.consumed)} used of {format_span(clock.total)}")
        return 0
    print("Business time counted towards the deadline:")
    total = clock.consumed
    for day in clock.breakdown():
        spans = ", ".join(f"{a.astimezone(zone):%H:%M}-{b.astimezone(zone):%H:%M}" for a, b in day.intervals)
        total += day.counted
        note = f"  [{day.note}]" if day.note else ""
        print(f"  {day.day:%a %Y-%m-%d}  {format_span(day.counted):>10}  {spans or '-'}{note}   (total {format_span(total)})")
    print(f"Deadline: {local_time(clock.deadline, zone)}   (now {format_span(clock.left(now))} left)")
    fired = {(r.level, r.deadline) for r in session.scalars(select(Escalation).where(Escalation.ticket_id == ticket.id))}
    print("Warnings:")
    for level, when in clock.schedule(terms.levels):
        state = "fired" if (level.name, clock.deadline) in fired else "due" if when <= now else "pending"
        print(f"  {level.name:<12} at {local_time(when, zone)}  ({state}; to {', '.join(level.notify)})")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("explain", help=command_help("explain"))
    p.add_argument("number", type=int)
    p.set_defaults(handler=cmd_explain)
