"""`mailbot status N STATUS`: set a ticket's status by hand, with what that does to its clock."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.cli.app_session import on_ticket
from mailbot.cli.command_list import command_help
from mailbot.config import Config
from mailbot.core.ticket_states import TicketStatus
from mailbot.process import response_clock
from mailbot.process.filing import TicketState
from mailbot.store.journal import add_event


def cmd_status(config: Config, args: argparse.Namespace) -> int:
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
    p.add_argument("number", type=int)
    p.add_argument("status", choices=[s.value for s in TicketStatus], help="; ".join(f"{s.value}: {s.meaning}" for s in TicketStatus))
    p.set_defaults(handler=cmd_status)
