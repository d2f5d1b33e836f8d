"""`mailbot tickets list|show`: tickets, their messages and their event log."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import func, select

from mailbot.cli.app_session import opened_app
from mailbot.cli.command_list import command_help
from mailbot.cli.display import echo, short
from mailbot.config import Config
from mailbot.core.quoting import strip_reply
from mailbot.store.db import unit_of_work
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


def cmd_tickets(config: Config, args: argparse.Namespace) -> int:
    with opened_app(config, args) as app:
        with unit_of_work(app.sessions) as s:
            if args.action == "list":
                counted = s.execute(select(TicketMessage.ticket_id, func.count()).group_by(TicketMessage.ticket_id))
                counts = {ticket: n for ticket, n in counted}
                query = select(Ticket).order_by(Ticket.id.desc()).limit(args.limit)
                if args.status:
                    query = query.where(Ticket.status == args.status)
                rows = s.scalars(query).all()
                echo(f"{'#':>6}  {'status':<8} {'queue':<10} {'msgs':>4}  {'customer':<30} subject")
                for t in reversed(rows):
                    echo(f"{t.id:>6}  {t.status:<8} {t.queue:<10} {counts.get(t.id, 0):>4}  {short(t.customer or '-', 30):<30} {short(t.subject, 60)}")
                return 0
            ticket = s.get(Ticket, args.number)
            if ticket is None:
                echo(f"no ticket #{args.number}")
                return 1
            echo(f"Ticket #{ticket.id}: {ticket.subject}")
            echo(f"  status {ticket.status}, queue {ticket.queue}, priority {ticket.priority}, assignee {ticket.assignee or '-'}")
            echo(f"  customer {ticket.customer or '-'}; opened {ticket.created_at:%Y-%m-%d %H:%M} UTC")
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
    lp = tsub.add_parser("list")
    lp.add_argument("--status")
    lp.add_argument("--limit", type=int, default=50)
    sp = tsub.add_parser("show")
    sp.add_argument("number", type=int)
    sp.add_argument("--full", action="store_true", help="print whole message texts, with what reply stripping folds marked")
    p.set_defaults(handler=cmd_tickets)
