"""`mailbot status`: the desk at a glance (queues, the automatic-mail throttle); `mailbot status N STATUS`: set
a ticket's status by hand, with what that does to its clock."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.cli.app_session import on_ticket, opened_app
from mailbot.cli.command_list import command_help
from mailbot.config import Config
from mailbot.core.ticket_states import InboundStatus, OutboxStatus, TicketStatus
from mailbot.outbox.throttle import throttle
from mailbot.process import response_clock
from mailbot.process.filing import TicketState
from mailbot.store.db import unit_of_work
from mailbot.store.journal import add_event
from mailbot.store.models import Inbound, Outbox


def desk_status(config: Config, args: argparse.Namespace) -> int:
    """What waits where: inbound, outbox, and whether automatic mail is held back by the hourly cap."""
    with opened_app(config, args) as app, unit_of_work(app.sessions) as s:
        now = app.clock.now()
        inbound = dict(s.execute(select(Inbound.status, func.count()).group_by(Inbound.status)).tuples().all())
        outbox = dict(s.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).tuples().all())
        print(f"inbound: {inbound.get(InboundStatus.RECEIVED, 0)} waiting, {inbound.get(InboundStatus.QUARANTINED, 0)} quarantined")
        print(
            f"outbox: {outbox.get(OutboxStatus.QUEUED, 0)} queued, {outbox.get(OutboxStatus.HELD, 0)} held, "
            f"{outbox.get(OutboxStatus.FAILED, 0)} failed"
        )
        print(throttle(s.connection(), now, app.config.settings.smtp.max_automatic_per_hour).describe())
    return 0


def cmd_status(config: Config, args: argparse.Namespace) -> int:
    if args.number is None:
        return desk_status(config, args)
    if args.status is None:
        print("mailbot status N STATUS: name the status to set (or give no arguments for the desk's status)")
        return 2
    changed: list[str] = []  # the status before, once the change is made

    def change(app: App, session: Session, ticket: TicketState) -> int:
        now = app.clock.now()
        changed.append(ticket.status)
        response_clock.set_status(ticket, TicketStatus(args.status), now, app.policy.terms)
        ticket.save(session.connection(), now)
        add_event(session, ticket.id, "ticket.status", now, before=changed[0], after=args.status, by="cli")
        return 0

    code = on_ticket(config, args, change)
    if changed:  # said only once committed
        print(f"ticket #{args.number}: {changed[0]} → {args.status}")
    return code


def register(sub: Any) -> None:
    p = sub.add_parser("status", help=command_help("status"))
    p.add_argument("number", type=int, nargs="?")
    p.add_argument("status", nargs="?", choices=[s.value for s in TicketStatus], help="; ".join(f"{s.value}: {s.meaning}" for s in TicketStatus))
    p.set_defaults(handler=cmd_status)
