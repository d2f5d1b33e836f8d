"""`mailbot escalations --at`, `mailbot explain N` and `mailbot status N STATUS`: deadlines, made visible."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.cli.opened import opened_app
from mailbot.clock import parse_moment
from mailbot.config import Config
from mailbot.core.sla import format_span
from mailbot.process import clocks
from mailbot.process.filing import TicketState, load_ticket
from mailbot.process.sweep import preview
from mailbot.store.db import unit_of_work
from mailbot.store.journal import add_event
from mailbot.store.models import Escalation, Event

STATUSES = ("new", "open", "pending", "solved", "closed")


def _local(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z") if at else "-"


def _on_ticket(config: Config, args: argparse.Namespace, command: Callable[[App, Session, TicketState], int]) -> int:
    """Run `command` on ticket `args.number` in one transaction; 1 when there is no such ticket."""
    with opened_app(config, args) as app, unit_of_work(app.sessions) as session:
        try:
            ticket = load_ticket(session.connection(), args.number)
        except NoResultFound:
            print(f"no ticket #{args.number}")
            return 1
        return command(app, session, ticket)


def cmd_escalations(config: Config, args: argparse.Namespace) -> int:
    with opened_app(config, args) as app:
        terms = app.policy.terms
        at = parse_moment(args.at, config.settings.mailbot.timezone) if args.at else app.clock.now()
        planned = preview(app.sessions, terms, at)
        zone = terms.desk_zone
        print(f"at {_local(at, zone)}: {len(planned)} escalation(s) would fire (nothing is sent)")
        for p in sorted(planned, key=lambda p: (p.fires_at, p.ticket.id)):
            print(
                f"  #{p.ticket.id:<6} {p.level.name:<12} due since {_local(p.fires_at, zone)}; deadline {_local(p.deadline, zone)}"
                f" ({format_span(p.left)} of business time left); to {', '.join(p.recipients) or 'nobody (no recipients configured)'}"
            )
        return 0


def cmd_explain(config: Config, args: argparse.Namespace) -> int:
    return _on_ticket(config, args, _explain)


def _explain(app: App, session: Session, ticket: TicketState) -> int:
    terms = app.policy.terms
    now = app.clock.now()
    ent = ticket.entitlement
    print(f"Ticket #{ticket.id}: {ticket.subject}  (status {ticket.status})")
    print(f"Entitlement: {ticket.entitlement_state}, plan {ticket.plan or '-'}" + (f", customer {ent['customer']}" if ent.get("customer") else ""))
    print(f"  why: {ent.get('reason', '-')}")
    if ent.get("matched"):
        print(f"  found by {ent['matched']}")
    clock = clocks.clock_of(ticket, terms)
    if clock is None:
        stopped = f"; first response {_local(ticket.first_response_at, terms.desk_zone)}" if ticket.first_response_at else ""
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
    print(f"Clock: {'first' if clock.kind == 'first' else 'next'} response, started {_local(clock.started_at, zone)}")
    if clock.consumed:
        print(f"  {format_span(clock.consumed)} counted before a pause; counting again since {_local(clock.counting_since, zone)}")
    if clock.paused:
        print(f"  paused since {_local(clock.paused_at, zone)} (waiting on the customer): {format_span(clock.consumed)} used of {format_span(clock.total)}")
        return 0
    print("Business time counted towards the deadline:")
    total = clock.consumed
    for day in clock.breakdown():
        spans = ", ".join(f"{a.astimezone(zone):%H:%M}-{b.astimezone(zone):%H:%M}" for a, b in day.intervals)
        total += day.counted
        note = f"  [{day.note}]" if day.note else ""
        print(f"  {day.day:%a %Y-%m-%d}  {format_span(day.counted):>10}  {spans or '-'}{note}   (total {format_span(total)})")
    print(f"Deadline: {_local(clock.deadline, zone)}   (now {format_span(clock.left(now))} left)")
    fired = {(r.level, r.deadline) for r in session.scalars(select(Escalation).where(Escalation.ticket_id == ticket.id))}
    print("Warnings:")
    for level, when in clock.schedule(terms.levels):
        state = "fired" if (level.name, clock.deadline) in fired else "due" if when <= now else "pending"
        print(f"  {level.name:<12} at {_local(when, zone)}  ({state}; to {', '.join(level.notify)})")
    return 0


def cmd_status(config: Config, args: argparse.Namespace) -> int:
    changed: list[str] = []  # the status before, once the change is made

    def change(app: App, session: Session, ticket: TicketState) -> int:
        now = app.clock.now()
        changed.append(ticket.status)
        clocks.set_status(ticket, args.status, now, app.policy.terms)
        ticket.save(session.connection(), now)
        add_event(session, ticket.id, "ticket.status", now, before=changed[0], after=args.status, by="cli")
        return 0

    code = _on_ticket(config, args, change)
    if changed:  # said only once committed
        print(f"ticket #{args.number}: {changed[0]} → {args.status}")
    return code


def register(sub: Any) -> None:
    p = sub.add_parser("escalations", help="list the warnings and breach notices that would fire at a moment (dry run)")
    p.add_argument("--at", metavar="TIME", help='"2026-12-04 17:30" (desk time zone) or ISO 8601; default: now')
    p.set_defaults(handler=cmd_escalations)
    p = sub.add_parser("explain", help="how ticket N's deadline was computed: entitlement, plan, calendar, hours day by day")
    p.add_argument("number", type=int)
    p.set_defaults(handler=cmd_explain)
    p = sub.add_parser("status", help="set ticket N's status (pending pauses its response clock)")
    p.add_argument("number", type=int)
    p.add_argument("status", choices=STATUSES)
    p.set_defaults(handler=cmd_status)
