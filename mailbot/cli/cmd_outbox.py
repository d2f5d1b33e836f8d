"""`mailbot outbox list|show|retry|release`: see and nudge outgoing mail."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import select

from mailbot.cli.app_session import opened_app
from mailbot.cli.command_list import command_help
from mailbot.cli.display import echo
from mailbot.config import Config
from mailbot.store.db import unit_of_work
from mailbot.store.journal import add_event
from mailbot.store.models import Outbox


def cmd_outbox(config: Config, args: argparse.Namespace) -> int:
    with opened_app(config, args) as app:
        now = app.clock.now()
        with unit_of_work(app.sessions) as s:
            if args.action == "list":
                query = select(Outbox).order_by(Outbox.id.desc()).limit(args.limit)
                if args.status:
                    query = query.where(Outbox.status == args.status)
                rows = list(s.scalars(query))[::-1]
                if not rows:
                    echo("outbox is empty" if not args.status else f"no {args.status} mail")
                for r in rows:
                    when = r.sent_at or r.next_attempt_at
                    err = f"  {r.last_error.splitlines()[0][:70]}" if r.last_error else ""
                    echo(f"{r.id:>6}  {r.status:<8} {r.kind:<10} #{r.ticket_id or '-':<6} {when:%Y-%m-%d %H:%M} tries {r.attempts}  {', '.join(r.recipients)}  {r.subject[:50]}{err}")
                return 0
            if not args.ids and not args.all:
                echo(f"outbox {args.action}: name the ids, or --all")
                return 2
            if args.action == "show":
                for row_id in args.ids:
                    row = s.get(Outbox, row_id)
                    if row is None:
                        echo(f"no outbox row {row_id}")
                        return 1
                    echo(f"outbox {row.id}: {row.status}, {row.kind}, ticket #{row.ticket_id}, tries {row.attempts}, error: {row.last_error or '-'}")
                    echo(f"envelope from {row.mail_from} to {', '.join(row.recipients)}\n")
                    echo(row.raw.decode("utf-8", "replace").replace("\r\n", "\n"))
                return 0
            wanted = {"retry": "failed", "release": "held"}[args.action]
            query = select(Outbox).where(Outbox.status == wanted)
            if not args.all:
                query = query.where(Outbox.id.in_(args.ids))
            rows = list(s.scalars(query))
            for row in rows:
                row.status, row.next_attempt_at = "queued", now
                if args.action == "retry":
                    row.attempts = 0
                    row.expires_at = now + (row.expires_at - row.created_at)
                add_event(s, row.ticket_id, f"mail.{args.action}d", now, outbox=row.id)
            echo(f"{len(rows)} message(s) queued to send")
            return 0


def register(sub: Any) -> None:
    p = sub.add_parser("outbox", help=command_help("outbox"))
    p.add_argument("action", choices=["list", "show", "retry", "release"])
    p.add_argument("ids", nargs="*", type=int)
    p.add_argument("--all", action="store_true", help="with retry/release: every failed/held message")
    p.add_argument("--status", choices=["queued", "held", "sent", "failed", "bounced"], help="with list")
    p.add_argument("--limit", type=int, default=50, help="with list")
    p.set_defaults(handler=cmd_outbox)
