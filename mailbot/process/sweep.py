"""The deadline sweep: warnings before a response deadline and a notice when it passes, each exactly once.

It reads only tickets whose `sla_next_check_at` has come (an indexed column), so its cost follows what is
due, not how many tickets are open. Each (ticket, clock, level, deadline) is a unique escalation row,
written with its mail and the ticket's next check in one transaction: however often the sweep runs, on
however many workers, a level fires once. A deadline that moved (a new follow-up) is a new key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from mailbot.core.mail import Address
from mailbot.core.sla import Level, format_span
from mailbot.core.template_contexts import CustomerView, EscalationContext, LevelView
from mailbot.logs import log
from mailbot.outbox.bot_mail import BotMail, BotMailer
from mailbot.policy.in_force import Policy
from mailbot.policy.terms import ASSIGNEE, Terms
from mailbot.process.filing import TICKET_COLUMNS, TicketState, state_from_row
from mailbot.process.mail_views import desk_view, entitlement_view, ticket_view
from mailbot.process.response_clock import clock_of
from mailbot.render import Templates
from mailbot.store.db import unit_of_work
from mailbot.store.models import Escalation, Ticket
from mailbot.store.writer import Writer

logger = logging.getLogger("mailbot.sweep")

BATCH = 500


@dataclass(frozen=True)
class Planned:
    ticket: TicketState
    clock: str
    level: Level
    deadline: datetime
    fires_at: datetime
    recipients: tuple[str, ...]
    left: timedelta  # business time left before the deadline (negative once it passed)


def recipients(names: tuple[str, ...], ticket: TicketState, terms: Terms) -> tuple[str, ...]:
    """Addresses for a level's `notify` names: the assignee (else the team) and the configured groups."""
    out: list[str] = []
    for name in names:
        if name == ASSIGNEE:
            found = (ticket.assignee,) if ticket.assignee else terms.recipients.get("team", ())
        else:
            found = terms.recipients.get(name, ())
        out.extend(a for a in found if a not in out)
    return tuple(out)


def plan(ticket: TicketState, terms: Terms, now: datetime, fired: set[tuple[str, str, datetime]]) -> tuple[list[Planned], datetime | None]:
    """The levels due for `ticket` at `now` that have not fired, and when to look at the ticket next."""
    clock = clock_of(ticket, terms)
    if clock is None or clock.deadline is None:
        return [], None
    schedule = clock.schedule(terms.levels)
    deadline = clock.deadline
    due = [
        Planned(ticket, clock.kind, level, deadline, when, recipients(level.notify, ticket, terms), timedelta(0))
        for level, when in schedule
        if when <= now and (clock.kind, level.name, deadline) not in fired
    ]
    if due:
        left = clock.left(now)
        due = [replace(p, left=left) for p in due]
    upcoming = [when for _, when in schedule if when > now]
    return due, min(upcoming) if upcoming else None


def _load_due(conn: Connection, now: datetime, limit: int, lock: bool) -> list[TicketState]:
    query = select(*TICKET_COLUMNS).where(Ticket.sla_next_check_at <= now).order_by(Ticket.sla_next_check_at).limit(limit)
    if lock:
        query = query.with_for_update(skip_locked=True)
    return [state_from_row(row) for row in conn.execute(query)]


def _fired(conn: Connection, ticket_ids: list[int]) -> dict[int, set[tuple[str, str, datetime]]]:
    rows = conn.execute(
        select(Escalation.ticket_id, Escalation.clock, Escalation.level, Escalation.deadline).where(Escalation.ticket_id.in_(ticket_ids))
    ).all()
    out: dict[int, set[tuple[str, str, datetime]]] = {}
    for ticket_id, clock, level, deadline in rows:
        out.setdefault(ticket_id, set()).add((clock, level, deadline))
    return out


def preview(sessions: sessionmaker[Session], terms: Terms, at: datetime) -> list[Planned]:
    """What a sweep at `at` would fire, without changing anything (`mailbot escalations --at`)."""
    found: list[Planned] = []
    with sessions() as session:
        conn = session.connection()
        tickets = _load_due(conn, at, 1_000_000, lock=False)
        fired = _fired(conn, [t.id for t in tickets]) if tickets else {}
        for ticket in tickets:
            due, _ = plan(ticket, terms, at, fired.get(ticket.id, set()))
            found.extend(due)
        session.rollback()
    return found


class Sweeper:
    def __init__(self, sessions: sessionmaker[Session], policy: Callable[[], Policy], mailer: BotMailer, language: str) -> None:
        self.sessions = sessions
        self.policy = policy
        self.mailer = mailer
        self.language = language

    def run(self, now: datetime, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Fire everything due at `now`; returns how many levels fired."""
        fired_total = 0
        while not should_stop():
            fired, seen = self._batch(now)
            fired_total += fired
            if seen < BATCH:
                break
        return fired_total

    def _batch(self, now: datetime) -> tuple[int, int]:
        policy = self.policy()
        terms, templates = policy.terms, policy.templates
        fired = 0
        with unit_of_work(self.sessions) as session:
            writer = Writer(session.connection())
            tickets = _load_due(writer.conn, now, BATCH, lock=True)
            if not tickets:
                return 0, 0
            already = _fired(writer.conn, [t.id for t in tickets])
            next_checks = []
            for ticket in tickets:
                due, next_check = plan(ticket, terms, now, already.get(ticket.id, set()))
                if due:
                    self._fire(writer, due, terms, templates, now)
                    fired += len(due)
                next_checks.append({"tid": ticket.id, "next": next_check})
            writer.flush()
            writer.conn.execute(
                update(Ticket).where(Ticket.id == bindparam("tid")).values(sla_next_check_at=bindparam("next")),
                next_checks,
            )
        return fired, len(tickets)

    def _fire(self, writer: Writer, due: list[Planned], terms: Terms, templates: Templates, now: datetime) -> None:
        """Record every due level; mail only the most severe one, to everyone the due levels name (a sweep
        that runs late, or a clock that resumed late, must not send a string of stale warnings)."""
        item = max(due, key=lambda p: p.level.fraction)
        everyone = tuple(dict.fromkeys(a for p in due for a in p.recipients))
        ticket = item.ticket
        left = format_span(item.left)
        for p in due:
            writer.add(
                Escalation, ticket_id=ticket.id, clock=p.clock, level=p.level.name, deadline=p.deadline,
                fired_at=now, recipients=list(everyone) if p is item else [],
            )
        writer.event(
            ticket.id, "sla.escalated", now, clock=item.clock, level=item.level.name, deadline=item.deadline.isoformat(),
            to=list(everyone), left=left, superseded=[p.level.name for p in due if p is not item],
        )
        log(logger, logging.INFO, "sla.escalated", ticket=ticket.id, escalation=item.level.name, deadline=item.deadline.isoformat(), to=",".join(everyone) or "-")
        if not everyone:
            return  # recorded; nobody to tell (configure [recipients] in escalation.toml)
        zone = terms.desk_zone.key
        context = EscalationContext(
            desk=desk_view(self.mailer.origin), zone=zone, now=now, ticket=ticket_view(ticket),
            customer=CustomerView(ticket.customer, "", zone), entitlement=entitlement_view(ticket, terms), deadline=item.deadline,
            level=LevelView(item.level.name, item.level.fraction), clock=item.clock, time_left=left,
            reply_address=self.mailer.ticket_address(ticket.id),
        )
        bot_mail = BotMail(
            kind="escalation", to=tuple(Address(a) for a in everyone), ticket_id=ticket.id, for_agents=True, batched=True,
            dedupe_key=f"esc:{ticket.id}:{item.clock}:{item.level.name}:{item.deadline.isoformat()}",
        )
        self.mailer.render_and_queue(writer, bot_mail, templates, terms.escalation_template, self.language, context, now)
