"""`mailbot tickets list|show`: tickets, their messages and their event log."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from mailbot.cli.app_session import opened_reader
from mailbot.cli.output import Column, add_json_flag, as_json, table
from mailbot.cli.display import echo
from mailbot.cli.command_list import command_help
from mailbot.config import Config
from mailbot.core.quoting import strip_reply
from mailbot.core.ticket_states import TicketStatus
from mailbot.store.db import unit_of_work
from mailbot.store.desk_facts import clock_running
from mailbot.store.models import (
    Attachment,
    Event,
    Participant,
    Ticket,
    TicketMessage,
)


def describe_event(detail: dict[str, Any], full: bool) -> str:
    """One line per event; the rules' full reasoning (including rules that did not match) only with --full."""
    shown = dict(detail)
    if "matched" in shown:
        shown["matched"] = [
            f"{m['rule']} ({'; '.join(m['because'])})" if full else m["rule"] for m in shown["matched"]
        ]
        if not full:
            shown.pop("not_matched", None)
    return ", ".join(f"{k}={v}" for k, v in shown.items() if v not in (None, [], "", False))


def with_folds(text: str) -> list[str]:
    """The stored text, with what reply stripping leaves out of relays and notifications marked as folded."""
    stripped = strip_reply(text)
    out: list[str] = []
    at = 0
    for fold in stripped.folds:
        out += stripped.lines[at : fold.first]
        n = fold.last - fold.first + 1
        out.append(f"[folded, {n} line{'s' if n > 1 else ''}, rule {fold.rule}: {fold.reason}]")
        out += ["| " + line for line in stripped.lines[fold.first : fold.last + 1]]
        at = fold.last + 1
    return out + list(stripped.lines[at:])


LIST_COLUMNS = (
    Column("#", 6, right=True), Column("status", 8), Column("queue", 10), Column("msgs", 4, right=True),
    Column("deadline (UTC)", 16), Column("customer", 22), Column("subject", 0),
)


def span(text: str) -> timedelta:
    """'4h', '30m', '2d', '90s' (or several: '1h30m') as a duration."""
    parts = re.fullmatch(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text.strip())
    if not text.strip() or parts is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 4h, 30m or 1d")
    d, h, m, sec = (int(x or 0) for x in parts.groups())
    return timedelta(days=d, hours=h, minutes=m, seconds=sec)


def ticket_json(t: Ticket, messages: int) -> dict[str, Any]:
    return {
        "id": t.id, "subject": t.subject, "status": t.status, "queue": t.queue, "priority": t.priority,
        "assignee": t.assignee, "customer": t.customer or None, "message_count": messages, "created_at": t.created_at,
        "updated_at": t.updated_at, "entitlement": t.entitlement_state, "plan": t.plan, "sla_clock": t.sla_clock,
        "deadline": t.sla_due_at, "clock_paused": t.sla_paused_at is not None, "first_response_at": t.first_response_at,
    }


def list_tickets(s: Session, args: argparse.Namespace, now: datetime) -> int:
    counted = s.execute(select(TicketMessage.ticket_id, func.count()).group_by(TicketMessage.ticket_id))
    counts = {ticket: n for ticket, n in counted}
    query = select(Ticket).order_by(Ticket.id.desc()).limit(args.limit)
    if args.status:
        query = query.where(Ticket.status == args.status)
    if args.due_within is not None or args.breached:
        query = query.where(clock_running())
        if args.breached:
            query = query.where(Ticket.sla_due_at <= now)
        if args.due_within is not None:
            upper = Ticket.sla_due_at <= now + args.due_within
            query = query.where(upper if args.breached else and_(upper, Ticket.sla_due_at > now))
        query = query.order_by(None).order_by(Ticket.sla_due_at, Ticket.id)
    rows = list(s.scalars(query).all())
    if args.due_within is None and not args.breached:
        rows.reverse()
    if args.json:
        echo(as_json([ticket_json(t, counts.get(t.id, 0)) for t in rows]))
        return 0
    echo(table(LIST_COLUMNS, [
        (t.id, t.status, t.queue, counts.get(t.id, 0), t.sla_due_at, t.customer or "-", t.subject) for t in rows
    ]))
    return 0


def show_json(s: Session, ticket: Ticket) -> dict[str, Any]:
    parts = s.scalars(select(Participant).where(Participant.ticket_id == ticket.id)).all()
    messages = []
    for m in ticket.messages:
        files = s.scalars(select(Attachment).where(Attachment.ticket_message_id == m.id)).all()
        messages.append({
            "id": m.id, "direction": m.direction, "author": m.author, "visibility": m.visibility, "sender": m.sender,
            "subject": m.subject, "message_id": m.message_id, "created_at": m.created_at, "text": m.text,
            "attachments": [{"filename": a.filename, "content_type": a.content_type, "disposition": a.disposition,
                             "size": a.size, "sha256": a.sha256} for a in files],
        })
    events = s.scalars(select(Event).where(Event.ticket_id == ticket.id).order_by(Event.id))
    return {
        **ticket_json(ticket, len(messages)),
        "participants": [{"address": p.address, "name": p.name, "role": p.role} for p in parts],
        "messages": messages,
        "events": [{"at": e.at, "kind": e.kind, "detail": e.detail} for e in events],
    }


def cmd_tickets(config: Config, args: argparse.Namespace) -> int:
    with opened_reader(config, args) as app:
        with unit_of_work(app.sessions) as s:
            if args.action == "list":
                return list_tickets(s, args, app.clock.now())
            ticket = s.get(Ticket, args.number)
            if ticket is None:
                print(f"no ticket #{args.number}", file=sys.stderr)
                return 1
            if args.json:
                echo(as_json(show_json(s, ticket)))
                return 0
            echo(f"Ticket #{ticket.id}: {ticket.subject}")
            echo(f"  status {ticket.status}, queue {ticket.queue}, priority {ticket.priority}, assignee {ticket.assignee or '-'}")
            echo(f"  customer {ticket.customer or '-'}; opened {ticket.created_at:%Y-%m-%d %H:%M} UTC")
            if ticket.sla_due_at is not None:
                paused = " (paused)" if ticket.sla_paused_at is not None else ""
                echo(f"  {ticket.sla_clock} response due {ticket.sla_due_at:%Y-%m-%d %H:%M} UTC{paused}")
            if ticket.suggested_class:
                echo(f"  suggested class {ticket.suggested_class} (rule {ticket.suggested_rule!r}): confirm or dismiss by mail (#scope out, #quote, #partnership, #scope in)")
            parts = s.scalars(select(Participant).where(Participant.ticket_id == ticket.id)).all()
            echo("  participants: " + ", ".join(f"{p.address} ({p.role})" for p in parts))
            for m in ticket.messages:
                who = m.sender or "(unknown sender)"
                echo(f"\n--- message {m.id} {m.direction} {m.author} from {who} at {m.created_at:%Y-%m-%d %H:%M} UTC")
                echo(f"    Subject: {m.subject}")
                if args.full and m.decoding:
                    for note in m.decoding:
                        echo(f"    decoded: {note}")
                for a in s.scalars(select(Attachment).where(Attachment.ticket_message_id == m.id)):
                    echo(f"    [{a.disposition}] {a.filename} ({a.content_type}, {a.size} bytes, sha256 {a.sha256[:12]})")
                lines = with_folds(m.text.strip()) if args.full and m.direction == "in" else m.text.strip().splitlines()
                if not args.full and len(lines) > 15:
                    lines = lines[:15] + [f"[… {len(lines) - 15} more lines; --full shows all]"]
                echo("    " + "\n    ".join(lines))
            echo("\nevents:")
            for e in s.scalars(select(Event).where(Event.ticket_id == ticket.id).order_by(Event.id)):
                echo(f"  {e.at:%Y-%m-%d %H:%M:%S} {e.kind}: {describe_event(e.detail, args.full)}")
            return 0


def register(sub: Any) -> None:
    p = sub.add_parser("tickets", help=command_help("tickets"))
    tsub = p.add_subparsers(dest="action", required=True)
    lp = tsub.add_parser("list", help="the latest tickets, or those whose response deadline is near or past")
    lp.add_argument("--status", choices=[st.value for st in TicketStatus])
    lp.add_argument("--limit", type=int, default=50)
    lp.add_argument("--due-within", type=span, metavar="SPAN", help="running deadlines due within SPAN (4h, 30m, 1d), soonest first")
    lp.add_argument("--breached", action="store_true", help="running deadlines already passed, oldest first")
    add_json_flag(lp)
    sp = tsub.add_parser("show", help="one ticket: its messages and event log")
    sp.add_argument("number", type=int)
    sp.add_argument("--full", action="store_true", help="print whole message texts, with what reply stripping folds marked")
    add_json_flag(sp)
    p.set_defaults(handler=cmd_tickets)
